"""Zengin (全銀協) transfer files: the 総合振込 format banks take for paying 児童手当.

Choice of format. The 全銀協 file for transfers has one layout and several category codes
(種別コード): 21 総合振込 (general transfer), 11/12 給与・賞与振込 (民間), 71/72 給与・賞与振込
(公務員). 児童手当 is a public benefit, not a salary, and most municipalities send it as 総合振込,
so :attr:`TransferKind.GENERAL` (21) is the default. A bank that takes benefit files as 給与振込
gets 11 or 71 from the same writer; in those layouts positions 112–113 (振込指定区分, 識別表示)
are unused, so they are written as spaces.

Layout. Four record types of 120 bytes each (field tables below, positions 1-based as the 全銀協
tables give them): header (1), data (2, one per payee), trailer (8: count and total), end (9).
Numeric fields (N) are right-aligned and zero-filled; text fields (C) are left-aligned and
space-filled. The character code is JIS X 0201 in its 8-bit form, written through cp932 (code
区分 0): digits, upper-case A–Z, half-width katakana with ﾞ and ﾟ, space and ``( ) . - / ,``. Names
come in as full-width katakana or hiragana and are converted (:func:`to_zengin_text`): small kana
become large (ｯ→ﾂ, as banks require), the long-vowel mark becomes ``-``, anything else outside the
set is refused with the characters named, never dropped or guessed.

Records are separated by CRLF by default (122 bytes a record with it); some banks take the file
without line endings (:attr:`LineEnding.NONE`). :func:`read_fields` and :func:`parse_transfer_file`
read a file back field by field, for tests and for reconciling what was sent.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from enum import IntEnum, StrEnum

import jaconv

from jichitai.platform.errors import ValidationError

RECORD_LENGTH = 120
ENCODING = "cp932"

_KANA = "".join(chr(code) for code in range(0xFF66, 0xFFA0) if chr(code) not in "ｧｨｩｪｫｬｭｮｯｰ")
ALLOWED_CHARACTERS = frozenset("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ ().-/," + _KANA)

# Small kana and old kana become their plain half-width forms; dashes become the hyphen.
_FOLD = str.maketrans(
    {
        "ｧ": "ｱ", "ｨ": "ｲ", "ｩ": "ｳ", "ｪ": "ｴ", "ｫ": "ｵ", "ｬ": "ﾔ", "ｭ": "ﾕ", "ｮ": "ﾖ", "ｯ": "ﾂ",
        "ｰ": "-", "−": "-", "‐": "-", "―": "-", "—": "-", "－": "-",
        "ヰ": "ｲ", "ヱ": "ｴ", "ヮ": "ﾜ", "ヵ": "ｶ", "ヶ": "ｹ", "\u3000": " ",
    }
)  # fmt: skip


class TransferKind(StrEnum):
    """種別コード."""

    GENERAL = "21"  # 総合振込
    SALARY = "11"  # 給与振込（民間）
    CIVIL_SERVICE_SALARY = "71"  # 給与振込（公務員）


class AccountType(IntEnum):
    """預金種目."""

    ORDINARY = 1  # 普通
    CURRENT = 2  # 当座
    SAVINGS = 4  # 貯蓄


class LineEnding(StrEnum):
    CRLF = "\r\n"
    NONE = ""


@dataclass(frozen=True)
class Field:
    name: str
    name_ja: str
    length: int
    numeric: bool

    def render(self, value: str) -> str:
        if len(value) > self.length:
            raise ValidationError(
                f"{self.name} is longer than {self.length}: {value!r}",
                message_ja=f"{self.name_ja}が{self.length}桁を超えています",
            )
        return value.rjust(self.length, "0") if self.numeric else value.ljust(self.length, " ")


def _layout(*fields: Field) -> tuple[Field, ...]:
    assert sum(f.length for f in fields) == RECORD_LENGTH, [f.name for f in fields]
    return fields


N, C = True, False
HEADER_LAYOUT = _layout(
    Field("record_type", "データ区分", 1, N),  # 1
    Field("kind", "種別コード", 2, N),  # 2-3
    Field("code_type", "コード区分", 1, N),  # 4
    Field("requester_code", "依頼人コード", 10, N),  # 5-14
    Field("requester_name", "依頼人名", 40, C),  # 15-54
    Field("transfer_date", "振込指定日", 4, N),  # 55-58 MMDD
    Field("bank_code", "仕向銀行番号", 4, N),  # 59-62
    Field("bank_name", "仕向銀行名", 15, C),  # 63-77
    Field("branch_code", "仕向支店番号", 3, N),  # 78-80
    Field("branch_name", "仕向支店名", 15, C),  # 81-95
    Field("account_type", "預金種目（依頼人）", 1, N),  # 96
    Field("account_number", "口座番号（依頼人）", 7, N),  # 97-103
    Field("dummy", "ダミー", 17, C),  # 104-120
)
DATA_LAYOUT = _layout(
    Field("record_type", "データ区分", 1, N),  # 1
    Field("bank_code", "被仕向銀行番号", 4, N),  # 2-5
    Field("bank_name", "被仕向銀行名", 15, C),  # 6-20
    Field("branch_code", "被仕向支店番号", 3, N),  # 21-23
    Field("branch_name", "被仕向支店名", 15, C),  # 24-38
    Field("clearing_house", "手形交換所番号", 4, N),  # 39-42 (unused: 0000)
    Field("account_type", "預金種目", 1, N),  # 43
    Field("account_number", "口座番号", 7, N),  # 44-50
    Field("payee_name", "受取人名", 30, C),  # 51-80
    Field("amount", "振込金額", 10, N),  # 81-90
    Field("new_code", "新規コード", 1, N),  # 91
    Field("customer_code_1", "顧客コード1", 10, C),  # 92-101 (EDI情報 1-10 when 識別表示 Y)
    Field("customer_code_2", "顧客コード2", 10, C),  # 102-111 (EDI情報 11-20)
    Field("transfer_class", "振込指定区分", 1, C),  # 112: 7 電信, 8 文書
    Field("edi_flag", "識別表示", 1, C),  # 113: Y = EDI情報
    Field("dummy", "ダミー", 7, C),  # 114-120
)
TRAILER_LAYOUT = _layout(
    Field("record_type", "データ区分", 1, N),  # 1
    Field("total_count", "合計件数", 6, N),  # 2-7
    Field("total_amount", "合計金額", 12, N),  # 8-19
    Field("dummy", "ダミー", 101, C),  # 20-120
)
END_LAYOUT = _layout(Field("record_type", "データ区分", 1, N), Field("dummy", "ダミー", 119, C))
LAYOUTS = {"1": HEADER_LAYOUT, "2": DATA_LAYOUT, "8": TRAILER_LAYOUT, "9": END_LAYOUT}


def to_zengin_text(value: str, *, field_ja: str, max_length: int) -> str:
    """Convert a name to the Zengin character set, or refuse it naming the characters at fault.

    Hiragana and full-width katakana become half-width katakana (濁点 and 半濁点 take a character of
    their own, so ガ counts as two), full-width letters and digits become ASCII, letters upper-case.
    """
    text = jaconv.z2h(jaconv.hira2kata(value.translate(_FOLD)), kana=True, ascii=True, digit=True)
    text = text.translate(_FOLD).upper().strip()
    bad = sorted({ch for ch in text if ch not in ALLOWED_CHARACTERS})
    if bad:
        shown = " ".join(f"{ch!r}(U+{ord(ch):04X})" for ch in bad)
        raise ValidationError(
            f"{field_ja} has characters the Zengin format does not allow: {shown}",
            hint="use katakana, A-Z, digits, space and ( ) . - / , only",
            message_ja=f"{field_ja}に全銀フォーマットで使えない文字があります: {' '.join(bad)}",
        )
    if len(text) > max_length:
        raise ValidationError(
            f"{field_ja} is {len(text)} half-width characters, more than {max_length}: {text!r}",
            message_ja=f"{field_ja}が半角{max_length}文字を超えています（{len(text)}文字）",
        )
    return text


def _digits(value: str, length: int, field_ja: str) -> str:
    if len(value) != length or not value.isascii() or not value.isdigit():
        raise ValidationError(
            f"{field_ja} must be {length} digits, got {value!r}",
            message_ja=f"{field_ja}は{length}桁の数字で入力してください",
        )
    return value


def _account_type(value: int) -> AccountType:
    try:
        return AccountType(value)
    except ValueError:
        raise ValidationError(
            f"account type must be 1, 2 or 4, got {value!r}",
            message_ja="預金種目は普通(1)・当座(2)・貯蓄(4)のいずれかです",
        ) from None


def _set(obj: object, name: str, value: object) -> None:
    object.__setattr__(obj, name, value)  # normalizing inside a frozen dataclass's __post_init__


@dataclass(frozen=True)
class Header:
    """ヘッダー・レコード: who pays (依頼人: the municipality) from which account, on which day."""

    requester_code: (
        str  # 依頼人コード: the 委託者コード the bank assigned (up to 10 digits, kept zero-filled)
    )
    requester_name: str  # 依頼人名 (kana, ≤ 40)
    transfer_date: date  # 振込指定日 (written MMDD)
    bank_code: str  # 仕向銀行番号 (4 digits)
    branch_code: str  # 仕向支店番号 (3 digits)
    account_type: AccountType  # 預金種目（依頼人）
    account_number: str  # 口座番号（依頼人）(7 digits)
    bank_name: str = ""
    branch_name: str = ""
    kind: TransferKind = TransferKind.GENERAL

    def __post_init__(self) -> None:
        code = self.requester_code
        if not (code.isascii() and code.isdigit() and 1 <= len(code) <= 10):
            raise ValidationError(
                f"requester code must be up to 10 digits, got {code!r}",
                message_ja="依頼人コードは10桁以内の数字で入力してください",
            )
        _set(self, "requester_code", code.rjust(10, "0"))
        _digits(self.bank_code, 4, "仕向銀行番号")
        _digits(self.branch_code, 3, "仕向支店番号")
        _digits(self.account_number, 7, "口座番号（依頼人）")
        _set(self, "account_type", _account_type(self.account_type))
        _set(self, "requester_name", to_zengin_text(self.requester_name, field_ja="依頼人名", max_length=40))
        _set(self, "bank_name", to_zengin_text(self.bank_name, field_ja="仕向銀行名", max_length=15))
        _set(self, "branch_name", to_zengin_text(self.branch_name, field_ja="仕向支店名", max_length=15))


@dataclass(frozen=True)
class TransferRecord:
    """データ・レコード: one payee's account and amount.

    ``customer_code_1`` / ``customer_code_2`` (顧客コード, up to 10 digits each, kept zero-filled)
    carry our own reference, e.g. the 受給者番号, so a returned transfer can be matched; or ``edi`` (up to 20
    characters, 識別表示 Y) carries it as EDI information to the payee's statement.
    """

    bank_code: str  # 被仕向銀行番号 (4 digits)
    branch_code: str  # 被仕向支店番号 (3 digits)
    account_type: AccountType
    account_number: str  # 7 digits
    payee_name: str  # 受取人名 (the account holder's name in kana, ≤ 30 half-width)
    amount: int  # 振込金額 (yen)
    bank_name: str = ""
    branch_name: str = ""
    new_code: str = "0"  # 新規コード: 1 first transfer, 2 changed, 0 other
    customer_code_1: str = ""
    customer_code_2: str = ""
    edi: str | None = None
    transfer_class: str = "7"  # 振込指定区分: 7 電信, 8 文書

    def __post_init__(self) -> None:
        _digits(self.bank_code, 4, "被仕向銀行番号")
        _digits(self.branch_code, 3, "被仕向支店番号")
        _digits(self.account_number, 7, "口座番号")
        _set(self, "account_type", _account_type(self.account_type))
        _set(self, "payee_name", to_zengin_text(self.payee_name, field_ja="受取人名", max_length=30))
        if not self.payee_name:
            raise ValidationError("payee name is empty", message_ja="受取人名がありません")
        _set(self, "bank_name", to_zengin_text(self.bank_name, field_ja="被仕向銀行名", max_length=15))
        _set(self, "branch_name", to_zengin_text(self.branch_name, field_ja="被仕向支店名", max_length=15))
        if isinstance(self.amount, bool) or not 0 < self.amount < 10**10:
            raise ValidationError(
                f"amount must be 1 to 9,999,999,999 yen, got {self.amount!r}",
                message_ja="振込金額が正しくありません",
            )
        if self.new_code not in {"0", "1", "2"}:
            raise ValidationError(
                f"new code must be 0, 1 or 2, got {self.new_code!r}", message_ja="新規コードが不正です"
            )
        if self.transfer_class not in {"7", "8"}:
            raise ValidationError(
                f"transfer class must be 7 or 8, got {self.transfer_class!r}",
                message_ja="振込指定区分が不正です",
            )
        for name, ja in (("customer_code_1", "顧客コード1"), ("customer_code_2", "顧客コード2")):
            value = getattr(self, name)
            if value and not (value.isascii() and value.isdigit() and len(value) <= 10):
                raise ValidationError(
                    f"{name} must be up to 10 digits", message_ja=f"{ja}は10桁以内の数字です"
                )
            if value:
                _set(self, name, value.rjust(10, "0"))
        if self.edi is not None:
            if self.customer_code_1 or self.customer_code_2:
                raise ValidationError(
                    "EDI information replaces the customer codes",
                    message_ja="EDI情報と顧客コードは併用できません",
                )
            _set(self, "edi", to_zengin_text(self.edi, field_ja="EDI情報", max_length=20))


@dataclass(frozen=True)
class TransferFile:
    """A whole file as read back: header, data records, and the trailer's count and total."""

    header: Header
    records: tuple[TransferRecord, ...]
    total_count: int
    total_amount: int
    line_ending: LineEnding = field(default=LineEnding.CRLF)


