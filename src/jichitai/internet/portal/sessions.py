"""Logging a resident in with the card (利用者証明用電子証明書) and keeping the session.

1. :func:`new_challenge`: 32 random bytes, stored with an id, usable once within
   :data:`CHALLENGE_TTL`.
2. The page's JavaScript has the local card reader sign the challenge after the resident types the
   4-digit PIN, and posts the signature and the authentication certificate.
3. :func:`log_in`: the challenge is consumed (even when the rest fails, so a signature cannot be
   tried twice), the certificate is verified for authentication (chain, validity, key usage, CRL)
   and the signature over the challenge; then a session opens. The browser gets a random token in
   an HttpOnly cookie; the database keeps only its SHA-256, and the resident key field-encrypted.

The resident key is a hash of the authentication certificate's issuer and subject (an opaque,
per-certificate identifier in the JPKI profile, with no personal facts). It is what "my
applications" and drafts hang on; a renewed certificate starts a new history.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select

from jichitai.internet.portal.models import PortalLoginChallenge, PortalSession
from jichitai.internet.portal.purposes import PORTAL_LOGIN
from jichitai.internet.submissions.verification import configured_trust_material
from jichitai.platform.context import Actor, ActorKind, TenantContext
from jichitai.platform.errors import PermissionDenied, ValidationError
from jichitai.platform.pki import CertificateKind, VerifiedCertificate, verify_signature
from jichitai.platform.storage import Storage
from jichitai.platform.tenants import TenantCode
from jichitai.platform.zones import Zone

CHALLENGE_BYTES = 32
CHALLENGE_TTL = timedelta(minutes=5)
SESSION_TTL = timedelta(minutes=30)
SESSION_TABLE = "portal_sessions"


class LoginFailed(PermissionDenied):
    """The challenge is unknown, used or stale (the certificate checks raise their own errors)."""

    error_code = "login_failed"


@dataclass(frozen=True)
class Challenge:
    challenge_id: str
    challenge: bytes


@dataclass(frozen=True)
class ResidentSession:
    """A logged-in resident: the key their applications hang on and the form token of the session."""

    session_id: str
    resident_key: str
    csrf_token: str
    expires_at: datetime


@dataclass(frozen=True)
class LoginResult:
    token: str  # goes into the cookie, never stored
    session: ResidentSession
    certificate: VerifiedCertificate


def _system_ctx(tenant: str, reason: str = "") -> TenantContext:
    actor = Actor(id="portal", kind=ActorKind.SYSTEM, role="portal")
    return TenantContext(TenantCode(tenant), actor, PORTAL_LOGIN, reason)


def resident_key_of(certificate: VerifiedCertificate) -> str:
    """The portal's stable key of a resident: hash of the authentication certificate's names."""
    cert = certificate.certificate
    digest = hashlib.sha256(cert.issuer.public_bytes() + b"\x00" + cert.subject.public_bytes())
    return "jpki-auth:" + digest.hexdigest()


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("ascii", errors="replace")).hexdigest()


def new_challenge(storage: Storage, tenant: str, *, now: datetime | None = None) -> Challenge:
    now = now or datetime.now(UTC)
    row = PortalLoginChallenge(
        id=secrets.token_hex(16), challenge=secrets.token_bytes(CHALLENGE_BYTES), created_at=now
    )
    with storage.unit_of_work(_system_ctx(tenant), Zone.INTERNET) as uow:
        # old challenges are worthless; drop them as new ones come
        uow.session.execute(
            delete(PortalLoginChallenge).where(PortalLoginChallenge.created_at < now - CHALLENGE_TTL * 12)
        )
        uow.session.add(row)
    return Challenge(row.id, row.challenge)


def _consume_challenge(storage: Storage, tenant: str, challenge_id: str, now: datetime) -> bytes:
    with storage.unit_of_work(_system_ctx(tenant), Zone.INTERNET) as uow:
        row = uow.session.get(PortalLoginChallenge, challenge_id[:32])
        if row is None or row.used_at is not None:
            raise LoginFailed(
                "unknown or used login challenge",
                message_ja="ログインの有効期限が切れました。もう一度ログインしてください",
            )
        created = row.created_at if row.created_at.tzinfo else row.created_at.replace(tzinfo=UTC)
        row.used_at = now  # committed even when what follows fails: one try per challenge
        challenge = bytes(row.challenge)
    if now - created > CHALLENGE_TTL:
        raise LoginFailed(
            "stale login challenge", message_ja="ログインの有効期限が切れました。もう一度ログインしてください"
        )
    return challenge


def log_in(
    storage: Storage,
    tenant: str,
    *,
    challenge_id: str,
    signature: bytes,
    certificate_pem: str,
    now: datetime | None = None,
) -> LoginResult:
    """Verify the card's answer to a challenge and open a session; raise on any failure."""
    now = now or datetime.now(UTC)
    challenge = _consume_challenge(storage, tenant, challenge_id, now)
    if not certificate_pem or len(certificate_pem) > 16_000:
        raise ValidationError("no certificate", message_ja="電子証明書を読み取れませんでした")
    material = configured_trust_material(storage)
    verified = verify_signature(
        certificate_pem,
        challenge,
        signature,
        CertificateKind.AUTHENTICATION,
        trust_store=material.trust_store,
        crls=material.crls,
        at=now,
    )
    resident_key = resident_key_of(verified)
    token = secrets.token_urlsafe(32)
    session_id = token_hash(token)
    csrf = secrets.token_urlsafe(24)
    expires = now + SESSION_TTL
    with storage.unit_of_work(_system_ctx(tenant, "login"), Zone.INTERNET) as uow:
        uow.session.execute(delete(PortalSession).where(PortalSession.expires_at < now))
        sealed = uow.keyring.field_encrypt(SESSION_TABLE, "resident_key", session_id, resident_key)
        uow.session.add(
            PortalSession(
                id=session_id,
                resident_key=sealed,
                csrf_token=csrf,
                created_at=now,
                expires_at=expires,
            )
        )
        uow.record("resident_login", SESSION_TABLE, session_id[:16], certificate_serial=verified.serial)
    return LoginResult(token, ResidentSession(session_id, resident_key, csrf, expires), verified)


