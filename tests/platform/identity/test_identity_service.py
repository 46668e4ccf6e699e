from __future__ import annotations

from datetime import timedelta

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select
from sqlalchemy.orm import Session

from jichitai.platform.errors import Conflict, ValidationError
from jichitai.platform.identity import credentials as cred
from jichitai.platform.identity.errors import (
    AccountLocked,
    AuthenticationFailed,
    InvalidClient,
    InvalidToken,
    MissingPermission,
    SessionExpired,
)
from jichitai.platform.identity.models import ApiClient, StaffAccount, StaffSession
from jichitai.platform.identity.roles import Permission, Role
from jichitai.platform.identity.service import IdentityService, LoginStatus
from jichitai.platform.identity.testing import TEST_PASSWORD as PASSWORD
from jichitai.platform.identity.testing import Clock, Recorder, fast_hasher


def add_clerk(service: IdentityService, login: str = "suzuki") -> None:
    service.create_staff(login, "鈴木 花子", [Role.REGISTRY_CLERK], PASSWORD)


# -- accounts and passwords ---------------------------------------------------------------------
def test_password_is_stored_as_argon2id_and_verifies(service: IdentityService, session: Session) -> None:
    add_clerk(service)
    stored = session.scalars(select(StaffAccount)).one()
    assert stored.password_hash.startswith("$argon2id$")
    assert PASSWORD not in stored.password_hash
    assert cred.verify_secret(service.hasher, stored.password_hash, PASSWORD)
    assert not cred.verify_secret(service.hasher, stored.password_hash, PASSWORD + "x")


def test_create_staff_validates_and_audits(service: IdentityService, recorder: Recorder) -> None:
    info = service.create_staff("ＴＡＮＡＫＡ", "田中 一郎", ["child_allowance_clerk", "auditor"], PASSWORD)
    assert info.login_id == "tanaka"  # full-width typed by mistake is normalized
    assert info.roles == {Role.CHILD_ALLOWANCE_CLERK, Role.AUDITOR}
    assert recorder.actions == ["staff_created"]
    with pytest.raises(Conflict):
        service.create_staff("tanaka", "別人", ["auditor"], PASSWORD)
    with pytest.raises(ValidationError, match="role"):
        service.create_staff("sato", "佐藤", ["mayor"], PASSWORD)
    with pytest.raises(ValidationError) as short:
        service.create_staff("sato", "佐藤", ["auditor"], "short-pass")
    assert short.value.message_ja == "パスワードは12文字以上にしてください"
    with pytest.raises(ValidationError):
        service.create_staff("a", "佐藤", ["auditor"], PASSWORD)


@pytest.mark.parametrize(
    ("password", "problem"),
    [
        ("abcdefghijk", "12文字以上"),
        ("aaaaaaaaaaaaaaaa", "繰り返し"),
        ("Password1234", "よく使われる"),
        ("my-suzuki-password", "ログインID"),
        ("長いパスワードは全角でも使えます", None),
        ("correct horse battery", None),
    ],
)
def test_password_policy(password: str, problem: str | None) -> None:
    found = cred.password_problem(password, login_id="suzuki")
    if problem is None:
        assert found is None
    else:
        assert found is not None
        assert problem in found


def test_change_password_ends_other_sessions(service: IdentityService, recorder: Recorder) -> None:
    add_clerk(service)
    first = service.login("suzuki", PASSWORD).session
    second = service.login("suzuki", PASSWORD).session
    assert first
    assert second
    with pytest.raises(AuthenticationFailed):
        service.change_password("suzuki", "wrong current pw", "another long secret")
    service.change_password("suzuki", PASSWORD, "another long secret", keep_session_id=second.session_id)
    with pytest.raises(SessionExpired):
        service.resolve_session(first.token)
    assert service.resolve_session(second.token).login_id == "suzuki"
    assert service.login("suzuki", "another long secret").ok
    assert "password_changed" in recorder.actions


# -- login, lockout ----------------------------------------------------------------------------
def test_login_ok_and_failed_are_audited(service: IdentityService, recorder: Recorder) -> None:
    add_clerk(service)
    bad = service.login("suzuki", "wrong password!")
    assert bad.status is LoginStatus.FAILED
    assert bad.message_ja == "団体コード、ログインIDまたはパスワードが正しくありません"
    ok = service.login("suzuki", PASSWORD)
    assert ok.ok
    assert ok.session is not None
    assert ok.account is not None
    assert ok.account.login_id == "suzuki"
    actions = recorder.actions
    assert actions[actions.index("login_failed") :] == ["login_failed", "login_ok", "session_created"]
    failed = next(e for e in recorder.entries if e.action == "login_failed")
    assert failed.object_id == "suzuki"
    assert failed.detail["reason"] == "wrong_password"


