"""Status events and messages for residents, signed by the tenant."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from jichitai.contracts.submission import SubmissionStatus


class StatusEvent(BaseModel):
    """A change of an application's status, with an optional message to the resident.

    ``signature_b64`` is the tenant's ECDSA P-256 signature (its signing key, version
    ``key_version``) over :meth:`signed_bytes`; the portal checks it against the tenant's published
    signing public key before showing the event.
    """

    model_config = ConfigDict(frozen=True)

    schema_version: Literal["1"] = "1"
    event_id: str  # unique; posting the same event twice is idempotent
    receipt_number: str
    tenant: str
    status: SubmissionStatus
    message_ja: str = Field(default="", max_length=4000)
    reply_requested: bool = False  # e.g. a request for correction the resident answers on the portal
    at: datetime
    key_version: int = 0
    signature_b64: str = ""

    def signed_bytes(self) -> bytes:
        """The canonical bytes the tenant signs (everything but the signature)."""
        return self.model_dump_json(exclude={"signature_b64"}).encode()