def current_session(
    storage: Storage, tenant: str, token: str | None, *, now: datetime | None = None
) -> ResidentSession | None:
    """The session of this cookie token, extended by :data:`SESSION_TTL`; None when absent or over."""
    if not token or len(token) > 200:
        return None
    now = now or datetime.now(UTC)
    session_id = token_hash(token)
    with storage.unit_of_work(_system_ctx(tenant), Zone.INTERNET) as uow:
        row = uow.session.get(PortalSession, session_id)
        if row is None:
            return None
        expires = row.expires_at if row.expires_at.tzinfo else row.expires_at.replace(tzinfo=UTC)
        if expires < now:
            uow.session.delete(row)
            return None
        # slide the expiry, but write at most once a minute
        if expires - now < SESSION_TTL - timedelta(minutes=1):
            row.expires_at = now + SESSION_TTL
        key = uow.keyring.field_decrypt(SESSION_TABLE, "resident_key", session_id, row.resident_key)
        return ResidentSession(session_id, key, row.csrf_token, row.expires_at)


def log_out(storage: Storage, tenant: str, token: str | None) -> None:
    if not token:
        return
    with storage.unit_of_work(_system_ctx(tenant, "logout"), Zone.INTERNET) as uow:
        uow.session.execute(delete(PortalSession).where(PortalSession.id == token_hash(token)))


def active_sessions(storage: Storage, tenant: str) -> int:
    """How many sessions are open (for tests and the operator)."""
    with storage.unit_of_work(_system_ctx(tenant), Zone.INTERNET) as uow:
        return len(uow.session.scalars(select(PortalSession.id)).all())


__all__ = [
    "CHALLENGE_TTL",
    "SESSION_TTL",
    "Challenge",
    "LoginFailed",
    "LoginResult",
    "ResidentSession",
    "active_sessions",
    "current_session",
    "log_in",
    "log_out",
    "new_challenge",
    "resident_key_of",
]
