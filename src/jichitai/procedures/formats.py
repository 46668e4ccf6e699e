"""Custom JSON Schema formats of procedure forms, and how typed input is normalised before checking.

Formats (the ``format`` keyword of a field):

- ``postal-code``: 郵便番号, stored ``NNN-NNNN``
- ``phone-jp``: 電話番号, ASCII digits, hyphens as typed
- ``katakana``: フリガナ, full-width katakana (half-width input is widened)
- ``individual-number``: 個人番号, 12 digits with a correct check digit, stored without separators
- ``date``: ISO ``YYYY-MM-DD``; with ``x-accept-wareki: true`` also ``令和6年4月1日``, ``R6.4.1``,
  ``2024/4/1`` and ``2024年4月1日``, all stored as ISO
- ``bank-account``: an object (金融機関コード, 支店コード, 預金種目, 口座番号, 口座名義)
- ``account-holder-kana``: 口座名義, stored in the half-width spelling banks use
- ``email``: a plain e-mail address
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping
from datetime import date
from typing import Any, Final

from jsonschema import FormatChecker

from jichitai.platform import identifiers as ids
from jichitai.platform.errors import ValidationError
from jichitai.platform.wareki import parse_wareki

KNOWN_FORMATS: Final = frozenset(
    {
        "postal-code",
        "phone-jp",
        "katakana",
        "individual-number",
        "date",
        "bank-account",
        "account-holder-kana",
        "email",
    }
)

_ISO_DATE: Final = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_SEIREKI: Final = re.compile(r"^\s*(\d{4})\s*[年/.\-]\s*(\d{1,2})\s*[月/.\-]\s*(\d{1,2})\s*日?\s*$")
_EMAIL: Final = re.compile(r"^[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}$")


def is_iso_date(value: str) -> bool:
    if not _ISO_DATE.match(value):
        return False
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


def parse_date_input(text: str, *, accept_wareki: bool) -> date | None:
    """A date from what a resident typed, or None when it is not a date."""
    t = unicodedata.normalize("NFKC", text).strip()
    if is_iso_date(t):
        return date.fromisoformat(t)
    m = _SEIREKI.match(t)
    if m:
        try:
            return date(int(m[1]), int(m[2]), int(m[3]))
        except ValueError:
            return None
    if accept_wareki:
        try:
            return parse_wareki(text)
        except ValidationError:
            return None
    return None


def _strings_only(check: Callable[[str], bool]) -> Callable[[object], bool]:
    # JSON Schema formats constrain strings only; other types are left to the ``type`` keyword.
    def checker(instance: object) -> bool:
        return not isinstance(instance, str) or check(instance)

    return checker


def _bank_account(instance: object) -> bool:
    return not isinstance(instance, Mapping) or ids.is_valid_bank_account(instance)


def _build_checker() -> FormatChecker:
    checker = FormatChecker(formats=())
    checks: dict[str, Callable[[object], bool]] = {
        "postal-code": _strings_only(ids.is_valid_postal_code),
        "phone-jp": _strings_only(ids.is_valid_phone_jp),
        "katakana": _strings_only(ids.is_katakana),
        "individual-number": _strings_only(ids.is_valid_individual_number),
        "date": _strings_only(is_iso_date),
        "bank-account": _bank_account,
        "account-holder-kana": _strings_only(ids.is_valid_account_holder_kana),
        "email": _strings_only(lambda s: bool(_EMAIL.match(s))),
    }
    for name, func in checks.items():
        checker.checks(name)(func)
    return checker


FORMAT_CHECKER: Final = _build_checker()


def _stripped_nfc(value: str) -> str:
    return unicodedata.normalize("NFC", value).strip()


def string_normalizer(schema: Mapping[str, Any]) -> Callable[[str], str]:
    """What gives a typed string for the field ``schema`` its canonical spelling; it leaves the
    text as typed (NFC, trimmed) when unsure. The keywords are read once, here: a form's fields are
    normalised on every submission, and most are free text, which needs NFC and trimming only.

    Normalisation never turns invalid input into valid input of another meaning: it only removes
    differences of width, separators and era notation, and a value it cannot read is left as typed
    so the message names the resident's own input.
    """
    fmt = schema.get("format")
    if fmt == "date":
        wareki = bool(schema.get("x-accept-wareki"))

        def a_date(value: str) -> str:
            text = _stripped_nfc(value)
            parsed = parse_date_input(text, accept_wareki=wareki)
            return parsed.isoformat() if parsed else text

        return a_date
    if fmt == "postal-code":
        return lambda value: ids.normalize_postal_code(_stripped_nfc(value))
    if fmt == "phone-jp":
        return lambda value: ids.normalize_phone_jp(_stripped_nfc(value))
    if fmt == "individual-number":

        def an_individual_number(value: str) -> str:
            text = _stripped_nfc(value)
            number = ids.normalize_individual_number(text)
            return number if ids.individual_number_has_twelve_digits(number) else text

        return an_individual_number
    if fmt == "katakana":
        return lambda value: ids.normalize_katakana(_stripped_nfc(value))
    if fmt == "account-holder-kana":

        def an_account_holder(value: str) -> str:
            text = _stripped_nfc(value)
            holder = ids.normalize_account_holder_kana(text)
            return holder if ids.is_valid_account_holder_kana(holder) else text

        return an_account_holder
    pattern = schema.get("pattern")
    if isinstance(pattern, str):
        compiled = re.compile(pattern)

        def patterned(value: str) -> str:
            text = _stripped_nfc(value)
            if compiled.search(text):
                return text
            # Full-width digits and letters in code fields (金融機関コード, 車台番号) are a width
            # difference, not an error.
            widened = unicodedata.normalize("NFKC", text)
            if compiled.search(widened):
                return widened
            if compiled.search(widened.upper()):
                return widened.upper()
            return text

        return patterned
    return _stripped_nfc


_INTEGER_TEXT: Final = re.compile(r"^-?\d{1,3}(,\d{3})*$|^-?\d+$")


def coerce_scalar(value: Any, schema: Mapping[str, Any]) -> Any:
    """Form posts (without JavaScript) send every value as text: read integers and booleans."""
    if not isinstance(value, str):
        return value
    kind = schema.get("type")
    if kind == "integer":
        t = unicodedata.normalize("NFKC", value).strip()
        # int() refuses more than 4,300 digits; no amount has 25: left as text, the type check refuses it
        if len(t) <= 25 and _INTEGER_TEXT.match(t):
            return int(t.replace(",", ""))
    if kind == "boolean":
        t = value.strip().lower()
        if t in ("true", "on", "1"):
            return True
        if t in ("false", "off", "0"):
            return False
    return value
