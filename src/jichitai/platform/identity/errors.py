"""Errors of staff identity; each carries the HTTP status the web edge answers with."""

from __future__ import annotations

from datetime import datetime

from jichitai.platform.errors import PermissionDenied


class AuthenticationFailed(PermissionDenied):
    """The credentials, session or token do not identify an active account (401)."""

    http_status = 401


class AccountLocked(AuthenticationFailed):
    """Too many failed logins: the account is locked until ``locked_until`` (429)."""

    http_status = 429

    def __init__(
        self, message: str, *, locked_until: datetime, message_ja: str, hint: str | None = None
    ) -> None:
        super().__init__(message, hint=hint, message_ja=message_ja)
        self.locked_until = locked_until


class SessionExpired(AuthenticationFailed):
    """The back-office session ended, timed out or never existed (401; the web sends to login)."""


class InvalidClient(AuthenticationFailed):
    """Client credentials that do not identify an active API client (401, OAuth ``invalid_client``)."""


class InvalidToken(AuthenticationFailed):
    """A bearer token that is unknown, expired, revoked or for another tenant (401)."""


class CsrfMismatch(PermissionDenied):
    """A state-changing request without this session's CSRF token (403)."""

    http_status = 403


class MissingPermission(PermissionDenied):
    """The principal lacks the permission the operation needs (403)."""

    http_status = 403
