"""Retention (保存期間): ciphertext that application management has acknowledged does not stay.

Once the LGWAN zone has fetched and acknowledged an application, the internet zone needs only the
routing metadata and the status history (the resident still sees them). After the retention
period :func:`purge_acknowledged` deletes the JWE of those applications and of the residents'
replies to them, marks each application purged (an audited update), and records one summary
entry; on the embedded backend it then removes the segment files that held only purged
ciphertexts (:mod:`jichitai.internet.submissions.ciphertexts`). Never-acknowledged applications
are never purged: nothing leaves before it was delivered.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from jichitai.internet.models import Application, ResidentReply
from jichitai.internet.purposes import RETENTION_PURGE
from jichitai.internet.submissions import ciphertexts
from jichitai.platform.context import TenantContext, operator
from jichitai.platform.errors import ValidationError
from jichitai.platform.storage import Storage, segments
from jichitai.platform.tenants import TenantCode
from jichitai.platform.zones import Zone

DEFAULT_RETENTION = timedelta(days=30)
BATCH = 500


@dataclass(frozen=True)
class PurgeReport:
    tenant: str
    cutoff: datetime
    applications: int  # applications whose ciphertext was deleted
    replies: int  # replies whose ciphertext was deleted
    segment_files: int = 0  # segment files removed (embedded backend)


def retention_period(storage: Storage) -> timedelta:
    """``submission_retention_days`` from the settings when present, else :data:`DEFAULT_RETENTION`."""
    days = getattr(storage.settings, "submission_retention_days", None)
    return timedelta(days=int(days)) if days is not None else DEFAULT_RETENTION


def purge_acknowledged(
    storage: Storage,
    tenant: str,
    older_than: timedelta | None = None,
    *,
    now: datetime | None = None,
    actor_name: str = "retention",
    segment_grace_seconds: float = segments.COLLECT_GRACE_SECONDS,
) -> PurgeReport:
    """Delete the ciphertext of applications acknowledged more than ``older_than`` ago.

    Segment files are removed once no row points into them and they were last written more than
    ``segment_grace_seconds`` ago (a writer may be filling a younger one)."""
    period = retention_period(storage) if older_than is None else older_than
    if period < timedelta(0):
        raise ValidationError("the retention period cannot be negative")
    cutoff = (now or datetime.now(UTC)) - period
    ctx = TenantContext(TenantCode(tenant), operator(actor_name), RETENTION_PURGE)
    purged = replies = 0
    while True:
        with storage.unit_of_work(ctx, Zone.INTERNET) as uow:
            rows = uow.session.scalars(
                select(Application)
                .where(Application.acknowledged_at.is_not(None))
                .where(Application.acknowledged_at < cutoff)
                .where(Application.purged_at.is_(None))
                .order_by(Application.acknowledged_at)
                .limit(BATCH)
            ).all()
            if not rows:
                break
            numbers = [r.receipt_number for r in rows]
            ciphertexts.delete(uow, numbers)
            result = uow.session.execute(
                update(ResidentReply)
                .where(ResidentReply.receipt_number.in_(numbers), ResidentReply.jwe.is_not(None))
                .values(jwe=None)
            )
            moment = datetime.now(UTC)
            for row in rows:
                row.purged_at = moment  # an audited update per application
            purged += len(rows)
            replies += int(getattr(result, "rowcount", 0) or 0)
            uow.record(
                "ciphertext_purged",
                "internet_applications",
                "",
                applications=len(rows),
                cutoff=cutoff.isoformat(),
            )
    with storage.unit_of_work(ctx, Zone.INTERNET) as uow:
        removed = ciphertexts.collect_segments(uow, grace_seconds=segment_grace_seconds)
        if removed:
            uow.record("segments_removed", "internet_ciphertext_segments", "", files=removed)
    return PurgeReport(tenant, cutoff, purged, replies, len(removed))


__all__ = ["DEFAULT_RETENTION", "PurgeReport", "purge_acknowledged", "retention_period"]