def _render(layout: tuple[Field, ...], values: dict[str, str]) -> bytes:
    text = "".join(f.render(values.get(f.name, "")) for f in layout)
    encoded = text.encode(ENCODING)
    if len(encoded) != RECORD_LENGTH:  # every allowed character is one byte; this guards the layout
        raise ValidationError(f"record is {len(encoded)} bytes, not {RECORD_LENGTH}")
    return encoded


def header_record(header: Header) -> bytes:
    return _render(
        HEADER_LAYOUT,
        {
            "record_type": "1",
            "kind": header.kind.value,
            "code_type": "0",  # 0 = JIS
            "requester_code": header.requester_code,
            "requester_name": header.requester_name,
            "transfer_date": header.transfer_date.strftime("%m%d"),
            "bank_code": header.bank_code,
            "bank_name": header.bank_name,
            "branch_code": header.branch_code,
            "branch_name": header.branch_name,
            "account_type": str(int(header.account_type)),
            "account_number": header.account_number,
        },
    )


def data_record(record: TransferRecord, kind: TransferKind = TransferKind.GENERAL) -> bytes:
    general = kind is TransferKind.GENERAL
    if record.edi is not None:
        code_1, code_2 = record.edi[:10], record.edi[10:]
    else:
        code_1, code_2 = record.customer_code_1, record.customer_code_2
    return _render(
        DATA_LAYOUT,
        {
            "record_type": "2",
            "bank_code": record.bank_code,
            "bank_name": record.bank_name,
            "branch_code": record.branch_code,
            "branch_name": record.branch_name,
            "clearing_house": "0000",
            "account_type": str(int(record.account_type)),
            "account_number": record.account_number,
            "payee_name": record.payee_name,
            "amount": str(record.amount),
            "new_code": record.new_code,
            "customer_code_1": code_1,
            "customer_code_2": code_2,
            "transfer_class": record.transfer_class if general else "",
            "edi_flag": "Y" if record.edi is not None and general else "",
        },
    )


