"""Messages and a loopback installation (LGWAN and My Number test zones) for the linkage tests."""

from __future__ import annotations

import base64
import hashlib
import io
import secrets
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import pikepdf
from PIL import Image
from sqlalchemy import func, select

from jichitai.contracts.transfer import (
    AcceptedApplication,
    CaseResult,
    LinkTable,
    LinkTableRow,
    MessageType,
    TransferEnvelope,
)
from jichitai.linkage.config import LinkageConfig, parse_config
from jichitai.platform.audit.models import AuditEntry
from jichitai.platform.messaging import enqueue, new_envelope
from jichitai.platform.messaging.models import InboxMessage, OutboxMessage
from jichitai.platform.messaging.purposes import MESSAGING_TRANSFER
from jichitai.platform.storage import Storage
from jichitai.platform.zones import Zone
from tests.conftest import ctx
from tests.linkage.zone_apps import APPLIED, ThreadServer, zone_app

TENANT = "131016"
PURPOSE = MESSAGING_TRANSFER.code


def png_bytes() -> bytes:
    buf = io.BytesIO()
    img = Image.new("RGB", (16, 8), (30, 120, 200))
    exif = Image.Exif()
    exif[0x010E] = "GPS: 35.6895,139.6917 自宅"  # ImageDescription: metadata that must not cross
    img.save(buf, "PNG", exif=exif)
    return buf.getvalue()


def pdf_with_javascript() -> bytes:
    pdf = pikepdf.new()
    pdf.add_blank_page()
    pdf.Root.OpenAction = pikepdf.Dictionary(
        S=pikepdf.Name.JavaScript, JS=pikepdf.String("app.launchURL('x')")
    )
    buf = io.BytesIO()
    pdf.save(buf)
    return buf.getvalue()


def exe_named_pdf() -> bytes:
    return b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 120 + b"This program cannot be run in DOS mode"


def attachment(aid: str, filename: str, content_type: str, data: bytes) -> dict[str, Any]:
    return {
        "attachment_id": aid,
        "kind": "document",
        "filename": filename,
        "content_type": content_type,
        "size": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "data_b64": base64.b64encode(data).decode(),
    }


def accepted(
    n: int, attachments: list[dict[str, Any]] | None = None, tenant: str = TENANT
) -> TransferEnvelope:
    app = AcceptedApplication(
        receipt_number=f"R{n:07d}",
        tenant=tenant,
        procedure_id="child_allowance.claim",
        procedure_version="1",
        receiving_system="child_allowance",
        form={"claimant": {"name": "山田 花子", "individual_number": "123456789018"}},
        applicant_atena_number="000000000123",
        signer_serial="0A1B2C",
        attachments=attachments or [],
        accepted_by="clerk1",
        accepted_at=datetime(2026, 11, 26, 10, 0, tzinfo=UTC),
    )
    return new_envelope(
        MessageType.ACCEPTED_APPLICATION,
        source=Zone.LGWAN,
        destination=Zone.MYNUMBER,
        tenant=tenant,
        payload=app,
    )


def case_result(n: int) -> TransferEnvelope:
    result = CaseResult(
        receipt_number=f"R{n:07d}",
        tenant=TENANT,
        business="child_allowance",
        outcome="certified",
        status="decided",
        message_ja="認定しました",
        decided_at=datetime(2026, 11, 27, tzinfo=UTC),
    )
    return new_envelope(
        MessageType.CASE_RESULT, source=Zone.MYNUMBER, destination=Zone.LGWAN, tenant=TENANT, payload=result
    )


def link_table() -> TransferEnvelope:
    table = LinkTable(
        tenant=TENANT,
        generated_at=datetime(2026, 11, 26, tzinfo=UTC),
        full=True,
        rows=[
            LinkTableRow(
                serial="0A1B2C",
                certificate_use="signing",
                integrated_atena_number="000000000123",
                name="山田 花子",
                name_kana="ヤマダ ハナコ",
                birth_date=date(1990, 4, 1),
                address="東京都千代田区九段南1-2-1",
                valid_from=date(2026, 1, 1),
            )
        ],
    )
    return new_envelope(
        MessageType.LINK_TABLE, source=Zone.MYNUMBER, destination=Zone.LGWAN, tenant=TENANT, payload=table
    )


def put(storage: Storage, *envelopes: TransferEnvelope) -> None:
    for env in envelopes:
        with storage.unit_of_work(ctx(PURPOSE), Zone(env.source)) as uow:
            enqueue(uow, env)


def outbox_states(storage: Storage, zone: Zone) -> dict[str, tuple[str, str | None]]:
    with storage.unit_of_work(ctx(PURPOSE), zone) as uow:
        rows = uow.session.execute(
            select(OutboxMessage.message_id, OutboxMessage.state, OutboxMessage.reason)
        ).all()
    return {m: (s, r) for m, s, r in rows}


def applied(storage: Storage, zone: Zone) -> list[str]:
    """Message ids whose handler ran in ``zone`` (one audit entry each time it ran)."""
    with storage.unit_of_work(ctx(PURPOSE), zone) as uow:
        return list(
            uow.session.scalars(select(AuditEntry.object_id).where(AuditEntry.object_type == APPLIED))
        )


def inbox_count(storage: Storage, zone: Zone) -> int:
    with storage.unit_of_work(ctx(PURPOSE), zone) as uow:
        return int(uow.session.scalar(select(func.count()).select_from(InboxMessage)) or 0)


@dataclass
class Loopback:
    storage: Storage
    tokens: dict[Zone, str]
    servers: dict[Zone, ThreadServer]

    def config(self, **values: Any) -> LinkageConfig:
        peers = {
            z.value: {"url": s.url, "token": self.tokens[z], **values.pop(f"{z.value}_peer", {})}
            for z, s in self.servers.items()
        }
        base: dict[str, Any] = {
            "peers": peers,
            "poll_interval": 0.05,
            "backoff_initial": 0.05,
            "backoff_max": 0.2,
            "timeout": 5.0,
        }
        base.update(values)
        return parse_config(base)


@contextmanager
def loopback(storage: Storage) -> Iterator[Loopback]:
    tokens = {z: secrets.token_urlsafe(32) for z in (Zone.LGWAN, Zone.MYNUMBER)}
    with ExitStack() as stack:
        servers = {z: stack.enter_context(ThreadServer(zone_app(storage, z, tokens[z]))) for z in tokens}
        yield Loopback(storage, tokens, servers)
