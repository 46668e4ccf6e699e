"""The JPKI (公的個人認証) rules as pure functions over plain values, no I/O.

- certificate kinds: 署名用電子証明書 (signing) and 利用者証明用電子証明書 (authentication)
- the basic four facts (基本4情報: name, address, birth date, sex) and their change
- validity: until the 5th birthday after the day of issue (発行の日後5回目の誕生日)
- 署名用 certificates are in principle not issued to children under 15
- PIN formats and retry limits of the My Number Card
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from enum import StrEnum

from jichitai.platform.errors import ValidationError

JST = timezone(timedelta(hours=9), "JST")

#: 署名用電子証明書 is in principle not issued under this age (公的個人認証法 施行規則).
SIGNING_MINIMUM_AGE = 15
#: Certificates run until this birthday after the day of issue.
VALIDITY_BIRTHDAYS = 5


class CertificateKind(StrEnum):
    """The two JPKI certificates on a My Number Card."""

    SIGNING = "signing"  # 署名用電子証明書
    AUTHENTICATION = "authentication"  # 利用者証明用電子証明書

    @property
    def label_ja(self) -> str:
        return "署名用電子証明書" if self is CertificateKind.SIGNING else "利用者証明用電子証明書"

    @property
    def pin_label_ja(self) -> str:
        return "署名用パスワード" if self is CertificateKind.SIGNING else "利用者証明用暗証番号"


class Sex(StrEnum):
    """性別 as a one-digit code (1 男, 2 女, 9 適用不能), after ISO 5218 as resident registries use it."""

    MALE = "1"
    FEMALE = "2"
    NOT_APPLICABLE = "9"

    @property
    def label_ja(self) -> str:
        return {"1": "男", "2": "女", "9": "その他"}[self.value]

    @classmethod
    def parse(cls, text: str) -> Sex:
        """Accept the code, the Japanese label or the English word."""
        key = text.strip().lower()
        table = {
            "1": cls.MALE,
            "男": cls.MALE,
            "男性": cls.MALE,
            "male": cls.MALE,
            "m": cls.MALE,
            "2": cls.FEMALE,
            "女": cls.FEMALE,
            "女性": cls.FEMALE,
            "female": cls.FEMALE,
            "f": cls.FEMALE,
            "9": cls.NOT_APPLICABLE,
        }
        if key not in table:
            raise ValidationError(f"unknown sex: {text!r}", message_ja="性別は「男」「女」で指定してください")
        return table[key]


@dataclass(frozen=True)
class BasicFacts:
    """基本4情報: the four facts a 署名用電子証明書 carries (氏名, 住所, 生年月日, 性別)."""

    name: str
    address: str
    birth_date: date
    sex: Sex

    def __post_init__(self) -> None:
        for field, label in (("name", "氏名"), ("address", "住所")):
            value = getattr(self, field)
            if not value or not value.strip():
                raise ValidationError(f"{field} is empty", message_ja=f"{label}を入力してください")
            if any(unicodedata.category(ch) in ("Cc", "Cf") for ch in value):
                raise ValidationError(
                    f"{field} contains control characters", message_ja=f"{label}に使えない文字があります"
                )


def changed_facts(old: BasicFacts, new: BasicFacts) -> list[str]:
    """Which of the four facts differ; any difference revokes the 署名用 certificate."""
    return [f for f in ("name", "address", "birth_date", "sex") if getattr(old, f) != getattr(new, f)]


def _birthday_in(year: int, birth: date) -> date:
    # Someone born on 29 February has the birthday on 28 February in common years: the age
    # calculation act (年齢計算ニ関スル法律) lets the year end on the day before the birthday.
    if birth.month == 2 and birth.day == 29:
        try:
            return date(year, 2, 29)
        except ValueError:
            return date(year, 2, 28)
    return date(year, birth.month, birth.day)


def age_on(birth: date, on: date) -> int:
    """Age in completed years on a date (the birthday itself counts as reached)."""
    if on < birth:
        raise ValidationError("date is before the birth date", message_ja="生年月日より前の日付です")
    years = on.year - birth.year
    return years if on >= _birthday_in(on.year, birth) else years - 1


def fifth_birthday_after(birth: date, issued: date) -> date:
    """The 5th birthday strictly after the day of issue: the last day a certificate is valid."""
    if issued < birth:
        raise ValidationError("issue date is before the birth date", message_ja="生年月日より前の発行日です")
    first = _birthday_in(issued.year, birth)
    if first <= issued:
        first = _birthday_in(issued.year + 1, birth)
    return _birthday_in(first.year + VALIDITY_BIRTHDAYS - 1, birth)


def validity_end(birth: date, issued_at: datetime) -> datetime:
    """End of the last valid day (23:59:59 JST of the 5th birthday after issue), as an aware datetime."""
    issued_day = issued_at.astimezone(JST).date()
    last_day = fifth_birthday_after(birth, issued_day)
    return datetime.combine(last_day, time(23, 59, 59), tzinfo=JST)


def check_signing_eligible(birth: date, on: date) -> None:
    """Refuse a 署名用 certificate to a child under 15 (issued only in principle to 15 and over)."""
    if age_on(birth, on) < SIGNING_MINIMUM_AGE:
        raise ValidationError(
            "a signing certificate is not issued to a person under 15",
            hint="issue the authentication certificate only",
            message_ja="15歳未満の方には署名用電子証明書を原則として発行しません",
        )


@dataclass(frozen=True)
class PinRule:
    """Format and retry limit of one PIN on the card."""

    kind: CertificateKind
    pattern: re.Pattern[str]
    max_tries: int
    format_ja: str


PIN_RULES: dict[CertificateKind, PinRule] = {
    CertificateKind.AUTHENTICATION: PinRule(
        CertificateKind.AUTHENTICATION, re.compile(r"[0-9]{4}"), 3, "数字4桁"
    ),
    CertificateKind.SIGNING: PinRule(
        CertificateKind.SIGNING, re.compile(r"[A-Z0-9]{6,16}"), 5, "英大文字と数字の6〜16文字"
    ),
}


def check_pin_format(kind: CertificateKind, pin: str) -> None:
    """A PIN of the wrong shape is refused before it reaches the card, so it costs no try."""
    rule = PIN_RULES[kind]
    if not rule.pattern.fullmatch(pin):
        raise ValidationError(
            f"{kind.pin_label_ja} has the wrong format",
            message_ja=f"{kind.pin_label_ja}は{rule.format_ja}で入力してください",
        )


_KATAKANA = re.compile(r"[\u30A0-\u30FF\u3000 ]+")


def check_kana(kana: str) -> str:
    """フリガナ in full-width katakana (half-width katakana is widened first)."""
    widened = unicodedata.normalize("NFKC", kana).strip()
    if not _KATAKANA.fullmatch(widened):
        raise ValidationError(
            f"not katakana: {kana!r}", message_ja="フリガナは全角カタカナで入力してください"
        )
    return widened
