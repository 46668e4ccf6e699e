"""The Zengin 総合振込 file, field by field."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jichitai.mynumber.child_allowance.zengin import (
    AccountType,
    Header,
    LineEnding,
    TransferKind,
    TransferRecord,
    parse_transfer_file,
    read_fields,
    to_zengin_text,
    trailer_record,
    write_transfer_file,
)
from jichitai.platform.errors import ValidationError


def municipality(kind: TransferKind = TransferKind.GENERAL) -> Header:
    return Header(
        requester_code="1234567",
        requester_name="チヨダク",
        transfer_date=date(2025, 6, 10),
        bank_code="0001",
        bank_name="ミズホ",
        branch_code="046",
        branch_name="コウジマチ",
        account_type=AccountType.ORDINARY,
        account_number="1234567",
        kind=kind,
    )


def payee(**changes: object) -> TransferRecord:
    fields: dict[str, object] = {
        "bank_code": "0005",
        "bank_name": "ミツビシユーエフジェイ",
        "branch_code": "001",
        "branch_name": "ホンテン",
        "account_type": AccountType.ORDINARY,
        "account_number": "7654321",
        "payee_name": "やまだ　たろう",
        "amount": 40_000,
        "customer_code_1": "123",
    }
    fields.update(changes)
    return TransferRecord(**fields)  # type: ignore[arg-type]


def cp(text: str) -> bytes:
    return text.encode("cp932")


def test_every_record_is_120_bytes_with_crlf_between() -> None:
    data = write_transfer_file(municipality(), [payee(), payee(amount=15_000)])
    assert len(data) == 5 * 122
    lines = data.split(b"\r\n")
    assert lines[-1] == b""
    assert [len(line) for line in lines[:-1]] == [120] * 5
    assert [line[:1] for line in lines[:-1]] == [b"1", b"2", b"2", b"8", b"9"]


def test_without_line_endings() -> None:
    data = write_transfer_file(municipality(), [payee()], line_ending=LineEnding.NONE)
    assert len(data) == 4 * 120
    assert b"\r" not in data and b"\n" not in data
    assert parse_transfer_file(data, year=2025).line_ending is LineEnding.NONE


def test_header_positions() -> None:
    header = write_transfer_file(municipality(), [payee()])[:120]
    assert header[0:1] == b"1"  # データ区分
    assert header[1:3] == b"21"  # 種別コード 総合振込
    assert header[3:4] == b"0"  # コード区分 JIS
    assert header[4:14] == b"0001234567"  # 依頼人コード, zero-filled
    assert header[14:54] == cp("ﾁﾖﾀﾞｸ").ljust(40)  # 依頼人名
    assert header[54:58] == b"0610"  # 振込指定日 MMDD
    assert header[58:62] == b"0001"
    assert header[62:77] == cp("ﾐｽﾞﾎ").ljust(15)
    assert header[77:80] == b"046"
    assert header[80:95] == cp("ｺｳｼﾞﾏﾁ").ljust(15)
    assert header[95:96] == b"1"
    assert header[96:103] == b"1234567"
    assert header[103:120] == b" " * 17


def test_data_record_positions() -> None:
    record = write_transfer_file(municipality(), [payee()]).split(b"\r\n")[1]
    assert record[0:1] == b"2"
    assert record[1:5] == b"0005"  # 被仕向銀行番号
    assert record[5:20] == cp("ﾐﾂﾋﾞｼﾕ-ｴﾌｼﾞｴｲ").ljust(15)  # small kana made large, ー → -
    assert record[20:23] == b"001"
    assert record[23:38] == cp("ﾎﾝﾃﾝ").ljust(15)
    assert record[38:42] == b"0000"  # 手形交換所番号 (unused)
    assert record[42:43] == b"1"  # 預金種目 普通
    assert record[43:50] == b"7654321"
    assert record[50:80] == b"\xd4\xcf\xc0\xde \xc0\xdb\xb3".ljust(30)  # ﾔﾏﾀﾞ ﾀﾛｳ in JIS X 0201
    assert record[80:90] == b"0000040000"  # 振込金額
    assert record[90:91] == b"0"  # 新規コード
    assert record[91:101] == b"0000000123"  # 顧客コード1
    assert record[101:111] == b" " * 10  # 顧客コード2 not used
    assert record[111:112] == b"7"  # 振込指定区分 電信
    assert record[112:113] == b" "  # 識別表示: no EDI
    assert record[113:120] == b" " * 7


def test_trailer_and_end_records() -> None:
    lines = write_transfer_file(municipality(), [payee(), payee(amount=15_000), payee(amount=30_000)]).split(
        b"\r\n"
    )
    trailer, end = lines[4], lines[5]
    assert trailer[0:1] == b"8"
    assert trailer[1:7] == b"000003"  # 合計件数
    assert trailer[7:19] == b"000000085000"  # 合計金額
    assert trailer[19:120] == b" " * 101
    assert end == b"9" + b" " * 119


def test_edi_information_uses_the_customer_code_area() -> None:
    record = write_transfer_file(municipality(), [payee(customer_code_1="", edi="ｼﾞﾄﾞｳﾃｱﾃ R7-6")]).split(
        b"\r\n"
    )[1]
    assert record[91:111] == cp("ｼﾞﾄﾞｳﾃｱﾃ R7-6").ljust(20)
    assert record[112:113] == b"Y"


def test_salary_kind_leaves_the_general_transfer_fields_blank() -> None:
    data = write_transfer_file(municipality(TransferKind.CIVIL_SERVICE_SALARY), [payee()])
    assert data[1:3] == b"71"
    assert data.split(b"\r\n")[1][111:113] == b"  "


def test_read_fields_gives_each_field_as_written() -> None:
    rows = read_fields(write_transfer_file(municipality(), [payee()]))
    assert rows[0]["transfer_date"] == "0610"
    assert rows[1]["payee_name"].rstrip() == "ﾔﾏﾀﾞ ﾀﾛｳ"
    assert rows[1]["amount"] == "0000040000"
    assert rows[2]["total_count"] == "000001"


def test_round_trip() -> None:
    header = municipality()
    records = [
        payee(),
        payee(amount=15_000, new_code="1", customer_code_2="42"),
        payee(edi="ABC", customer_code_1=""),
    ]
    parsed = parse_transfer_file(write_transfer_file(header, records), year=2025)
    assert parsed.header == header
    assert parsed.records == tuple(records)
    assert records[1].customer_code_2 == "0000000042"  # kept in the form written
    assert (parsed.total_count, parsed.total_amount) == (3, 95_000)


def test_tampered_totals_are_refused() -> None:
    data = bytearray(write_transfer_file(municipality(), [payee()]))
    trailer = 2 * 122  # header, one data record, then the trailer
    data[trailer + 7 : trailer + 19] = b"000000040001"
    with pytest.raises(ValidationError, match="trailer says 1 records / 40001 yen"):
        parse_transfer_file(bytes(data), year=2025)
    data = bytearray(write_transfer_file(municipality(), [payee()]))
    data[trailer + 1 : trailer + 7] = b"000002"
    with pytest.raises(ValidationError, match="trailer"):
        parse_transfer_file(bytes(data), year=2025)


def test_broken_files_are_refused() -> None:
    data = write_transfer_file(municipality(), [payee()])
    with pytest.raises(ValidationError, match="whole number"):
        parse_transfer_file(data[:-1], year=2025)
    with pytest.raises(ValidationError, match=r"records must be 1, 2\.\.\., 8, 9"):
        parse_transfer_file(data[122:] + data[:122], year=2025)
    bad_digits = bytearray(data)
    bad_digits[122 + 80 : 122 + 90] = b"00000A0000"  # amount
    with pytest.raises(ValidationError, match="malformed"):
        parse_transfer_file(bytes(bad_digits), year=2025)
    with pytest.raises(ValidationError, match="unknown record type"):
        read_fields(b"5" + data[1:])


# --- characters -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given_name", "expected"),
    [
        ("やまだ　たろう", "ﾔﾏﾀﾞ ﾀﾛｳ"),
        ("サトウ ジョウジ", "ｻﾄｳ ｼﾞﾖｳｼﾞ"),  # small ョ becomes ﾖ
        ("ﾊﾟｰｸ", "ﾊﾟ-ｸ"),
        ("ｽﾐｽ john", "ｽﾐｽ JOHN"),
        ("カ）ＡＢＣ．", "ｶ)ABC."),
        ("ヴィヱ", "ｳﾞｲｴ"),
    ],
)
def test_names_are_converted_to_half_width(given_name: str, expected: str) -> None:
    assert to_zengin_text(given_name, field_ja="受取人名", max_length=30) == expected


@pytest.mark.parametrize("bad", ["山田太郎", "Müller", "ヤマダ＊タロウ", "ﾔﾏﾀﾞ_ﾀﾛｳ", "ヤマダ・タロウ"])
def test_characters_outside_the_set_are_refused_with_the_reason(bad: str) -> None:
    with pytest.raises(ValidationError, match="does not allow") as caught:
        payee(payee_name=bad)
    assert caught.value.message_ja is not None and "全銀" in caught.value.message_ja


def test_name_longer_than_30_half_width_characters_is_refused() -> None:
    payee(payee_name="ア" * 30)
    with pytest.raises(ValidationError, match="more than 30"):
        payee(payee_name="ア" * 31)
    with pytest.raises(ValidationError, match="more than 30"):
        payee(payee_name="ガ" * 16)  # 濁点 takes its own character: 32


@pytest.mark.parametrize(
    "change",
    [
        {"bank_code": "123"},
        {"bank_code": "12345"},
        {"branch_code": "12a"},
        {"account_number": "123456"},
        {"account_number": "12345678"},
        {"account_number": "１２３４５６７"},
        {"account_type": 3},
        {"amount": 0},
        {"amount": 10**10},
        {"payee_name": "　"},
        {"new_code": "5"},
        {"customer_code_1": "12345678901"},
        {"edi": "X"},  # with customer code 1 still set
    ],
)
def test_account_fields_are_validated(change: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        payee(**change)


def test_trailer_refuses_totals_that_do_not_fit() -> None:
    with pytest.raises(ValidationError, match="split the file"):
        trailer_record(1_000_000, 1)
    with pytest.raises(ValidationError, match="split the file"):
        trailer_record(1, 10**12)


def test_an_empty_file_is_refused() -> None:
    with pytest.raises(ValidationError):
        write_transfer_file(municipality(), [])


kana_names = st.text(
    alphabet="アイウエオカキクケコガギグゲゴサシスセソタチツテトナニヌネノ"
    + "ハバパマミムメモヤユヨラリルレロワン ",
    min_size=1,
    max_size=14,
).filter(str.strip)


@settings(max_examples=40, deadline=None)
@given(
    items=st.lists(
        st.tuples(
            st.from_regex(r"\A[0-9]{4}\Z"),
            st.from_regex(r"\A[0-9]{3}\Z"),
            st.sampled_from(list(AccountType)),
            st.from_regex(r"\A[0-9]{7}\Z"),
            kana_names,
            st.integers(min_value=1, max_value=9_999_999_999),
        ),
        min_size=1,
        max_size=8,
    ),
    ending=st.sampled_from(list(LineEnding)),
)
def test_any_valid_batch_writes_fixed_width_records_with_totals_that_check(
    items: list[tuple[str, str, AccountType, str, str, int]], ending: LineEnding
) -> None:
    records = [
        TransferRecord(bank, branch, kind, number, name, amount)
        for bank, branch, kind, number, name, amount in items
    ]
    data = write_transfer_file(municipality(), records, line_ending=ending)
    width = 120 + len(ending.value)
    assert len(data) == width * (len(records) + 3)
    parsed = parse_transfer_file(data, year=2025)
    assert parsed.records == tuple(records)
    assert parsed.total_amount == sum(amount for *_, amount in items)
    assert parsed.total_count == len(records)
