"""Rules and primitives for credentials: login ids, the password policy, hashing, random tokens.

Pure functions apart from the randomness of new tokens. The password policy follows NIST SP
800-63B rather than composition rules: length matters, known-bad choices are refused, and any
character (全角 included) may be used.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import unicodedata

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from jichitai.platform.errors import ValidationError
from jichitai.platform.tenants import TenantCode

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 256  # bounds the work an attacker can make the hasher do
_LOGIN_ID = re.compile(r"^[a-z0-9][a-z0-9._-]{2,63}$")
_COMMON = frozenset(
    {
        "password1234",
        "passwordpassword",
        "123456789012",
        "qwertyuiopas",
        "1qaz2wsx3edc",
        "administrator",
        "jichitai1234",
    }
)


def normalize_login_id(value: str) -> str:
    """A login id as stored: NFKC (full-width letters typed by mistake become ASCII), lower case."""
    return unicodedata.normalize("NFKC", value).strip().lower()


def check_login_id(value: str) -> str:
    login_id = normalize_login_id(value)
    if not _LOGIN_ID.match(login_id):
        raise ValidationError(
            f"login id {value!r} must be 3–64 characters of a–z, 0–9, '.', '_' or '-', "
            "starting with a letter or digit",
            message_ja="ログインIDは半角英小文字・数字・「.」「_」「-」の3〜64文字で、英数字で始めてください",
        )
    return login_id


def check_display_name(value: str) -> str:
    name = unicodedata.normalize("NFC", value).strip()
    if not name or len(name) > 100 or any(unicodedata.category(c) == "Cc" for c in name):
        raise ValidationError(
            "display name must be 1–100 printable characters",
            message_ja="氏名は1〜100文字で入力してください",
        )
    return name


def password_problem(password: str, *, login_id: str = "") -> str | None:
    """The Japanese reason why ``password`` is refused, or None when it is acceptable."""
    text = unicodedata.normalize("NFC", password)
    if len(text) < MIN_PASSWORD_LENGTH:
        return f"パスワードは{MIN_PASSWORD_LENGTH}文字以上にしてください"
    if len(text) > MAX_PASSWORD_LENGTH:
        return f"パスワードは{MAX_PASSWORD_LENGTH}文字以内にしてください"
    if any(unicodedata.category(c) == "Cc" for c in text):
        return "パスワードに制御文字は使えません"
    if len(set(text)) <= 2:
        return "同じ文字の繰り返しはパスワードに使えません"
    lowered = text.lower()
    if lowered in _COMMON:
        return "よく使われるパスワードは使えません"
    if login_id and len(login_id) >= 3 and login_id.lower() in lowered:
        return "パスワードにログインIDを含めないでください"
    return None


def check_password(password: str, *, login_id: str = "") -> None:
    problem = password_problem(password, login_id=login_id)
    if problem is not None:
        raise ValidationError(
            f"password refused by the policy (at least {MIN_PASSWORD_LENGTH} characters, not trivial)",
            message_ja=problem,
        )


def default_hasher() -> PasswordHasher:
    """argon2id with argon2-cffi's defaults (RFC 9106 low-memory profile: t=3, m=64 MiB, p=4)."""
    return PasswordHasher()


_dummy_hashes: dict[tuple[int, int, int, int, int], str] = {}


def dummy_hash(hasher: PasswordHasher) -> str:
    """A hash with ``hasher``'s parameters that matches no password anyone knows.

    Verifying against it when the account does not exist makes an unknown login id cost the same
    time as a wrong password, so response times do not reveal which login ids exist.
    """
    key = (hasher.time_cost, hasher.memory_cost, hasher.parallelism, hasher.hash_len, hasher.salt_len)
    value = _dummy_hashes.get(key)
    if value is None:
        value = hasher.hash(secrets.token_urlsafe(32))
        _dummy_hashes[key] = value
    return value


def verify_secret(hasher: PasswordHasher, stored_hash: str, secret: str) -> bool:
    try:
        return hasher.verify(stored_hash, secret)
    except (VerificationError, InvalidHashError):
        return False


# -- random tokens ------------------------------------------------------------------------------
# Session cookies, bearer tokens and client ids carry their tenant code in front, so a request
# can be routed to the right tenant's database before anything is looked up, and a token of one
# tenant can never match a row in another's.


def new_token(tenant: TenantCode) -> str:
    return f"{tenant}.{secrets.token_urlsafe(32)}"


def new_client_id(tenant: TenantCode) -> str:
    return f"{tenant}-{secrets.token_hex(8)}"


def new_client_secret() -> str:
    return secrets.token_urlsafe(32)


def tenant_of_token(value: str) -> TenantCode | None:
    """The tenant code a token or client id starts with, or None when it is malformed."""
    head, sep, rest = value.partition("." if "." in value[:7] else "-")
    if not sep or not rest or len(value) > 200:
        return None
    try:
        return TenantCode(head)
    except ValidationError:
        return None


def token_digest(token: str) -> str:
    """SHA-256 hex of a token: what is stored and looked up."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def csrf_token_for(session_token: str) -> str:
    """The CSRF token of a session, derived from its secret token (nothing more to store).

    Only the holder of the session cookie can compute it, and a page can always show it again.
    """
    mac = hmac.new(session_token.encode("utf-8"), b"jichitai-csrf-v1", hashlib.sha256)
    return mac.hexdigest()


def same_secret(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))
