"""Use cases of staff identity: accounts, login with lockout, sessions, API clients and tokens.

:class:`IdentityService` works inside one unit of work (one tenant, one zone, one transaction)
and records an audit entry for every act. It never commits: the unit of work does, once.

Failed logins must be remembered even though the attempt fails, so :meth:`IdentityService.login`
and :meth:`IdentityService.issue_token` *return* an outcome instead of raising; the caller lets
the unit of work commit and then calls ``outcome.raise_for_failure()`` (or renders the message).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from enum import StrEnum
from typing import Any, Protocol

from argon2 import PasswordHasher
from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from jichitai.platform.context import TenantContext
from jichitai.platform.errors import Conflict, NotFound, ValidationError
from jichitai.platform.identity import credentials as cred
from jichitai.platform.identity.errors import (
    AccountLocked,
    AuthenticationFailed,
    InvalidClient,
    InvalidToken,
    SessionExpired,
)
from jichitai.platform.identity.models import ApiClient, ApiToken, LoginFailures, StaffAccount, StaffSession
from jichitai.platform.identity.principal import ClientPrincipal, StaffPrincipal
from jichitai.platform.identity.roles import Permission, Role, parse_permissions, parse_roles
from jichitai.platform.storage.base import utcnow
from jichitai.platform.tenants import Tenant, TenantCode
from jichitai.platform.wareki import format_wareki
from jichitai.platform.zones import Zone

JST = timezone(timedelta(hours=9), "JST")
ACTIVE = "active"
DISABLED = "disabled"

OBJ_STAFF = "platform.staff"
OBJ_SESSION = "platform.staff_session"
OBJ_CLIENT = "platform.api_client"
OBJ_TOKEN = "platform.api_token"  # noqa: S105 - an audit object type, not a secret

BAD_CREDENTIALS_JA = "団体コード、ログインIDまたはパスワードが正しくありません"


class Recorder(Protocol):
    """Where audit entries go: the unit of work (``UnitOfWork.record``) or a test double."""

    def record(
        self, action: str, object_type: str, object_id: str = "", person: str = "", **detail: Any
    ) -> None: ...


class UnitOfWorkLike(Recorder, Protocol):
    """What the service needs of :class:`jichitai.platform.storage.UnitOfWork`."""

    session: Session
    tenant: Tenant


class CatalogLike(Protocol):
    def find(self, code: str) -> Tenant | None: ...


class StorageLike(Protocol):
    """What identity and the web base need of :class:`jichitai.platform.storage.Storage`."""

    @property
    def catalog(self) -> CatalogLike: ...

    def unit_of_work(self, ctx: TenantContext, zone: Zone) -> AbstractContextManager[UnitOfWorkLike]: ...


@dataclass(frozen=True)
class IdentityPolicy:
    """Limits of staff identity; the defaults are what production uses."""

    max_failures: int = 5  # failed logins in a row before the account locks
    lock_base: timedelta = timedelta(minutes=15)  # first lock; each further lock doubles it
    lock_max: timedelta = timedelta(hours=24)
    session_idle: timedelta = timedelta(minutes=30)
    session_absolute: timedelta = timedelta(hours=12)
    session_touch_every: timedelta = timedelta(minutes=1)  # bounds writes per request
    token_lifetime: timedelta = timedelta(minutes=15)

    def lock_duration(self, lockouts_before: int) -> timedelta:
        duration: timedelta = self.lock_base * (2 ** min(lockouts_before, 16))
        return min(duration, self.lock_max)


DEFAULT_POLICY = IdentityPolicy()


# -- results ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class StaffInfo:
    id: str
    login_id: str
    display_name: str
    roles: frozenset[Role]
    status: str
    created_at: datetime

    @property
    def active(self) -> bool:
        return self.status == ACTIVE


@dataclass(frozen=True)
class NewSession:
    """A session just started: the cookie token is only ever known here, never stored."""

    token: str
    csrf_token: str
    session_id: str
    expires_at: datetime


class LoginStatus(StrEnum):
    OK = "ok"
    FAILED = "failed"
    LOCKED = "locked"


@dataclass(frozen=True)
class LoginOutcome:
    status: LoginStatus
    account: StaffInfo | None = None
    session: NewSession | None = None
    locked_until: datetime | None = None

    @property
    def ok(self) -> bool:
        return self.status is LoginStatus.OK

    @property
    def message_ja(self) -> str:
        if self.status is LoginStatus.LOCKED and self.locked_until is not None:
            return locked_message_ja(self.locked_until)
        if self.status is LoginStatus.FAILED:
            return BAD_CREDENTIALS_JA
        return ""

    def raise_for_failure(self) -> None:
        if self.status is LoginStatus.LOCKED and self.locked_until is not None:
            raise AccountLocked(
                f"account locked after repeated failed logins until {self.locked_until.isoformat()}",
                locked_until=self.locked_until,
                message_ja=self.message_ja,
            )
        if self.status is not LoginStatus.OK:
            raise AuthenticationFailed("login id or password is wrong", message_ja=BAD_CREDENTIALS_JA)


@dataclass(frozen=True)
class ClientInfo:
    id: str
    client_id: str
    name: str
    scopes: frozenset[Permission]
    status: str
    created_at: datetime


@dataclass(frozen=True)
class NewClient:
    """An API client just created: the secret is shown once and never stored."""

    client: ClientInfo
    client_secret: str


@dataclass(frozen=True)
class IssuedToken:
    access_token: str
    expires_at: datetime
    expires_in: int
    scopes: frozenset[Permission]

    @property
    def scope(self) -> str:
        return " ".join(sorted(p.value for p in self.scopes))


@dataclass(frozen=True)
class TokenOutcome:
    token: IssuedToken | None = None
    error: str = ""  # OAuth error code: invalid_client, invalid_scope

    def raise_for_failure(self) -> IssuedToken:
        if self.token is not None:
            return self.token
        if self.error == "invalid_scope":
            raise ValidationError(
                "requested scope exceeds the client's scopes",
                message_ja="要求された権限(scope)はこのクライアントに許可されていません",
            )
        raise InvalidClient(
            "client credentials are wrong", message_ja="クライアントIDまたはシークレットが正しくありません"
        )


def locked_message_ja(locked_until: datetime) -> str:
    local = as_utc(locked_until).astimezone(JST)
    when = f"{format_wareki(local.date())} {local.hour}時{local.minute:02d}分"
    return (
        "ログインに続けて失敗したため、このアカウントは一時的にロックされています。"
        f"{when}以降にもう一度お試しください。お急ぎの場合は団体管理者に連絡してください。"
    )


def as_utc(value: datetime) -> datetime:
    """Datetimes read back from SQLite are naive; they were written in UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def _split(text: str) -> list[str]:
    return [v for v in text.split(" ") if v]


