from __future__ import annotations

import pytest

from jichitai.platform.errors import ValidationError
from jichitai.platform.tenants import TenantCode, check_digit


@pytest.mark.parametrize(
    ("code", "name"),
    [
        ("131016", "千代田区"),
        ("141003", "横浜市"),
        ("011002", "札幌市"),
        ("131041", "新宿区"),
        ("131130", "渋谷区"),
        ("271004", "大阪市"),
        ("130001", "東京都"),
        ("472018", "那覇市"),
        ("015750", "えりも町? (北海道の町)"),
    ],
)
def test_known_codes_are_valid(code: str, name: str) -> None:
    assert TenantCode(code) == code


@pytest.mark.parametrize(
    ("first_five", "digit"),
    [("13101", 6), ("14100", 3), ("01100", 2), ("13104", 1), ("13113", 0), ("27100", 4), ("13000", 1)],
)
def test_check_digit_table(first_five: str, digit: int) -> None:
    assert check_digit(first_five) == digit


def test_remainder_zero_and_one_map_to_0_and_1() -> None:
    # sum mod 11 == 1 gives 10 -> 0; sum mod 11 == 0 gives 11 -> 1
    found = {check_digit(f"{n:05d}") for n in range(0, 2000)}
    assert found <= set(range(10))
    # 13000: 1*6+3*5 = 21, 21 mod 11 = 10, 11-10 = 1
    assert check_digit("13000") == 1


@pytest.mark.parametrize(
    ("bad", "fragment"),
    [
        ("13101", "six digits"),
        ("1310160", "six digits"),
        ("13101a", "six digits"),
        ("131017", "check digit"),
        ("141004", "check digit"),
        ("991001", "check digit"),
    ],
)
def test_bad_codes_say_what_is_wrong(bad: str, fragment: str) -> None:
    with pytest.raises(ValidationError, match=fragment):
        TenantCode(bad)


def test_prefecture_parts() -> None:
    code = TenantCode("141003")
    assert code.prefecture_name == "神奈川県"
    assert not code.is_prefecture
    assert TenantCode("130001").is_prefecture
