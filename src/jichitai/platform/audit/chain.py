"""The hash chain itself, as pure functions: canonical bytes, entry hashes, checkpoint payloads.

Everything that goes into a hash is text in a fixed form, so the same entry hashes the same on
SQLite and PostgreSQL, today and after a dump and restore:

- time is an ISO 8601 string in UTC with microseconds and a ``Z`` (``2026-11-26T01:02:03.000004Z``),
  stored as text, never as a database timestamp type whose rendering differs per driver;
- the ``detail`` is canonical JSON text (sorted keys, no spaces, UTF-8), stored exactly as hashed;
- the hash of entry *n* is SHA-256 over the hex hash of entry *n − 1* followed by the canonical JSON
  of every stored field of entry *n* (its ``seq`` included, so moving an entry breaks its hash).
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from jichitai.platform.errors import ValidationError

GENESIS_HASH = "0" * 64
"""The ``prev_hash`` of entry 1: there is nothing before it."""

HASHED_FIELDS: tuple[str, ...] = (
    "seq",
    "at",
    "zone",
    "tenant",
    "actor",
    "actor_kind",
    "role",
    "purpose",
    "legal_basis",
    "person",
    "action",
    "object_type",
    "object_id",
    "detail",
)
"""The columns of an audit entry covered by its hash (all but ``prev_hash`` and ``hash``)."""

# A signature over these bytes can never be mistaken for one over a certificate, a notice or a
# status event signed with the same tenant key.
_CHECKPOINT_DOMAIN = b"jichitai/audit-checkpoint/v1\n"

_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


def canonical_json(value: Any) -> bytes:
    """Sorted keys, no whitespace, UTF-8, no NaN: one byte string per value."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def _plain(value: object) -> str:
    # Values that use cases naturally put in a detail, turned into text one fixed way.
    if isinstance(value, datetime):
        return format_time(value) if value.tzinfo is not None else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal | uuid.UUID):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def detail_text(detail: Mapping[str, Any]) -> str:
    """The canonical JSON text of an entry's detail, as stored and hashed."""
    try:
        return json.dumps(
            dict(detail),
            sort_keys=True,
            separators=(",", ":"),
            ensure_ascii=False,
            allow_nan=False,
            default=_plain,
        )
    except (TypeError, ValueError) as exc:
        raise ValidationError(
            f"audit detail cannot be written as canonical JSON: {exc}",
            hint="use str keys and JSON values (str, int, bool, None, list, dict; dates become ISO text)",
        ) from exc


def format_time(at: datetime) -> str:
    """UTC, microseconds, fixed width: sorts as text in time order."""
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("audit time must be timezone-aware")
    return at.astimezone(UTC).strftime(_TIME_FORMAT)


def parse_time(text: str) -> datetime:
    return datetime.strptime(text, _TIME_FORMAT).replace(tzinfo=UTC)


def entry_hash(prev_hash: str, fields: Mapping[str, Any]) -> str:
    """SHA-256 (hex) chaining an entry's fields to the hash of the entry before it."""
    body = {name: fields[name] for name in HASHED_FIELDS}
    return hashlib.sha256(prev_hash.encode("ascii") + canonical_json(body)).hexdigest()


def checkpoint_payload(seq: int, chain_hash: str, signed_at: str) -> bytes:
    """The bytes a checkpoint signature covers.

    The chain hash already binds tenant and zone: every entry's hash covers both.
    """
    return _CHECKPOINT_DOMAIN + canonical_json({"hash": chain_hash, "seq": seq, "signed_at": signed_at})
