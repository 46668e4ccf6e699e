"""The bearer token with which the linkage server, and only it, calls a zone's messaging endpoints.

Each zone that the linkage server reaches (its *peer*) has one token. The zone reads the token it
expects from ``JICHITAI_LINKAGE_TOKEN`` (or ``JICHITAI_LINKAGE_TOKEN_<ZONE>``), else from the file
``<home>/linkage/tokens/<zone>.token``; the linkage server reads the same value from its
``linkage.toml`` (``token_env`` or ``token_file`` per peer). Tokens are compared in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

from jichitai.platform.zones import Zone

TOKEN_ENV = "JICHITAI_LINKAGE_TOKEN"  # noqa: S105 - the variable's name, not a secret
MIN_TOKEN_LENGTH = 32


def token_file(home: Path, zone: Zone) -> Path:
    return home / "linkage" / "tokens" / f"{zone.value}.token"


def read_token_file(path: Path) -> str | None:
    try:
        value = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    return value or None


def expected_token(home: Path, zone: Zone) -> str | None:
    """The token this zone accepts from the linkage server; None when none is configured."""
    for name in (f"{TOKEN_ENV}_{zone.value.upper()}", TOKEN_ENV):
        value = os.environ.get(name, "").strip()
        if value:
            return value
    return read_token_file(token_file(home, zone))


def ensure_token(home: Path, zone: Zone) -> str:
    """The zone's token file, created with a fresh random token (mode 0600) when missing."""
    path = token_file(home, zone)
    existing = read_token_file(path)
    if existing:
        return existing
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    token = secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(token + "\n")
    return token


def token_matches(presented: str, expected: str) -> bool:
    """Constant-time comparison (over digests, so the length does not leak either)."""
    if len(expected) < MIN_TOKEN_LENGTH:
        return False  # a short configured token is refused rather than trusted
    a = hashlib.sha256(presented.encode("utf-8")).digest()
    b = hashlib.sha256(expected.encode("utf-8")).digest()
    return hmac.compare_digest(a, b)
