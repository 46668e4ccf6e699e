"""Validators for identifiers and codes that residents type into forms.

Each validator comes as a pair: ``normalize_*`` turns what people actually type (full-width digits,
hyphens, half-width kana) into one canonical spelling, and ``is_valid_*`` says whether a value is
acceptable. Validators never raise on bad input; they answer ``False`` (or list the problems) so
form validation can show one Japanese message per field.

- 個人番号 (``individual_number``, My Number): 12 digits, the last a check digit computed by the rule
  of 行政手続における特定の個人を識別するための番号の利用等に関する法律施行令 第8条.
- 郵便番号 (``postal_code``): 7 digits, written ``100-0001`` or ``1000001``.
- 電話番号 (``phone_jp``): Japanese numbers of 10 or 11 digits starting with 0, hyphens optional.
- 口座 (``bank_account``): 金融機関コード 4 digits, 支店コード 3 digits, 預金種目, 口座番号 7 digits,
  口座名義 in katakana as banks accept it (全銀協 character set, stored half-width).
- カタカナ (``katakana``): フリガナ fields, full-width katakana with spaces, ー and ・.
"""

from __future__ import annotations

import operator
import re
import unicodedata
from collections.abc import Mapping
from typing import Final

import jaconv

_TO_ASCII_DIGITS: Final = str.maketrans("０１２３４５６７８９－ー―‐−（）　", "0123456789-----() ")


def _ascii_digits(text: str) -> str:
    """Full-width digits and the dashes people type in Japanese IMEs become ASCII."""
    return unicodedata.normalize("NFC", text).translate(_TO_ASCII_DIGITS).strip()


# --- 個人番号 -----------------------------------------------------------------------------------

_INDIVIDUAL_NUMBER: Final = re.compile(r"^\d{12}\Z", re.ASCII)


# the weights Qn listed left to right (n = 11 … 1), and what the ASCII codes of the digits (each
# the digit plus 48) add to the weighted sum: the sum then takes one C-level pass over the bytes,
# which matters when a migration checks millions of numbers
_INDIVIDUAL_NUMBER_WEIGHTS: Final = tuple(n + 1 if n <= 6 else n - 5 for n in range(11, 0, -1))
_INDIVIDUAL_NUMBER_ASCII_OFFSET: Final = 48 * sum(_INDIVIDUAL_NUMBER_WEIGHTS)


def individual_number_check_digit(first_eleven: str) -> int:
    """The check digit (検査用数字) of a 個人番号 from its first 11 digits.

    Per 番号法施行令 第8条: with Pn the n-th digit counted from the right of the 11 digits and
    Qn = n + 1 for 1 ≤ n ≤ 6 and n − 5 for 7 ≤ n ≤ 11, let r = Σ Pn·Qn mod 11; the check digit
    is 0 when r ≤ 1, otherwise 11 − r.
    """
    if len(first_eleven) != 11 or not first_eleven.isascii() or not first_eleven.isdigit():
        raise ValueError(f"expected 11 ASCII digits, got {first_eleven!r}")
    total = (
        sum(map(operator.mul, first_eleven.encode(), _INDIVIDUAL_NUMBER_WEIGHTS))
        - _INDIVIDUAL_NUMBER_ASCII_OFFSET
    )
    remainder = total % 11
    return 0 if remainder <= 1 else 11 - remainder


def normalize_individual_number(text: str) -> str:
    """Drop spaces and hyphens (people copy ``1234 5678 9018`` from the card) and widen nothing else."""
    return re.sub(r"[\s-]", "", _ascii_digits(text))


def individual_number_has_twelve_digits(text: str) -> bool:
    return bool(_INDIVIDUAL_NUMBER.match(normalize_individual_number(text)))


def is_valid_individual_number(text: str) -> bool:
    """Twelve digits whose last digit is the correct check digit."""
    number = normalize_individual_number(text)
    if not _INDIVIDUAL_NUMBER.match(number):
        return False
    return individual_number_check_digit(number[:11]) == int(number[11])


# --- 郵便番号 -----------------------------------------------------------------------------------

_POSTAL: Final = re.compile(r"^(\d{3})-?(\d{4})\Z", re.ASCII)


def is_valid_postal_code(text: str) -> bool:
    """``100-0001`` or ``1000001`` (full-width digits accepted)."""
    return bool(_POSTAL.match(_ascii_digits(text)))


def normalize_postal_code(text: str) -> str:
    """The ``NNN-NNNN`` spelling; the input is returned unchanged when it is not a postal code."""
    m = _POSTAL.match(_ascii_digits(text))
    return f"{m[1]}-{m[2]}" if m else text


# --- 電話番号 -----------------------------------------------------------------------------------

# 10 digits: fixed lines (0AB-CDE-FGHJ) and 0120/0570 numbers. 11 digits: 020/050/060/070/080/090
# and 0800 numbers, which all have 0 as their third digit.
_PHONE_10: Final = re.compile(r"^0[1-9]\d{8}\Z", re.ASCII)
_PHONE_11: Final = re.compile(r"^0[2-9]0\d{8}\Z", re.ASCII)
_PHONE_SHAPE: Final = re.compile(r"^\(?\d+\)?(?:[-\s]?\(?\d+\)?)*\Z", re.ASCII)


def _phone_digits(text: str) -> str | None:
    t = _ascii_digits(text)
    if not _PHONE_SHAPE.match(t):
        return None
    return re.sub(r"[-\s()]", "", t)


