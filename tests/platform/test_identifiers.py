"""Identifier validators: 個人番号 check digit, 郵便番号, 電話番号, bank accounts, katakana."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jichitai.platform.identifiers import (
    bank_account_problems,
    individual_number_check_digit,
    is_katakana,
    is_valid_account_holder_kana,
    is_valid_bank_account,
    is_valid_individual_number,
    is_valid_phone_jp,
    is_valid_postal_code,
    normalize_account_holder_kana,
    normalize_individual_number,
    normalize_katakana,
    normalize_phone_jp,
    normalize_postal_code,
)

# The weights of 番号法施行令 第8条 written left to right over the first 11 digits (Qn = n+1 for
# the 6 rightmost, n-5 for the 5 leftmost): an independent reading of the same rule.
_LEFT_TO_RIGHT_WEIGHTS = (6, 5, 4, 3, 2, 7, 6, 5, 4, 3, 2)


def reference_check_digit(first_eleven: str) -> int:
    remainder = sum(int(d) * w for d, w in zip(first_eleven, _LEFT_TO_RIGHT_WEIGHTS, strict=True)) % 11
    return 0 if remainder <= 1 else 11 - remainder


@pytest.mark.parametrize(
    "number",
    [
        "123456789018",
        "987654321093",
        "314159265352",
        "271828182840",
        "111111111118",
        "000000000000",
        "555000123457",
    ],
)
def test_known_valid_individual_numbers(number: str) -> None:
    assert is_valid_individual_number(number)
    assert individual_number_check_digit(number[:11]) == int(number[11])


def test_remainder_one_gives_check_digit_zero() -> None:
    # 1*6 + 1*6 = 12, remainder 1: the rule says 0, not 11 - 1 = 10.
    assert individual_number_check_digit("10000010000") == 0
    assert is_valid_individual_number("100000100000")


def test_only_one_last_digit_is_valid() -> None:
    valid = [d for d in range(10) if is_valid_individual_number(f"12345678901{d}")]
    assert valid == [8]


@given(st.text(alphabet="0123456789", min_size=11, max_size=11))
def test_check_digit_matches_reference(first_eleven: str) -> None:
    assert individual_number_check_digit(first_eleven) == reference_check_digit(first_eleven)
    assert sum(is_valid_individual_number(first_eleven + str(d)) for d in range(10)) == 1


@pytest.mark.parametrize("text", ["1234 5678 9018", "1234-5678-9018", "１２３４５６７８９０１８"])
def test_individual_number_typed_forms(text: str) -> None:
    assert normalize_individual_number(text) == "123456789018"
    assert is_valid_individual_number(text)


@pytest.mark.parametrize("text", ["12345678901", "1234567890180", "12345678901a", "", "123456789019"])
def test_invalid_individual_numbers(text: str) -> None:
    assert not is_valid_individual_number(text)


def test_check_digit_refuses_wrong_length() -> None:
    with pytest.raises(ValueError):
        individual_number_check_digit("1234")


@pytest.mark.parametrize("text", ["100-0001", "1000001", "１００－０００１", " 102-0082 "])
def test_valid_postal_codes(text: str) -> None:
    assert is_valid_postal_code(text)
    assert normalize_postal_code(text) in ("100-0001", "102-0082")


@pytest.mark.parametrize("text", ["100-001", "12345678", "abc-defg", "1000-001", "100_0001", ""])
def test_invalid_postal_codes(text: str) -> None:
    assert not is_valid_postal_code(text)
    assert normalize_postal_code(text) == text


@pytest.mark.parametrize(
    ("text", "normalized"),
    [
        ("03-1234-5678", "03-1234-5678"),
        ("0312345678", "0312345678"),
        ("090-1234-5678", "090-1234-5678"),
        ("09012345678", "09012345678"),
        ("(03)1234-5678", "03-1234-5678"),
        ("０９０－１２３４－５６７８", "090-1234-5678"),
        ("0120-123-456", "0120-123-456"),
        ("050-1234-5678", "050-1234-5678"),
    ],
)
def test_valid_phone_numbers(text: str, normalized: str) -> None:
    assert is_valid_phone_jp(text)
    assert normalize_phone_jp(text) == normalized


@pytest.mark.parametrize(
    "text", ["1234567890", "03-1234-567", "01012345678", "090123456789", "03--1234-5678", "03-1234-5678x", ""]
)
def test_invalid_phone_numbers(text: str) -> None:
    assert not is_valid_phone_jp(text)


def test_katakana() -> None:
    assert is_katakana("ヤマダ タロウ")
    assert is_katakana("ヴァン・デ・ベルデ")
    assert not is_katakana("やまだ")
    assert not is_katakana("山田")
    assert not is_katakana("YAMADA")
    assert not is_katakana("  ")
    assert not is_katakana("ﾔﾏﾀﾞ")  # half-width only after normalisation
    assert normalize_katakana("ﾔﾏﾀﾞ ﾀﾛｳ") == "ヤマダ タロウ"
    assert is_katakana(normalize_katakana("ﾔﾏﾀﾞ ﾀﾛｳ"))


def test_account_holder_kana_is_stored_half_width() -> None:
    assert normalize_account_holder_kana("ヤマダ　タロウ") == "ﾔﾏﾀﾞ ﾀﾛｳ"
    assert normalize_account_holder_kana("シャジュウ") == "ｼﾔｼﾞﾕｳ"  # banks have no small kana
    assert normalize_account_holder_kana("ｶ)ﾁﾖﾀﾞｼﾖｳｼﾞ") == "ｶ)ﾁﾖﾀﾞｼﾖｳｼﾞ"
    assert is_valid_account_holder_kana("ﾔﾏﾀﾞ ﾀﾛｳ")
    assert is_valid_account_holder_kana("ヤマダ タロウ")
    assert not is_valid_account_holder_kana("山田 太郎")
    assert not is_valid_account_holder_kana("やまだ")
    assert not is_valid_account_holder_kana("1234")


GOOD_ACCOUNT = {
    "bank_code": "0001",
    "branch_code": "021",
    "account_type": "普通",
    "account_number": "1234567",
    "account_holder_kana": "ﾔﾏﾀﾞ ﾀﾛｳ",
}


def test_good_bank_account() -> None:
    assert is_valid_bank_account(GOOD_ACCOUNT)
    assert bank_account_problems(GOOD_ACCOUNT) == {}


@pytest.mark.parametrize(
    ("key", "value", "message_part"),
    [
        ("bank_code", "001", "金融機関コードは4桁"),
        ("branch_code", "21", "支店コードは3桁"),
        ("account_type", "定期", "預金種目"),
        ("account_number", "123456", "口座番号は7桁"),
        ("account_number", "12345678", "口座番号は7桁"),
        ("account_holder_kana", "山田太郎", "口座名義はカタカナ"),
    ],
)
def test_bad_bank_account(key: str, value: str, message_part: str) -> None:
    account = {**GOOD_ACCOUNT, key: value}
    problems = bank_account_problems(account)
    assert list(problems) == [key]
    assert message_part in problems[key]


def test_bank_account_missing_fields() -> None:
    assert set(bank_account_problems({})) == set(GOOD_ACCOUNT)


def test_digits_other_than_ascii_are_refused_without_an_exception() -> None:
    # \d alone would accept Arabic-Indic digits and the check digit would then raise
    assert not is_valid_individual_number("١٢٣٤٥٦٧٨٩٠١٨")
    assert not is_valid_postal_code("١٠٠-٠٠٠١")
    assert not is_valid_phone_jp("٠٣١٢٣٤٥٦٧٨")
    assert not is_valid_bank_account(
        {"bank_code": "٠٠٠١", "branch_code": "001", "account_type": "普通", "account_number": "1234567"}
    )
