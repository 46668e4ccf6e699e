from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from jichitai.platform.errors import ValidationError
from jichitai.platform.pki.profile import ProfileError, decode_birth_date, encode_birth_date
from jichitai.platform.pki.rules import (
    JST,
    BasicFacts,
    CertificateKind,
    Sex,
    age_on,
    changed_facts,
    check_kana,
    check_pin_format,
    check_signing_eligible,
    fifth_birthday_after,
    validity_end,
)


@pytest.mark.parametrize(
    ("birth", "issued", "expected"),
    [
        (date(1990, 1, 2), date(2026, 4, 1), date(2031, 1, 2)),
        # Issued on the birthday: that day is not "after" the issue, so it does not count.
        (date(1990, 4, 1), date(2026, 4, 1), date(2031, 4, 1)),
        (date(1990, 4, 2), date(2026, 4, 1), date(2030, 4, 2)),
        # 29 February: the birthday falls on 28 February in common years.
        (date(2000, 2, 29), date(2026, 3, 1), date(2031, 2, 28)),
        (date(2000, 2, 29), date(2026, 2, 28), date(2031, 2, 28)),
        (date(2000, 2, 29), date(2030, 3, 1), date(2035, 2, 28)),
        (date(2000, 2, 29), date(2031, 3, 1), date(2036, 2, 29)),
    ],
)
def test_fifth_birthday_after_issue(birth: date, issued: date, expected: date) -> None:
    assert fifth_birthday_after(birth, issued) == expected


def test_validity_ends_at_end_of_day_jst() -> None:
    # 2026-03-31 16:00 UTC is already 1 April in Japan: the JST day of issue decides.
    end = validity_end(date(1990, 4, 1), datetime(2026, 3, 31, 16, 0, tzinfo=UTC))
    assert end == datetime(2031, 4, 1, 23, 59, 59, tzinfo=JST)
    end_before = validity_end(date(1990, 4, 1), datetime(2026, 3, 31, 14, 0, tzinfo=UTC))
    assert end_before.date() == date(2030, 4, 1)


def test_age_and_signing_eligibility() -> None:
    birth = date(2011, 4, 1)
    assert age_on(birth, date(2026, 3, 31)) == 14
    assert age_on(birth, date(2026, 4, 1)) == 15
    check_signing_eligible(birth, date(2026, 4, 1))
    with pytest.raises(ValidationError) as info:
        check_signing_eligible(birth, date(2026, 3, 31))
    assert info.value.message_ja is not None
    assert "15歳未満" in info.value.message_ja


@pytest.mark.parametrize("pin", ["1234", "0000", "9999"])
def test_auth_pin_format_ok(pin: str) -> None:
    check_pin_format(CertificateKind.AUTHENTICATION, pin)


@pytest.mark.parametrize("pin", ["123", "12345", "abcd", "１２３４", "12 4", ""])
def test_auth_pin_format_refused(pin: str) -> None:
    with pytest.raises(ValidationError, match="wrong format"):
        check_pin_format(CertificateKind.AUTHENTICATION, pin)


@pytest.mark.parametrize("pin", ["ABC123", "A1B2C3D4E5F6G7H8", "123456", "ABCDEF"])
def test_sign_pin_format_ok(pin: str) -> None:
    check_pin_format(CertificateKind.SIGNING, pin)


@pytest.mark.parametrize(
    "pin", ["abc123", "ABC12", "A1B2C3D4E5F6G7H8X", "ABC-123", "ＡＢＣ１２３", "ABC 123"]
)
def test_sign_pin_format_refused(pin: str) -> None:
    with pytest.raises(ValidationError) as info:
        check_pin_format(CertificateKind.SIGNING, pin)
    assert info.value.message_ja == "署名用パスワードは英大文字と数字の6〜16文字で入力してください"


@pytest.mark.parametrize(
    ("d", "code"),
    [
        (date(1990, 1, 2), "419900102"),
        (date(1989, 1, 7), "319890107"),
        (date(1989, 1, 8), "419890108"),
        (date(2019, 5, 1), "520190501"),
        (date(1912, 7, 30), "219120730"),
        (date(1900, 1, 1), "119000101"),
    ],
)
def test_birth_date_code_round_trip(d: date, code: str) -> None:
    assert encode_birth_date(d) == code
    assert decode_birth_date(code) == d


@pytest.mark.parametrize("bad", ["319900102", "41990010", "419901302", "X19900102", "619900102"])
def test_birth_date_code_refused(bad: str) -> None:
    with pytest.raises(ProfileError):
        decode_birth_date(bad)


def test_changed_facts_and_validation() -> None:
    a = BasicFacts("山田　花子", "東京都千代田区1", date(1990, 1, 2), Sex.FEMALE)
    b = BasicFacts("佐藤　花子", "東京都港区2", date(1990, 1, 2), Sex.FEMALE)
    assert changed_facts(a, a) == []
    assert changed_facts(a, b) == ["name", "address"]
    with pytest.raises(ValidationError):
        BasicFacts(" ", "x", date(1990, 1, 2), Sex.MALE)
    with pytest.raises(ValidationError):
        BasicFacts("a\u202eb", "x", date(1990, 1, 2), Sex.MALE)


def test_sex_and_kana_parsing() -> None:
    assert Sex.parse("女") is Sex.FEMALE
    assert Sex.parse("male") is Sex.MALE
    with pytest.raises(ValidationError):
        Sex.parse("x")
    assert check_kana("ﾔﾏﾀﾞ ﾊﾅｺ") == "ヤマダ ハナコ"
    with pytest.raises(ValidationError):
        check_kana("やまだ")