def is_valid_phone_jp(text: str) -> bool:
    """A Japanese phone number: 10 or 11 digits starting with 0, hyphens or parentheses optional."""
    digits = _phone_digits(text)
    if digits is None:
        return False
    return bool(_PHONE_10.match(digits) or _PHONE_11.match(digits))


def normalize_phone_jp(text: str) -> str:
    """ASCII digits, hyphens kept where the resident put them (they carry the area-code split)."""
    if not is_valid_phone_jp(text):
        return text
    return re.sub(r"\s+", "-", _ascii_digits(text).replace("(", "").replace(")", "-")).strip("-")


# --- カタカナ -----------------------------------------------------------------------------------

_KATAKANA: Final = re.compile(r"^[\u30a1-\u30fa\u30fc\u30fb\u30fd\u30fe \u3000]+$")


def normalize_katakana(text: str) -> str:
    """Half-width katakana become full-width; the result is NFC and trimmed."""
    widened = jaconv.h2z(unicodedata.normalize("NFC", text), kana=True, ascii=False, digit=False)
    return unicodedata.normalize("NFC", widened).strip()


def is_katakana(text: str) -> bool:
    """Full-width katakana only (with ー, ・ and spaces), as フリガナ fields ask for.

    Apply :func:`normalize_katakana` first to also accept half-width input.
    """
    return bool(text.strip()) and bool(_KATAKANA.match(text))


# --- 口座 ---------------------------------------------------------------------------------------

ACCOUNT_TYPES: Final = ("普通", "当座", "貯蓄")
_BANK_CODE: Final = re.compile(r"^\d{4}\Z", re.ASCII)
_BRANCH_CODE: Final = re.compile(r"^\d{3}\Z", re.ASCII)
_ACCOUNT_NUMBER: Final = re.compile(r"^\d{7}\Z", re.ASCII)
# The 全銀協 character set for account names: half-width katakana without small letters, voiced
# marks, upper-case Latin letters, digits, space and ( ) . - / , and the corporate abbreviations'
# brackets 「 」 (half-width ｢ ｣).
_HOLDER: Final = re.compile(r"^[ｦ-ﾟA-Z0-9 ().\-/,｢｣\\]+$")
_SMALL_TO_LARGE: Final = str.maketrans("ｧｨｩｪｫｬｭｮｯ", "ｱｲｳｴｵﾔﾕﾖﾂ")


def normalize_account_holder_kana(text: str) -> str:
    """Full-width kana, letters and digits become the half-width spelling banks store.

    Small kana become large (banks print ｼﾔｼﾞﾕｳ for シャジュウ), Latin letters upper case, runs of
    spaces one space.
    """
    t = unicodedata.normalize("NFC", text).strip()
    t = jaconv.z2h(t, kana=True, ascii=True, digit=True)
    t = t.translate(_SMALL_TO_LARGE).upper()
    return re.sub(r" +", " ", t)


def is_valid_account_holder_kana(text: str) -> bool:
    """Katakana as banks accept it for 口座名義, after :func:`normalize_account_holder_kana`."""
    normalized = normalize_account_holder_kana(text)
    if not normalized or not _HOLDER.match(normalized):
        return False
    # At least one kana or letter: a name made only of digits and symbols is a typo.
    return bool(re.search(r"[ｦ-ﾝA-Z]", normalized))


def is_valid_bank_code(text: str) -> bool:
    """金融機関コード: 4 digits (ゆうちょ銀行 is 9900)."""
    return bool(_BANK_CODE.match(_ascii_digits(text)))


def is_valid_branch_code(text: str) -> bool:
    """支店コード (店番): 3 digits."""
    return bool(_BRANCH_CODE.match(_ascii_digits(text)))


def is_valid_account_number(text: str) -> bool:
    """口座番号: 7 digits (shorter numbers are written with leading zeros)."""
    return bool(_ACCOUNT_NUMBER.match(_ascii_digits(text)))


def bank_account_problems(account: Mapping[str, object]) -> dict[str, str]:
    """The problems of a bank account, keyed by field, each as one Japanese message.

    Fields: ``bank_code`` (金融機関コード), ``branch_code`` (支店コード), ``account_type`` (預金種目),
    ``account_number`` (口座番号), ``account_holder_kana`` (口座名義（カナ）). An empty dict means
    the account is well formed (whether it exists is for the bank to say).
    """
    problems: dict[str, str] = {}

    def text(key: str) -> str | None:
        value = account.get(key)
        return value if isinstance(value, str) else None

    bank_code = text("bank_code")
    if bank_code is None or not is_valid_bank_code(bank_code):
        problems["bank_code"] = "金融機関コードは4桁の数字で入力してください"
    branch_code = text("branch_code")
    if branch_code is None or not is_valid_branch_code(branch_code):
        problems["branch_code"] = "支店コードは3桁の数字で入力してください"
    if text("account_type") not in ACCOUNT_TYPES:
        problems["account_type"] = "預金種目は普通・当座・貯蓄から選んでください"
    number = text("account_number")
    if number is None or not is_valid_account_number(number):
        problems["account_number"] = (
            "口座番号は7桁の数字で入力してください（7桁未満の場合は先頭に0を付けます）"
        )
    holder = text("account_holder_kana")
    if holder is None or not is_valid_account_holder_kana(holder):
        problems["account_holder_kana"] = "口座名義はカタカナで入力してください"
    return problems


def is_valid_bank_account(account: Mapping[str, object]) -> bool:
    return not bank_account_problems(account)
