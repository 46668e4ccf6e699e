"""Building and checking :class:`~jichitai.contracts.transfer.TransferEnvelope` values.

The payload hash is SHA-256 over the payload's canonical JSON (keys sorted, no spaces, UTF-8), so
the source, the linkage server and the destination compute the same value from the same content
whatever key order the JSON arrived in.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel

from jichitai.contracts.transfer import MessageType, TransferEnvelope
from jichitai.platform.errors import ValidationError
from jichitai.platform.zones import Zone


def canonical_json(payload: Mapping[str, Any]) -> bytes:
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def payload_sha256(payload: Mapping[str, Any]) -> str:
    return hashlib.sha256(canonical_json(payload)).hexdigest()


def new_message_id() -> str:
    return uuid.uuid4().hex


def new_envelope(
    message_type: MessageType,
    *,
    source: Zone,
    destination: Zone,
    tenant: str,
    payload: BaseModel | Mapping[str, Any],
    message_id: str | None = None,
    created_at: datetime | None = None,
) -> TransferEnvelope:
    """An envelope for ``payload`` (a contract model or a JSON-ready mapping) with its hash."""
    body: dict[str, Any] = (
        payload.model_dump(mode="json")
        if isinstance(payload, BaseModel)
        else json.loads(canonical_json(payload))
    )
    return TransferEnvelope(
        message_id=message_id or new_message_id(),
        message_type=message_type,
        source=source.value,
        destination=destination.value,
        tenant=str(tenant),
        created_at=created_at or datetime.now(UTC),
        payload=body,
        payload_sha256=payload_sha256(body),
    )


def with_payload(envelope: TransferEnvelope, payload: Mapping[str, Any]) -> TransferEnvelope:
    """The same message (id, type, route) carrying a transformed payload and its new hash."""
    raw = canonical_json(payload)
    body = json.loads(raw)
    # the canonical form of the JSON-ready body is ``raw`` itself (string keys, JSON values): its
    # hash is taken from the one encoding instead of encoding the body (attachments and all) again
    return envelope.model_copy(update={"payload": body, "payload_sha256": hashlib.sha256(raw).hexdigest()})


def check_hash(envelope: TransferEnvelope) -> None:
    """Refuse an envelope whose payload does not match its declared hash."""
    try:
        actual = payload_sha256(envelope.payload)
    except UnicodeEncodeError:  # a lone surrogate in a payload string: no UTF-8, so no hash
        raise ValidationError(
            f"message {envelope.message_id}: the payload holds text that is not valid Unicode",
            message_ja="連携データに不正な文字が含まれています",
        ) from None
    if actual != envelope.payload_sha256:
        raise ValidationError(
            f"message {envelope.message_id}: payload hash {actual} does not match the declared "
            f"{envelope.payload_sha256}",
            hint="the payload was altered on the way; the source must send it again unchanged",
            message_ja="連携データのハッシュ値が一致しません(改ざんの可能性)",
        )