def _info(account: StaffAccount) -> StaffInfo:
    return StaffInfo(
        account.id,
        account.login_id,
        account.display_name,
        parse_roles(_split(account.roles)),
        account.status,
        as_utc(account.created_at),
    )


def _client_info(client: ApiClient) -> ClientInfo:
    return ClientInfo(
        client.id,
        client.client_id,
        client.name,
        parse_permissions(_split(client.scopes)),
        client.status,
        as_utc(client.created_at),
    )


def _roles_text(roles: Iterable[Role | str]) -> str:
    parsed = parse_roles([str(r) for r in roles])
    if not parsed:
        raise ValidationError(
            "a staff account needs at least one role", message_ja="役割を1つ以上選んでください"
        )
    return " ".join(sorted(r.value for r in parsed))


# -- the service ------------------------------------------------------------------------------
class IdentityService:
    """Staff accounts, logins, sessions and API clients of one tenant, inside one transaction."""

    def __init__(
        self,
        session: Session,
        recorder: Recorder,
        tenant: TenantCode | str,
        *,
        clock: Callable[[], datetime] = utcnow,
        hasher: PasswordHasher | None = None,
        policy: IdentityPolicy = DEFAULT_POLICY,
    ) -> None:
        self.session = session
        self.recorder = recorder
        self.tenant = TenantCode(tenant)
        self.clock = clock
        self.hasher = hasher or cred.default_hasher()
        self.policy = policy

    @classmethod
    def of(cls, uow: UnitOfWorkLike, **options: Any) -> IdentityService:
        return cls(uow.session, uow, uow.tenant.code, **options)

    def _now(self) -> datetime:
        return as_utc(self.clock())

    # -- accounts -------------------------------------------------------------------------------
    def _account_by_login(self, login_id: str) -> StaffAccount | None:
        return self.session.scalars(
            select(StaffAccount).where(StaffAccount.login_id == cred.normalize_login_id(login_id))
        ).one_or_none()

    def _require_account(self, login_id: str) -> StaffAccount:
        account = self._account_by_login(login_id)
        if account is None:
            raise NotFound(
                f"no staff account {login_id!r} in tenant {self.tenant}",
                hint="`jichitai staff list --tenant CODE` shows them",
                message_ja=f"ログインID {login_id} の職員アカウントはありません",
            )
        return account

    def create_staff(
        self, login_id: str, display_name: str, roles: Iterable[Role | str], password: str
    ) -> StaffInfo:
        login = cred.check_login_id(login_id)
        name = cred.check_display_name(display_name)
        roles_text = _roles_text(roles)
        cred.check_password(password, login_id=login)
        if self._account_by_login(login) is not None:
            raise Conflict(
                f"staff account {login!r} already exists in tenant {self.tenant}",
                message_ja=f"ログインID {login} は既に使われています",
            )
        now = self._now()
        account = StaffAccount(
            login_id=login,
            display_name=name,
            password_hash=self.hasher.hash(password),
            roles=roles_text,
            status=ACTIVE,
            created_at=now,
            password_changed_at=now,
        )
        self.session.add(account)
        self.session.flush()
        self.recorder.record("staff_created", OBJ_STAFF, login, roles=roles_text)
        return _info(account)

    def list_staff(self) -> list[StaffInfo]:
        return [_info(a) for a in self.session.scalars(select(StaffAccount).order_by(StaffAccount.login_id))]

    def get_staff(self, login_id: str) -> StaffInfo:
        return _info(self._require_account(login_id))

    def set_roles(self, login_id: str, roles: Iterable[Role | str]) -> StaffInfo:
        account = self._require_account(login_id)
        before = account.roles
        account.roles = _roles_text(roles)
        self.recorder.record(
            "staff_roles_changed", OBJ_STAFF, account.login_id, before=before, after=account.roles
        )
        return _info(account)

    def disable_staff(self, login_id: str) -> StaffInfo:
        account = self._require_account(login_id)
        if account.status != DISABLED:
            account.status = DISABLED
            account.disabled_at = self._now()
            ended = self._end_sessions_of(account.id, "disabled")
            self.recorder.record("staff_disabled", OBJ_STAFF, account.login_id, sessions_ended=ended)
        return _info(account)

    def enable_staff(self, login_id: str) -> StaffInfo:
        account = self._require_account(login_id)
        if account.status != ACTIVE:
            account.status = ACTIVE
            account.disabled_at = None
            self.recorder.record("staff_enabled", OBJ_STAFF, account.login_id)
        return _info(account)

    def unlock(self, login_id: str) -> None:
        """Lift a login lock before it runs out (a 団体管理者 after checking who is calling)."""
        account = self._require_account(login_id)
        state = self.session.get(LoginFailures, account.id)
        if state is not None:
            state.failures = 0
            state.lockouts = 0
            state.locked_until = None
        self.recorder.record("staff_unlocked", OBJ_STAFF, account.login_id)

    def change_password(
        self, login_id: str, current: str, new: str, *, keep_session_id: str | None = None
    ) -> None:
        """Change one's own password; every other session of the account ends."""
        account = self._require_account(login_id)
        if not cred.verify_secret(self.hasher, account.password_hash, current):
            self.recorder.record(
                "password_change_refused", OBJ_STAFF, account.login_id, reason="wrong_current"
            )
            raise AuthenticationFailed(
                "the current password is wrong", message_ja="現在のパスワードが正しくありません"
            )
        self._set_password(account, new, keep_session_id=keep_session_id)
        self.recorder.record("password_changed", OBJ_STAFF, account.login_id)

    def reset_password(self, login_id: str, new: str) -> None:
        """Set a password without knowing the old one (administrator or operator)."""
        account = self._require_account(login_id)
        self._set_password(account, new, keep_session_id=None)
        self.recorder.record("password_reset", OBJ_STAFF, account.login_id)

    def _set_password(self, account: StaffAccount, new: str, *, keep_session_id: str | None) -> None:
        cred.check_password(new, login_id=account.login_id)
        if cred.verify_secret(self.hasher, account.password_hash, new):
            raise ValidationError(
                "the new password equals the current one",
                message_ja="新しいパスワードは現在のものと異なるものにしてください",
            )
        account.password_hash = self.hasher.hash(new)
        account.password_changed_at = self._now()
        self._end_sessions_of(account.id, "password_changed", keep=keep_session_id)

    # -- login ----------------------------------------------------------------------------------
    def login(self, login_id: str, password: str, *, start_session: bool = True) -> LoginOutcome:
        """Check a login id and password; on success start a session.

        Unknown accounts cost one argon2 verification like known ones. A locked account is refused
        without looking at the password (the lock must not become a password oracle).
        """
        now = self._now()
        account = self._account_by_login(login_id)
        if account is None:
            cred.verify_secret(self.hasher, cred.dummy_hash(self.hasher), password)
            self.recorder.record(
                "login_failed", OBJ_STAFF, cred.normalize_login_id(login_id)[:64], reason="unknown_account"
            )
            return LoginOutcome(LoginStatus.FAILED)

        state = self.session.get(LoginFailures, account.id)
        if state is None:
            state = LoginFailures(account_id=account.id, failures=0, lockouts=0)
            self.session.add(state)
        if state.locked_until is not None and as_utc(state.locked_until) > now:
            until = as_utc(state.locked_until)
            self.recorder.record("login_locked", OBJ_STAFF, account.login_id, locked_until=until.isoformat())
            return LoginOutcome(LoginStatus.LOCKED, locked_until=until)

        password_ok = cred.verify_secret(self.hasher, account.password_hash, password)
        if not password_ok or account.status != ACTIVE:
            return self._failed(account, state, now, "disabled" if password_ok else "wrong_password")

        state.failures = 0
        state.lockouts = 0
        state.locked_until = None
        if self.hasher.check_needs_rehash(account.password_hash):
            # argon2 parameters were raised since this hash was made: upgrade it while we hold the password
            account.password_hash = self.hasher.hash(password)
            self.recorder.record("password_rehashed", OBJ_STAFF, account.login_id)
        self.recorder.record("login_ok", OBJ_STAFF, account.login_id)
        new_session = self.start_session(account) if start_session else None
        return LoginOutcome(LoginStatus.OK, account=_info(account), session=new_session)

    def _failed(
        self, account: StaffAccount, state: LoginFailures, now: datetime, reason: str
    ) -> LoginOutcome:
        state.failures = (state.failures or 0) + 1
        state.last_failure_at = now
        self.recorder.record(
            "login_failed", OBJ_STAFF, account.login_id, reason=reason, failures=state.failures
        )
        if state.failures < self.policy.max_failures:
            return LoginOutcome(LoginStatus.FAILED)
        until = now + self.policy.lock_duration(state.lockouts or 0)
        state.lockouts = (state.lockouts or 0) + 1
        state.failures = 0
        state.locked_until = until
        self.recorder.record(
            "account_locked",
            OBJ_STAFF,
            account.login_id,
            locked_until=until.isoformat(),
            lockouts=state.lockouts,
        )
        return LoginOutcome(LoginStatus.LOCKED, locked_until=until)

    # -- sessions -------------------------------------------------------------------------------
    def start_session(self, account: StaffAccount) -> NewSession:
        now = self._now()
        token = cred.new_token(self.tenant)
        row = StaffSession(
            token_hash=cred.token_digest(token),
            account_id=account.id,
            created_at=now,
            last_seen_at=now,
            expires_at=now + self.policy.session_absolute,
        )
        self.session.add(row)
        self.session.flush()
        self.recorder.record("session_created", OBJ_SESSION, row.id, account=account.login_id)
        return NewSession(token, cred.csrf_token_for(token), row.id, as_utc(row.expires_at))

    def resolve_session(self, token: str) -> StaffPrincipal:
        """The staff member behind a session cookie; refuses ended, idle or expired sessions."""
        if cred.tenant_of_token(token) != self.tenant:
            raise _session_gone()
        now = self._now()
        row = self.session.scalars(
            select(StaffSession).where(StaffSession.token_hash == cred.token_digest(token))
        ).one_or_none()
        if row is None or row.ended_at is not None:
            raise _session_gone()
        account = self.session.get(StaffAccount, row.account_id)
        reason = ""
        if account is None or account.status != ACTIVE:
            reason = "disabled"
        elif now >= as_utc(row.expires_at):
            reason = "absolute_timeout"
        elif now >= as_utc(row.last_seen_at) + self.policy.session_idle:
            reason = "idle_timeout"
        if reason:
            row.ended_at = now
            row.end_reason = reason
            self.recorder.record("session_expired", OBJ_SESSION, row.id, reason=reason)
            raise _session_gone()
        assert account is not None
        if now - as_utc(row.last_seen_at) >= self.policy.session_touch_every:
            row.last_seen_at = now
        return StaffPrincipal(
            tenant=self.tenant,
            account_id=account.id,
            login_id=account.login_id,
            display_name=account.display_name,
            roles=parse_roles(_split(account.roles)),
            session_id=row.id,
            csrf_token=cred.csrf_token_for(token),
        )

    def end_session(self, token: str, reason: str = "logout") -> bool:
        """Log out: end the session behind ``token``. False when there was none to end."""
        row = self.session.scalars(
            select(StaffSession).where(StaffSession.token_hash == cred.token_digest(token))
        ).one_or_none()
        if row is None or row.ended_at is not None:
            return False
        row.ended_at = self._now()
        row.end_reason = reason
        self.recorder.record("session_ended", OBJ_SESSION, row.id, reason=reason)
        return True

    def _end_sessions_of(self, account_id: str, reason: str, keep: str | None = None) -> int:
        rows = self.session.scalars(
            select(StaffSession).where(StaffSession.account_id == account_id, StaffSession.ended_at.is_(None))
        ).all()
        now = self._now()
        count = 0
        for row in rows:
            if row.id != keep:
                row.ended_at = now
                row.end_reason = reason
                count += 1
        return count

    # -- API clients ----------------------------------------------------------------------------
    def create_client(self, name: str, scopes: Iterable[Permission | str]) -> NewClient:
        label = cred.check_display_name(name)
        granted = parse_permissions([str(s) for s in scopes])
        if not granted:
            raise ValidationError(
                "an API client needs at least one scope", message_ja="権限(scope)を1つ以上指定してください"
            )
        secret = cred.new_client_secret()
        scopes_text = " ".join(sorted(p.value for p in granted))
        client = ApiClient(
            client_id=cred.new_client_id(self.tenant),
            name=label,
            secret_hash=self.hasher.hash(secret),
            scopes=scopes_text,
            status=ACTIVE,
            created_at=self._now(),
        )
        self.session.add(client)
        self.session.flush()
        self.recorder.record("client_created", OBJ_CLIENT, client.client_id, name=label, scopes=scopes_text)
        return NewClient(_client_info(client), secret)

    def list_clients(self) -> list[ClientInfo]:
        return [
            _client_info(c) for c in self.session.scalars(select(ApiClient).order_by(ApiClient.created_at))
        ]

    def _client(self, client_id: str) -> ApiClient | None:
        return self.session.scalars(select(ApiClient).where(ApiClient.client_id == client_id)).one_or_none()

    def disable_client(self, client_id: str) -> ClientInfo:
        client = self._client(client_id)
        if client is None:
            raise NotFound(
                f"no API client {client_id!r} in tenant {self.tenant}",
                message_ja="該当するクライアントはありません",
            )
        if client.status != DISABLED:
            now = self._now()
            client.status = DISABLED
            client.disabled_at = now
            for token in self.session.scalars(
                select(ApiToken).where(ApiToken.client_pk == client.id, ApiToken.revoked_at.is_(None))
            ):
                token.revoked_at = now
            self.recorder.record("client_disabled", OBJ_CLIENT, client.client_id)
        return _client_info(client)

    def issue_token(
        self, client_id: str, client_secret: str, scope: Iterable[str] | None = None
    ) -> TokenOutcome:
        """Client credentials grant: a bearer token for an active client with the right secret."""
        client = self._client(client_id) if cred.tenant_of_token(client_id) == self.tenant else None
        if client is None:
            cred.verify_secret(self.hasher, cred.dummy_hash(self.hasher), client_secret)
            self.recorder.record("token_refused", OBJ_CLIENT, client_id[:64], reason="unknown_client")
            return TokenOutcome(error="invalid_client")
        if not cred.verify_secret(self.hasher, client.secret_hash, client_secret) or client.status != ACTIVE:
            reason = "wrong_secret" if client.status == ACTIVE else "disabled"
            self.recorder.record("token_refused", OBJ_CLIENT, client.client_id, reason=reason)
            return TokenOutcome(error="invalid_client")
        allowed = parse_permissions(_split(client.scopes))
        if scope is None:
            granted = allowed
        else:
            try:
                granted = parse_permissions(scope)
            except ValidationError:
                granted = frozenset()  # an unknown scope name is refused like one not granted
            if not granted or not granted <= allowed:
                self.recorder.record("token_refused", OBJ_CLIENT, client.client_id, reason="invalid_scope")
                return TokenOutcome(error="invalid_scope")
        now = self._now()
        token = cred.new_token(self.tenant)
        scopes_text = " ".join(sorted(p.value for p in granted))
        row = ApiToken(
            token_hash=cred.token_digest(token),
            client_pk=client.id,
            scopes=scopes_text,
            issued_at=now,
            expires_at=now + self.policy.token_lifetime,
        )
        self.session.add(row)
        self.session.flush()
        self.recorder.record("token_issued", OBJ_TOKEN, row.id, client=client.client_id, scopes=scopes_text)
        lifetime = int(self.policy.token_lifetime.total_seconds())
        return TokenOutcome(token=IssuedToken(token, as_utc(row.expires_at), lifetime, granted))

    def verify_token(self, token: str) -> ClientPrincipal:
        """The client behind a bearer token; refuses unknown, expired, revoked or foreign tokens."""
        if cred.tenant_of_token(token) != self.tenant:
            raise _token_invalid()
        row = self.session.scalars(
            select(ApiToken).where(ApiToken.token_hash == cred.token_digest(token))
        ).one_or_none()
        if row is None or row.revoked_at is not None or self._now() >= as_utc(row.expires_at):
            raise _token_invalid()
        client = self.session.get(ApiClient, row.client_pk)
        if client is None or client.status != ACTIVE:
            raise _token_invalid()
        return ClientPrincipal(
            tenant=self.tenant,
            client_id=client.client_id,
            name=client.name,
            scopes=parse_permissions(_split(row.scopes)),
            token_id=row.id,
            expires_at=as_utc(row.expires_at),
        )

    def revoke_token(self, token: str) -> bool:
        row = self.session.scalars(
            select(ApiToken).where(ApiToken.token_hash == cred.token_digest(token))
        ).one_or_none()
        if row is None or row.revoked_at is not None:
            return False
        row.revoked_at = self._now()
        self.recorder.record("token_revoked", OBJ_TOKEN, row.id)
        return True

    # -- housekeeping ---------------------------------------------------------------------------
    def purge_expired(self, keep_ended_for: timedelta = timedelta(days=90)) -> int:
        """Delete tokens and sessions that can no longer be used and are older than ``keep_ended_for``.

        Their audit entries stay in the audit log; only the lookup rows go.
        """
        cutoff = self._now() - keep_ended_for
        tokens = self.session.execute(delete(ApiToken).where(ApiToken.expires_at < cutoff))
        sessions = self.session.execute(
            delete(StaffSession).where(or_(StaffSession.expires_at < cutoff, StaffSession.ended_at < cutoff))
        )
        count = int(getattr(tokens, "rowcount", 0) or 0) + int(getattr(sessions, "rowcount", 0) or 0)
        if count:
            self.recorder.record("identity_purged", OBJ_SESSION, "", rows=count)
        return count


def _session_gone() -> SessionExpired:
    return SessionExpired(
        "no active session",
        message_ja="ログインの有効期限が切れました。もう一度ログインしてください",
    )


def _token_invalid() -> InvalidToken:
    return InvalidToken(
        "the bearer token is unknown, expired or revoked", message_ja="アクセストークンが無効です"
    )