def trailer_record(count: int, total: int) -> bytes:
    if count > 999_999 or total >= 10**12:
        raise ValidationError(
            f"{count} records / {total} yen do not fit the trailer; split the file",
            message_ja="件数または合計金額がトレーラーの桁数を超えています。ファイルを分割してください",
        )
    return _render(
        TRAILER_LAYOUT, {"record_type": "8", "total_count": str(count), "total_amount": str(total)}
    )


def end_record() -> bytes:
    return _render(END_LAYOUT, {"record_type": "9"})


def write_transfer_file(
    header: Header, records: Sequence[TransferRecord], *, line_ending: LineEnding = LineEnding.CRLF
) -> bytes:
    """The whole file: header, one data record per payee, trailer with count and total, end."""
    if not records:
        raise ValidationError(
            "a transfer file needs at least one record", message_ja="振込データがありません"
        )
    body = [header_record(header)]
    body.extend(data_record(record, header.kind) for record in records)
    body.append(trailer_record(len(records), sum(record.amount for record in records)))
    body.append(end_record())
    eol = line_ending.value.encode("ascii")
    return b"".join(record + eol for record in body)


def split_records(data: bytes) -> tuple[list[bytes], LineEnding]:
    """Cut a file into 120-byte records, with or without CRLF after each."""
    if data[RECORD_LENGTH : RECORD_LENGTH + 2] == b"\r\n":
        step, ending = RECORD_LENGTH + 2, LineEnding.CRLF
    else:
        step, ending = RECORD_LENGTH, LineEnding.NONE
    if len(data) % step:
        raise ValidationError(
            f"file length {len(data)} is not a whole number of {step}-byte records",
            message_ja="ファイルの長さがレコード長の倍数ではありません",
        )
    records = [data[start : start + RECORD_LENGTH] for start in range(0, len(data), step)]
    if ending is LineEnding.CRLF and any(
        data[i + RECORD_LENGTH : i + step] != b"\r\n" for i in range(0, len(data), step)
    ):
        raise ValidationError(
            "line endings are not CRLF after every record", message_ja="改行コードが不正です"
        )
    return records, ending