def test_unknown_account_runs_a_real_verification(
    service: IdentityService, recorder: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    original = PasswordHasher.verify

    def spy(self: PasswordHasher, hash_: str, password: str) -> bool:
        calls.append(hash_)
        return original(self, hash_, password)

    monkeypatch.setattr(PasswordHasher, "verify", spy)
    outcome = service.login("nobody", PASSWORD)
    assert outcome.status is LoginStatus.FAILED
    # the same argon2 work as for a real account, against a hash with the same parameters
    assert len(calls) == 1
    assert calls[0].startswith("$argon2id$v=19$m=8,t=1,p=1$")
    assert recorder.entries[-1].detail["reason"] == "unknown_account"
    # and the message does not tell unknown account from wrong password
    add_clerk(service)
    assert service.login("suzuki", "wrong password!").message_ja == outcome.message_ja


def test_lockout_after_five_failures_then_unlock_after_window(
    service: IdentityService, clock: Clock, recorder: Recorder
) -> None:
    add_clerk(service)
    for _ in range(4):
        assert service.login("suzuki", "wrong password!").status is LoginStatus.FAILED
    fifth = service.login("suzuki", "wrong password!")
    assert fifth.status is LoginStatus.LOCKED
    assert fifth.locked_until == clock.now + timedelta(minutes=15)
    # 2026-11-26 01:15 UTC is 10:15 in Japan
    assert "令和8年11月26日 10時15分以降" in fifth.message_ja
    assert "account_locked" in recorder.actions

    # the right password does not help while locked
    clock.advance(minutes=14)
    locked = service.login("suzuki", PASSWORD)
    assert locked.status is LoginStatus.LOCKED
    with pytest.raises(AccountLocked) as exc:
        locked.raise_for_failure()
    assert exc.value.http_status == 429
    assert recorder.actions[-1] == "login_locked"

    clock.advance(minutes=1, seconds=1)
    assert service.login("suzuki", PASSWORD).ok


def test_lock_duration_doubles_on_repeated_lockouts(service: IdentityService, clock: Clock) -> None:
    add_clerk(service)
    durations = []
    for _ in range(3):
        outcome = None
        for _ in range(5):
            outcome = service.login("suzuki", "wrong password!")
        assert outcome is not None
        assert outcome.locked_until is not None
        durations.append(outcome.locked_until - clock.now)
        clock.now = outcome.locked_until + timedelta(seconds=1)
    assert durations == [timedelta(minutes=15), timedelta(minutes=30), timedelta(minutes=60)]
    # a success resets the escalation
    assert service.login("suzuki", PASSWORD).ok
    outcomes = [service.login("suzuki", "wrong password!") for _ in range(5)]
    assert outcomes[-1].locked_until == clock.now + timedelta(minutes=15)


def test_disabled_account_cannot_log_in_and_loses_sessions(service: IdentityService) -> None:
    add_clerk(service)
    new = service.login("suzuki", PASSWORD).session
    assert new is not None
    service.disable_staff("suzuki")
    with pytest.raises(SessionExpired):
        service.resolve_session(new.token)
    assert service.login("suzuki", PASSWORD).status is LoginStatus.FAILED
    service.enable_staff("suzuki")
    assert service.login("suzuki", PASSWORD).ok


def test_login_rehashes_when_parameters_change(service: IdentityService, session: Session) -> None:
    add_clerk(service)
    old = session.scalars(select(StaffAccount)).one().password_hash
    service.hasher = PasswordHasher(time_cost=2, memory_cost=16, parallelism=1)
    assert service.login("suzuki", PASSWORD).ok
    new = session.scalars(select(StaffAccount)).one().password_hash
    assert new != old
    assert new.startswith("$argon2id$v=19$m=16,t=2,p=1$")
    assert service.login("suzuki", PASSWORD).ok


# -- sessions ----------------------------------------------------------------------------------
def test_session_token_stored_hashed_and_resolves(service: IdentityService, session: Session) -> None:
    add_clerk(service)
    new = service.login("suzuki", PASSWORD).session
    assert new is not None
    assert new.token.startswith("131016.")
    row = session.scalars(select(StaffSession)).one()
    assert row.token_hash == cred.token_digest(new.token)
    assert new.token not in row.token_hash
    principal = service.resolve_session(new.token)
    assert principal.login_id == "suzuki"
    assert principal.roles == {Role.REGISTRY_CLERK}
    assert principal.csrf_token == new.csrf_token
    assert len(new.csrf_token) == 64
    assert principal.has(Permission.REGISTRY_PERSON_READ)
    with pytest.raises(MissingPermission):
        principal.require(Permission.AUDIT_LOG_READ)
    with pytest.raises(SessionExpired):
        service.resolve_session(new.token + "x")


def test_session_idle_expiry_is_extended_by_activity(service: IdentityService, clock: Clock) -> None:
    add_clerk(service)
    new = service.login("suzuki", PASSWORD).session
    assert new is not None
    for _ in range(3):
        clock.advance(minutes=25)
        service.resolve_session(new.token)  # activity keeps it alive
    clock.advance(minutes=31)
    with pytest.raises(SessionExpired):
        service.resolve_session(new.token)


def test_session_absolute_expiry(service: IdentityService, clock: Clock, recorder: Recorder) -> None:
    add_clerk(service)
    new = service.login("suzuki", PASSWORD).session
    assert new is not None
    for _ in range(12 * 3):
        clock.advance(minutes=20)
        if clock.now >= new.expires_at:
            break
        service.resolve_session(new.token)
    with pytest.raises(SessionExpired):
        service.resolve_session(new.token)
    expired = [e for e in recorder.entries if e.action == "session_expired"]
    assert expired[-1].detail["reason"] == "absolute_timeout"


def test_logout_ends_session(service: IdentityService, recorder: Recorder) -> None:
    add_clerk(service)
    new = service.login("suzuki", PASSWORD).session
    assert new is not None
    assert service.end_session(new.token)
    assert not service.end_session(new.token)
    assert recorder.actions[-1] == "session_ended"
    with pytest.raises(SessionExpired):
        service.resolve_session(new.token)


def test_session_of_another_tenant_is_refused(
    service: IdentityService, session: Session, clock: Clock
) -> None:
    add_clerk(service)
    new = service.login("suzuki", PASSWORD).session
    assert new is not None
    other = IdentityService(session, Recorder(), "141003", clock=clock, hasher=fast_hasher())
    with pytest.raises(SessionExpired):
        other.resolve_session(new.token)


# -- API clients -------------------------------------------------------------------------------
def test_client_credentials_flow(
    service: IdentityService, session: Session, clock: Clock, recorder: Recorder
) -> None:
    created = service.create_client(
        "申請管理システム", ["applications:submission:pull", "applications:status:post"]
    )
    client_id, secret = created.client.client_id, created.client_secret
    assert client_id.startswith("131016-")
    row = session.scalars(select(ApiClient)).one()
    assert row.secret_hash.startswith("$argon2id$")
    assert secret not in row.secret_hash

    issued = service.issue_token(client_id, secret).raise_for_failure()
    assert issued.expires_in == 900
    principal = service.verify_token(issued.access_token)
    assert principal.client_id == client_id
    assert principal.has(Permission.APPLICATIONS_SUBMISSION_PULL)
    assert not principal.has(Permission.REGISTRY_PERSON_READ)
    assert principal.actor().kind.value == "system"

    narrowed = service.issue_token(client_id, secret, ["applications:status:post"]).raise_for_failure()
    assert service.verify_token(narrowed.access_token).scopes == {Permission.APPLICATIONS_STATUS_POST}
    assert service.issue_token(client_id, secret, ["registry:person:read"]).error == "invalid_scope"
    assert service.issue_token(client_id, secret, ["no:such:scope"]).error == "invalid_scope"

    with pytest.raises(InvalidClient):
        service.issue_token(client_id, secret + "x").raise_for_failure()
    assert service.issue_token("131016-unknown", secret).error == "invalid_client"
    assert "token_issued" in recorder.actions
    assert "client_created" in recorder.actions
    assert recorder.actions.count("token_refused") == 4

    clock.advance(minutes=15)
    with pytest.raises(InvalidToken):
        service.verify_token(issued.access_token)


def test_disabled_client_loses_tokens(service: IdentityService) -> None:
    created = service.create_client("連携", ["linkage:transfer:send"])
    issued = service.issue_token(created.client.client_id, created.client_secret).raise_for_failure()
    service.disable_client(created.client.client_id)
    with pytest.raises(InvalidToken):
        service.verify_token(issued.access_token)
    assert service.issue_token(created.client.client_id, created.client_secret).error == "invalid_client"


def test_token_of_another_tenant_is_refused(service: IdentityService, session: Session, clock: Clock) -> None:
    created = service.create_client("連携", ["linkage:transfer:send"])
    issued = service.issue_token(created.client.client_id, created.client_secret).raise_for_failure()
    other = IdentityService(session, Recorder(), "141003", clock=clock, hasher=fast_hasher())
    with pytest.raises(InvalidToken):
        other.verify_token(issued.access_token)
    assert other.issue_token(created.client.client_id, created.client_secret).error == "invalid_client"


def test_purge_expired(service: IdentityService, clock: Clock) -> None:
    created = service.create_client("連携", ["linkage:transfer:send"])
    service.issue_token(created.client.client_id, created.client_secret).raise_for_failure()
    assert service.purge_expired() == 0
    clock.advance(days=91)
    assert service.purge_expired() == 1
