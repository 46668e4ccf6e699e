"""Operator-level audit tasks across zones: verify the chains, sign checkpoints, show entries."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from jichitai.platform.audit import log
from jichitai.platform.audit.verify import format_report, verify
from jichitai.platform.context import AUDIT_REVIEW, Actor, TenantContext, operator
from jichitai.platform.storage.engine import Storage
from jichitai.platform.tenants import TenantCode
from jichitai.platform.zones import Zone


def _ctx(code: str, actor: Actor | None) -> TenantContext:
    return TenantContext(TenantCode(code), actor or operator(), AUDIT_REVIEW)


def verify_tenant(
    storage: Storage, code: str, *, zones: Sequence[Zone], actor: Actor | None = None
) -> Iterator[tuple[Zone, bool, str]]:
    """Verify each zone's chain; yields (zone, ok, one-paragraph report). The review is itself audited."""
    storage.catalog.get(code)
    for zone in zones:
        with storage.unit_of_work(_ctx(code, actor), zone) as uow:
            report = verify(uow.session, uow.keyring)
            uow.record("audit_verified", "platform.audit", code, ok=report.ok, checked=report.entries_checked)
        yield zone, report.ok, format_report(report)


def checkpoint_tenant(
    storage: Storage, code: str, *, zones: Sequence[Zone], actor: Actor | None = None
) -> Iterator[tuple[Zone, int]]:
    storage.catalog.get(code)
    for zone in zones:
        with storage.unit_of_work(_ctx(code, actor), zone) as uow:
            cp = log.checkpoint(uow.session, uow.keyring)
            seq = cp.seq if cp is not None else 0
        yield zone, seq


def show_entries(
    storage: Storage, code: str, zone: Zone, *, person: str | None, limit: int, actor: Actor | None = None
) -> list[tuple[object, ...]]:
    with storage.unit_of_work(_ctx(code, actor), zone) as uow:
        page = log.list_entries(uow.session, log.AuditFilter(person=person), page=1, page_size=limit)
        rows: list[tuple[object, ...]] = [
            (e.seq, e.at, e.actor, e.role, e.purpose, e.action, f"{e.object_type}:{e.object_id}", e.person)
            for e in page.entries
        ]
        uow.record("audit_listed", "platform.audit", code, person=person or "", count=len(rows))
    return rows
