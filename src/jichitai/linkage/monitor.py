"""What the status page shows: transfers per tenant by state, refusals, recent traffic.

Only routing metadata and hashes are read here, never a payload.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from jichitai.linkage.flows import REASONS_JA, Refusal
from jichitai.linkage.models import Transfer, TransferState
from jichitai.linkage.purposes import LINKAGE_MONITOR
from jichitai.platform.context import TenantContext, operator
from jichitai.platform.storage import Storage
from jichitai.platform.tenants import TenantCode
from jichitai.platform.zones import Zone

STATE_LABELS = {
    TransferState.PICKED: "受取済(未配送)",
    TransferState.DELIVERED: "配送済(未確認)",
    TransferState.ACKED: "完了",
    TransferState.REFUSED: "拒否",
}


@dataclass(frozen=True)
class TransferRow:
    message_id: str
    message_type: str
    source: str
    destination: str
    state: str
    refusal: str | None
    reason: str | None
    source_sha256: str
    delivered_sha256: str | None
    picked_at: datetime
    acked_at: datetime | None

    @property
    def state_ja(self) -> str:
        return STATE_LABELS.get(self.state, self.state)

    @property
    def reason_ja(self) -> str:
        try:
            return REASONS_JA[Refusal(self.refusal)] if self.refusal else ""
        except ValueError:
            return ""


@dataclass(frozen=True)
class TenantSummary:
    code: str
    name: str
    counts: dict[str, int]
    refused: list[TransferRow]
    in_flight: list[TransferRow]
    recent: list[TransferRow]


def _row(t: Transfer) -> TransferRow:
    return TransferRow(
        t.message_id, t.message_type, t.source, t.destination, t.state, t.refusal, t.reason,
        t.source_sha256, t.delivered_sha256, t.picked_at, t.acked_at,
    )  # fmt: skip


def summary(storage: Storage, limit: int = 20) -> list[TenantSummary]:
    out: list[TenantSummary] = []
    for tenant in storage.catalog.list():
        ctx = TenantContext(TenantCode(tenant.code), operator("linkage-status"), LINKAGE_MONITOR)
        with storage.unit_of_work(ctx, Zone.LINKAGE) as uow:
            s = uow.session
            counts = {
                str(state): int(n)
                for state, n in s.execute(select(Transfer.state, func.count()).group_by(Transfer.state))
            }
            refused = s.scalars(
                select(Transfer)
                .where(Transfer.state == TransferState.REFUSED)
                .order_by(Transfer.picked_at.desc())
                .limit(limit)
            ).all()
            in_flight = s.scalars(
                select(Transfer)
                .where(Transfer.state.in_([TransferState.PICKED, TransferState.DELIVERED]))
                .order_by(Transfer.picked_at)
                .limit(limit)
            ).all()
            recent = s.scalars(select(Transfer).order_by(Transfer.updated_at.desc()).limit(limit)).all()
        out.append(
            TenantSummary(
                tenant.code,
                tenant.name,
                counts,
                [_row(t) for t in refused],
                [_row(t) for t in in_flight],
                [_row(t) for t in recent],
            )
        )
    return out
