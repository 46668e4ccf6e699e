"""Tables of staff identity, kept in each tenant's database in every zone.

Every tenant has its own database (or schema), so no row carries a tenant column: a staff account
of 千代田区 cannot even be named from 横浜市's database. Secrets are never stored: passwords and
client secrets as argon2 hashes, session and bearer tokens as SHA-256 digests (they are random
256-bit values, so a fast hash is enough and lets a lookup be an index probe).
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Table
from sqlalchemy.orm import Mapped, mapped_column

from jichitai.platform.storage.base import Base, utcnow


def new_id() -> str:
    return uuid.uuid4().hex


class StaffAccount(Base):
    """A staff member's account (職員アカウント) in one municipality."""

    __tablename__ = "staff_accounts"
    # the staff member's name is personal data: every change is audited by the unit of work
    __audited__ = True

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    login_id: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(100))
    password_hash: Mapped[str] = mapped_column(String(255))
    roles: Mapped[str] = mapped_column(String(400))  # role codes separated by spaces
    status: Mapped[str] = mapped_column(String(10), default="active")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    password_changed_at: Mapped[datetime] = mapped_column(default=utcnow)
    disabled_at: Mapped[datetime | None] = mapped_column(default=None)

    def audit_object_id(self) -> str:
        return self.login_id


class LoginFailures(Base):
    """Failed-login counter and lock of one account.

    Kept apart from :class:`StaffAccount` so that counting failures does not rewrite the audited
    account row on every attempt; the attempts themselves are audited as login events.
    """

    __tablename__ = "login_failures"

    account_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("staff_accounts.id", ondelete="CASCADE"), primary_key=True
    )
    failures: Mapped[int] = mapped_column(Integer, default=0)  # since the last success or lock
    lockouts: Mapped[int] = mapped_column(Integer, default=0)  # locks since the last success
    locked_until: Mapped[datetime | None] = mapped_column(default=None)
    last_failure_at: Mapped[datetime | None] = mapped_column(default=None)


class StaffSession(Base):
    """A back-office web session (ログインセッション)."""

    __tablename__ = "staff_sessions"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)  # SHA-256 hex of the cookie token
    account_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("staff_accounts.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]  # absolute expiry, however active the session is
    ended_at: Mapped[datetime | None] = mapped_column(default=None)
    end_reason: Mapped[str | None] = mapped_column(String(20), default=None)


class ApiClient(Base):
    """A system that calls this tenant's APIs with client credentials (連携システム)."""

    __tablename__ = "api_clients"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    client_id: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    secret_hash: Mapped[str] = mapped_column(String(255))
    scopes: Mapped[str] = mapped_column(String(1000))  # permissions separated by spaces
    status: Mapped[str] = mapped_column(String(10), default="active")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    disabled_at: Mapped[datetime | None] = mapped_column(default=None)


class ApiToken(Base):
    """A short-lived bearer token issued to an API client."""

    __tablename__ = "api_tokens"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    client_pk: Mapped[str] = mapped_column(
        String(32), ForeignKey("api_clients.id", ondelete="CASCADE"), index=True
    )
    scopes: Mapped[str] = mapped_column(String(1000))
    issued_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)


IDENTITY_TABLES: tuple[Table, ...] = tuple(
    Base.metadata.tables[name]
    for name in ("staff_accounts", "login_failures", "staff_sessions", "api_clients", "api_tokens")
)
