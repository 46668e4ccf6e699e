"""The JPKI certificate profile: object identifiers and how the basic four facts sit in the SAN.

J-LIS puts the basic four facts (基本4情報) of a 署名用電子証明書 into the subjectAltName as
``otherName`` entries under its arc ``1.2.392.200149.8.5.5`` (jpki-personalData). The value of each
entry is a UTF8String:

=========================  ==================================  ======================================
OID                        fact                                value
=========================  ==================================  ======================================
1.2.392.200149.8.5.5.1     氏名 (name, in Japanese script)      e.g. ``山田　太郎``
1.2.392.200149.8.5.5.3     性別 (sex)                           ``1`` 男, ``2`` 女, ``9`` 適用不能
1.2.392.200149.8.5.5.4     生年月日 (birth date)                era code + Gregorian ``YYYYMMDD``
                                                               (1 明治, 2 大正, 3 昭和, 4 平成, 5 令和),
                                                               e.g. ``419900102`` for 1990-01-02
1.2.392.200149.8.5.5.5     住所 (address)                       e.g. ``東京都千代田区霞が関２－１－２``
=========================  ==================================  ======================================

(``.2`` and ``.6`` carry the positions of substitute characters in name and address; this test CA
never needs them and does not write them, but the reader tolerates them.)

The subject of both certificates holds only ``C=JP`` and an opaque identifier as CN, as J-LIS does:
no personal fact is in the subject. The 利用者証明用電子証明書 carries no SAN facts at all.

The test CA here is only a stand-in. Which CAs are trusted is configuration
(:class:`jichitai.platform.pki.verify.TrustStore`): production points it at the J-LIS 署名用 and
利用者証明用 CA certificates and the same verification code runs against them.
"""

from __future__ import annotations

from datetime import date

from cryptography import x509
from cryptography.x509.oid import ObjectIdentifier

from jichitai.platform.errors import ValidationError
from jichitai.platform.pki.rules import BasicFacts, Sex
from jichitai.platform.wareki import era_of

JPKI_PERSONAL_DATA_ARC = "1.2.392.200149.8.5.5"
OID_NAME = ObjectIdentifier(f"{JPKI_PERSONAL_DATA_ARC}.1")
OID_NAME_SUBSTITUTE_CHARS = ObjectIdentifier(f"{JPKI_PERSONAL_DATA_ARC}.2")
OID_SEX = ObjectIdentifier(f"{JPKI_PERSONAL_DATA_ARC}.3")
OID_BIRTH_DATE = ObjectIdentifier(f"{JPKI_PERSONAL_DATA_ARC}.4")
OID_ADDRESS = ObjectIdentifier(f"{JPKI_PERSONAL_DATA_ARC}.5")
OID_ADDRESS_SUBSTITUTE_CHARS = ObjectIdentifier(f"{JPKI_PERSONAL_DATA_ARC}.6")

_ERA_CODES = {"明治": "1", "大正": "2", "昭和": "3", "平成": "4", "令和": "5"}
_UTF8STRING_TAG = 0x0C


class ProfileError(ValidationError):
    """A certificate does not follow the JPKI profile (e.g. the SAN facts are unreadable)."""


def encode_utf8string(text: str) -> bytes:
    """DER of an ASN.1 UTF8String."""
    body = text.encode("utf-8")
    n = len(body)
    if n < 0x80:
        length = bytes([n])
    else:
        raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
        length = bytes([0x80 | len(raw)]) + raw
    return bytes([_UTF8STRING_TAG]) + length + body


def decode_utf8string(der: bytes) -> str:
    """Inverse of :func:`encode_utf8string`; refuses anything else (other tags, trailing bytes)."""
    if len(der) < 2 or der[0] != _UTF8STRING_TAG:
        raise ProfileError("SAN value is not a UTF8String", message_ja="証明書の記載事項を読み取れません")
    first = der[1]
    if first < 0x80:
        length, start = first, 2
    else:
        count = first & 0x7F
        if count == 0 or count > 4 or len(der) < 2 + count:
            raise ProfileError("bad DER length", message_ja="証明書の記載事項を読み取れません")
        length, start = int.from_bytes(der[2 : 2 + count], "big"), 2 + count
    if len(der) != start + length:
        raise ProfileError("bad DER length", message_ja="証明書の記載事項を読み取れません")
    try:
        return der[start:].decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ProfileError("SAN value is not UTF-8", message_ja="証明書の記載事項を読み取れません") from exc


def encode_birth_date(d: date) -> str:
    """``date(1990, 1, 2)`` → ``419900102`` (era code, then the Gregorian date)."""
    era, _ = era_of(d)
    return _ERA_CODES[era.name] + d.strftime("%Y%m%d")


def decode_birth_date(text: str) -> date:
    if len(text) != 9 or not text.isdigit() or text[0] not in _ERA_CODES.values():
        raise ProfileError(f"bad birth date {text!r}", message_ja="証明書の生年月日を読み取れません")
    try:
        d = date(int(text[1:5]), int(text[5:7]), int(text[7:9]))
    except ValueError as exc:
        raise ProfileError(f"bad birth date {text!r}", message_ja="証明書の生年月日を読み取れません") from exc
    if encode_birth_date(d) != text:
        raise ProfileError(f"era code does not match {text!r}", message_ja="証明書の生年月日を読み取れません")
    return d


def facts_to_san(facts: BasicFacts) -> x509.SubjectAlternativeName:
    """The subjectAltName of a 署名用電子証明書."""
    return x509.SubjectAlternativeName(
        [
            x509.OtherName(OID_NAME, encode_utf8string(facts.name)),
            x509.OtherName(OID_SEX, encode_utf8string(facts.sex.value)),
            x509.OtherName(OID_BIRTH_DATE, encode_utf8string(encode_birth_date(facts.birth_date))),
            x509.OtherName(OID_ADDRESS, encode_utf8string(facts.address)),
        ]
    )


def facts_from_certificate(cert: x509.Certificate) -> BasicFacts | None:
    """The basic four facts from the SAN, or None when the certificate carries none of them.

    A certificate that carries some but not all four, or one twice, is refused: a reader must never
    make up or choose between facts.
    """
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return None
    wanted = {OID_NAME, OID_SEX, OID_BIRTH_DATE, OID_ADDRESS}
    found: dict[ObjectIdentifier, str] = {}
    for other in san.get_values_for_type(x509.OtherName):
        if other.type_id in wanted:
            if other.type_id in found:
                raise ProfileError(
                    "a basic fact appears twice", message_ja="証明書の記載事項が重複しています"
                )
            found[other.type_id] = decode_utf8string(other.value)
    if not found:
        return None
    if set(found) != wanted:
        raise ProfileError(
            "the SAN lacks some of the basic four facts", message_ja="証明書の記載事項が不足しています"
        )
    try:
        sex = Sex(found[OID_SEX])
    except ValueError as exc:
        raise ProfileError("bad sex code", message_ja="証明書の性別を読み取れません") from exc
    return BasicFacts(
        name=found[OID_NAME],
        address=found[OID_ADDRESS],
        birth_date=decode_birth_date(found[OID_BIRTH_DATE]),
        sex=sex,
    )