def read_fields(data: bytes) -> list[dict[str, str]]:
    """Each record as ``{field name: text as written}``, padding included (for field-by-field checks)."""
    records, _ = split_records(data)
    result = []
    for number, raw in enumerate(records, start=1):
        text = raw.decode(ENCODING)
        layout = LAYOUTS.get(text[:1])
        if layout is None:
            raise ValidationError(
                f"record {number}: unknown record type {text[:1]!r}", message_ja="データ区分が不正です"
            )
        values, position = {}, 0
        for f in layout:
            values[f.name] = text[position : position + f.length]
            position += f.length
        result.append(values)
    return result


def parse_transfer_file(data: bytes, *, year: int) -> TransferFile:
    """Read a file back and check its structure and totals; ``year`` completes the MMDD date."""
    try:
        return _parse(data, year)
    except ValueError as error:  # digits where digits belong, a real date, a known code
        raise ValidationError(
            f"malformed transfer file: {error}", message_ja="振込ファイルの項目が不正です"
        ) from error


def _parse(data: bytes, year: int) -> TransferFile:
    _, ending = split_records(data)
    rows = read_fields(data)
    types = "".join(row["record_type"] for row in rows)
    if len(types) < 4 or types[0] != "1" or types[-2:] != "89" or set(types[1:-2]) != {"2"}:
        raise ValidationError(
            f"records must be 1, 2..., 8, 9; found {types[:20]!r}", message_ja="レコードの並びが不正です"
        )
    head, *data_rows, trailer, _end = rows
    header = Header(
        requester_code=head["requester_code"],
        requester_name=head["requester_name"].rstrip(),
        transfer_date=date(year, int(head["transfer_date"][:2]), int(head["transfer_date"][2:])),
        bank_code=head["bank_code"],
        branch_code=head["branch_code"],
        account_type=_account_type(int(head["account_type"])),
        account_number=head["account_number"],
        bank_name=head["bank_name"].rstrip(),
        branch_name=head["branch_name"].rstrip(),
        kind=TransferKind(head["kind"]),
    )
    transfers = []
    for row in data_rows:
        edi = row["edi_flag"] == "Y"
        transfers.append(
            TransferRecord(
                bank_code=row["bank_code"],
                branch_code=row["branch_code"],
                account_type=_account_type(int(row["account_type"])),
                account_number=row["account_number"],
                payee_name=row["payee_name"].rstrip(),
                amount=int(row["amount"]),
                bank_name=row["bank_name"].rstrip(),
                branch_name=row["branch_name"].rstrip(),
                new_code=row["new_code"],
                customer_code_1="" if edi else row["customer_code_1"].strip(),
                customer_code_2="" if edi else row["customer_code_2"].strip(),
                edi=(row["customer_code_1"] + row["customer_code_2"]).rstrip() if edi else None,
                transfer_class=row["transfer_class"] if header.kind is TransferKind.GENERAL else "7",
            )
        )
    count, total = int(trailer["total_count"]), int(trailer["total_amount"])
    actual_total = sum(t.amount for t in transfers)
    if count != len(transfers) or total != actual_total:
        raise ValidationError(
            f"trailer says {count} records / {total} yen; data has {len(transfers)} / {actual_total}",
            message_ja="トレーラーの合計件数・合計金額がデータレコードと一致しません",
        )
    return TransferFile(header, tuple(transfers), count, total, ending)
