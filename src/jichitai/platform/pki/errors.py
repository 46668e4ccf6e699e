"""Errors of the JPKI pieces: one class and one reason code per way a certificate, signature or PIN fails.

Each carries a Japanese message for the resident (``message_ja``) and a stable ``reason`` code that
web layers put in their JSON answers and audit entries.
"""

from __future__ import annotations

from enum import StrEnum

from jichitai.platform.errors import NotFound, PermissionDenied, ValidationError
from jichitai.platform.pki.rules import CertificateKind


class RejectReason(StrEnum):
    """Why a certificate or signature was refused."""

    MALFORMED = "malformed"
    EXPIRED = "expired"
    NOT_YET_VALID = "not_yet_valid"
    REVOKED = "revoked"
    UNKNOWN_CA = "unknown_ca"
    INVALID_CHAIN = "invalid_chain"
    BAD_SIGNATURE = "bad_signature"
    WRONG_CERTIFICATE_TYPE = "wrong_certificate_type"
    CRL_MISSING = "crl_missing"
    CRL_STALE = "crl_stale"
    CRL_INVALID = "crl_invalid"


class CertificateRejected(ValidationError):
    """Base of every verification failure; ``reason`` tells which."""

    reason: RejectReason = RejectReason.MALFORMED
    default_ja = "電子証明書を確認できませんでした"

    def __init__(self, message: str, *, message_ja: str | None = None, hint: str | None = None) -> None:
        super().__init__(message, hint=hint, message_ja=message_ja or self.default_ja)


class MalformedCertificate(CertificateRejected):
    reason = RejectReason.MALFORMED
    default_ja = "電子証明書の形式が正しくありません"


class CertificateExpired(CertificateRejected):
    reason = RejectReason.EXPIRED
    default_ja = "電子証明書の有効期限が切れています。市区町村の窓口で更新してください"


class CertificateNotYetValid(CertificateRejected):
    reason = RejectReason.NOT_YET_VALID
    default_ja = "電子証明書の有効期間がまだ始まっていません"


class CertificateRevoked(CertificateRejected):
    reason = RejectReason.REVOKED
    default_ja = "この電子証明書は失効しています。市区町村の窓口で再発行を受けてください"


class UnknownIssuer(CertificateRejected):
    reason = RejectReason.UNKNOWN_CA
    default_ja = "信頼できる認証局が発行した電子証明書ではありません"


class InvalidChain(CertificateRejected):
    reason = RejectReason.INVALID_CHAIN
    default_ja = "電子証明書の発行元を確認できませんでした"


class BadSignature(CertificateRejected):
    reason = RejectReason.BAD_SIGNATURE
    default_ja = "電子署名が正しくありません。内容が署名後に変更された可能性があります"


class WrongCertificateType(CertificateRejected):
    reason = RejectReason.WRONG_CERTIFICATE_TYPE
    default_ja = "この用途には使えない種類の電子証明書です"


class CrlMissing(CertificateRejected):
    reason = RejectReason.CRL_MISSING
    default_ja = "失効情報（CRL）がないため電子証明書を確認できません"


class CrlStale(CertificateRejected):
    reason = RejectReason.CRL_STALE
    default_ja = "失効情報（CRL）が古いため電子証明書を確認できません"


class CrlInvalid(CertificateRejected):
    reason = RejectReason.CRL_INVALID
    default_ja = "失効情報（CRL）の署名を確認できません"


# --- the card -----------------------------------------------------------------------------------


class CardError(PermissionDenied):
    """Base of card failures; ``code`` is stable for JSON answers, ``remaining_tries`` when it matters."""

    code = "card_error"
    remaining_tries: int | None = None


class PinFormatError(ValidationError):
    """The PIN has the wrong shape; refused before the card sees it, so no try is used."""

    code = "pin_format"


class WrongPin(CardError):
    code = "wrong_pin"

    def __init__(self, kind: CertificateKind, remaining: int) -> None:
        self.kind = kind
        self.remaining_tries = remaining
        super().__init__(
            f"wrong {kind.value} PIN, {remaining} tries left",
            message_ja=f"{kind.pin_label_ja}が違います（残り{remaining}回）。あと{remaining}回間違えるとロックされます",
        )


class CardLocked(CardError):
    code = "locked"
    remaining_tries = 0

    def __init__(self, kind: CertificateKind) -> None:
        self.kind = kind
        super().__init__(
            f"the {kind.value} PIN is locked",
            hint="reset the PIN at the municipal office",
            message_ja=(
                f"{kind.pin_label_ja}がロックされています（残り0回）。"
                "お住まいの市区町村の窓口で初期化の手続きをしてください"
            ),
        )


class CardNotFound(NotFound):
    code = "no_card"


class NoSigningCertificate(NotFound):
    """The card holds no 署名用電子証明書 (e.g. issued to a child under 15, or revoked and removed)."""

    code = "no_signing_certificate"
