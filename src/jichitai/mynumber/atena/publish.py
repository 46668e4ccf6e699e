"""Publishing the serial-number link table (シリアル番号紐付情報) to application management.

The My Number zone never opens a connection: it puts the table into its transactional outbox and
the linkage server carries it to the LGWAN zone. A delta goes out in the same transaction as each
change of a link or of a linked person's basic facts; the full table goes out on a schedule, so a
lost or late copy heals itself.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

from jichitai.contracts.transfer import LinkTable, MessageType, TransferEnvelope
from jichitai.mynumber.atena.purposes import LINK_TABLE_EXPORT
from jichitai.platform.context import TenantContext, system
from jichitai.platform.messaging import enqueue, new_envelope
from jichitai.platform.storage.engine import Storage, UnitOfWork
from jichitai.platform.tenants import TenantCode
from jichitai.platform.zones import Zone

FULL_TABLE_EVERY = timedelta(hours=1)


def enqueue_changes(uow: UnitOfWork, changed_at: datetime) -> int:
    """Queue the link-table rows changed at or after ``changed_at``; returns how many."""
    from jichitai.mynumber.atena.service import link_table

    table = link_table(uow, since=changed_at - timedelta(microseconds=1))
    if not table.rows:
        return 0
    enqueue(uow, _envelope(str(uow.tenant.code), table))
    return len(table.rows)


def publish_full(storage: Storage, tenant: str) -> int:
    """Queue the whole link table for one tenant (the scheduled refresh)."""
    from jichitai.mynumber.atena.service import link_table

    ctx = TenantContext(TenantCode(tenant), system("link-table"), LINK_TABLE_EXPORT)
    with storage.unit_of_work(ctx, Zone.MYNUMBER) as uow:
        table = link_table(uow)
        enqueue(uow, _envelope(tenant, table))
        return len(table.rows)


def _envelope(tenant: str, table: LinkTable) -> TransferEnvelope:
    return new_envelope(
        MessageType.LINK_TABLE, source=Zone.MYNUMBER, destination=Zone.LGWAN, tenant=tenant, payload=table
    )


def start_scheduler(
    storage: Storage, every: timedelta = FULL_TABLE_EVERY
) -> tuple[threading.Thread, threading.Event]:
    """Publish every active tenant's full table now and then every ``every``."""
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            for tenant in storage.catalog.list():
                if stop.is_set():
                    break
                if tenant.active:
                    try:
                        publish_full(storage, tenant.code)
                    except Exception:  # noqa: S112 - one tenant's failure must not stop the others
                        continue
            stop.wait(every.total_seconds())

    thread = threading.Thread(target=loop, name="link-table-publisher", daemon=True)
    thread.start()
    return thread, stop
