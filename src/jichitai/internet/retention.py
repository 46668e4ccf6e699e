"""Retention (保存期間): ciphertext that application management has acknowledged does not stay.

Once the LGWAN zone has fetched and acknowledged an application, the internet zone needs only the
routing metadata and the status history (the resident still sees them). After the retention
period :func:`purge_acknowledged` deletes the JWE of those applications and of the residents'
replies to them, marks each application purged (an audited update), and records one summary
entry. Never-acknowledged applications are never purged: nothing leaves before it was delivered.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select, update

from jichitai.internet.models import Application, ApplicationCiphertext, ResidentReply
from jichitai.internet.purposes import RETENTION_PURGE
from jichitai.platform.context import TenantContext, operator
from jichitai.platform.errors import ValidationError
from jichitai.platform.storage import Storage
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
) -> PurgeReport:
    """Delete the ciphertext of applications acknowledged more than ``older_than`` ago."""
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
            uow.session.execute(
                delete(ApplicationCiphertext).where(ApplicationCiphertext.receipt_number.in_(numbers))
            )
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
    return PurgeReport(tenant, cutoff, purged, replies)


__all__ = ["DEFAULT_RETENTION", "PurgeReport", "purge_acknowledged", "retention_period"]
