"""The pure parts of the chain: canonical bytes, times, entry hashes, checkpoint payloads."""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

from jichitai.platform.audit.chain import (
    GENESIS_HASH,
    HASHED_FIELDS,
    canonical_json,
    checkpoint_payload,
    detail_text,
    entry_hash,
    format_time,
    parse_time,
)
from jichitai.platform.errors import ValidationError

JST = timezone(timedelta(hours=9))

FIELDS: dict[str, Any] = {
    "seq": 7,
    "at": "2026-11-26T00:00:00.000001Z",
    "zone": "mynumber",
    "tenant": "131016",
    "actor": "clerk1",
    "actor_kind": "staff",
    "role": "registry_clerk",
    "purpose": "registry.certificate.issue",
    "legal_basis": "住民基本台帳法第12条",
    "person": "P0001",
    "action": "read",
    "object_type": "registry.person",
    "object_id": "42",
    "detail": "{}",
}


def test_canonical_json_is_one_byte_string_per_value() -> None:
    assert canonical_json({"b": 1, "a": [1, "髙"]}) == '{"a":[1,"髙"],"b":1}'.encode()
    assert canonical_json({"a": 1, "b": 2}) == canonical_json({"b": 2, "a": 1})
    with pytest.raises(ValueError):
        canonical_json({"x": float("inf")})


def test_detail_text_turns_common_values_into_fixed_text() -> None:
    text = detail_text(
        {
            "d": date(2026, 4, 1),
            "t": datetime(2026, 4, 1, 9, 0, tzinfo=JST),
            "n": Decimal("10000.50"),
            "u": uuid.UUID(int=1),
        }
    )
    assert text == (
        '{"d":"2026-04-01","n":"10000.50","t":"2026-04-01T00:00:00.000000Z",'
        '"u":"00000000-0000-0000-0000-000000000001"}'
    )
    with pytest.raises(ValidationError):
        detail_text({1: "int keys mixed with", "a": "str keys"})  # type: ignore[dict-item]


def test_time_is_fixed_width_utc_with_microseconds() -> None:
    jst = datetime(2026, 1, 1, 8, 59, 59, 5, tzinfo=JST)
    assert format_time(jst) == "2025-12-31T23:59:59.000005Z"
    assert parse_time(format_time(jst)) == jst
    assert format_time(datetime(2026, 1, 1, tzinfo=UTC)) < format_time(
        datetime(2026, 1, 1, 0, 0, 0, 1, tzinfo=UTC)
    )
    with pytest.raises(ValueError):
        format_time(datetime(2026, 1, 1))


def test_entry_hash_covers_every_field_and_the_link() -> None:
    base = entry_hash(GENESIS_HASH, FIELDS)
    assert len(base) == 64 and base == entry_hash(GENESIS_HASH, dict(FIELDS))
    assert entry_hash("1" * 64, FIELDS) != base
    for name in HASHED_FIELDS:
        changed = {**FIELDS, name: FIELDS[name] + 1 if name == "seq" else str(FIELDS[name]) + "x"}
        assert entry_hash(GENESIS_HASH, changed) != base, name
    # extra keys (prev_hash, hash, anything) do not change what is hashed
    assert entry_hash(GENESIS_HASH, {**FIELDS, "hash": "whatever"}) == base


def test_entry_hash_is_sha256_of_prev_hash_and_canonical_json() -> None:
    # written out by hand, so that anyone can re-check a log without this code
    body = json.dumps(FIELDS, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    assert entry_hash(GENESIS_HASH, FIELDS) == hashlib.sha256(GENESIS_HASH.encode() + body).hexdigest()
    # and pinned: the chain must hash the same forever, or every stored log breaks
    assert (
        entry_hash(GENESIS_HASH, FIELDS) == "a15a3141e39c33a92ac7911d153e0ac8e448f053c140e0cf6fefb9d64389a7cd"
    )


def test_checkpoint_payload_binds_seq_hash_and_time_under_its_own_domain() -> None:
    p = checkpoint_payload(8, "ab" * 32, "2026-11-26T00:00:00.000000Z")
    assert p.startswith(b"jichitai/audit-checkpoint/v1\n")
    assert p != checkpoint_payload(9, "ab" * 32, "2026-11-26T00:00:00.000000Z")
    assert p != checkpoint_payload(8, "ac" * 32, "2026-11-26T00:00:00.000000Z")
    assert p != checkpoint_payload(8, "ab" * 32, "2026-11-26T00:00:00.000001Z")
