"""The link table leaves the My Number zone through its outbox: on change and in full on a schedule."""

from __future__ import annotations

from datetime import date

from jichitai.contracts.transfer import LinkTable, MessageType
from jichitai.mynumber.atena.publish import publish_full
from jichitai.mynumber.atena.service import AtenaService, BasicFacts
from jichitai.platform.messaging import pending
from jichitai.platform.storage.engine import Storage
from jichitai.platform.zones import Zone
from tests.conftest import ctx


def _queued(storage: Storage) -> list[LinkTable]:
    with storage.unit_of_work(ctx("platform.messaging.transfer"), Zone.MYNUMBER) as uow:
        return [
            LinkTable.model_validate(e.payload)
            for e in pending(uow, limit=100)
            if e.message_type is MessageType.LINK_TABLE and e.destination == "lgwan"
        ]


def test_a_new_link_is_queued_with_the_change_and_the_full_table_on_demand(sqlite_storage: Storage) -> None:
    atena = AtenaService(sqlite_storage)
    who = atena.register_non_resident(
        ctx("atena.person.manage"),
        BasicFacts("紐付　花子", "ヒモヅケ　ハナコ", date(1990, 4, 1), "東京都千代田区九段南1-2-1"),
    )
    atena.link_serial(ctx("atena.serial_link.manage"), who, "ABC123", "signing", date(2026, 4, 1))
    deltas = _queued(sqlite_storage)
    assert len(deltas) == 1
    assert not deltas[0].full
    assert [(r.serial, r.integrated_atena_number) for r in deltas[0].rows] == [("ABC123", who)]
    assert publish_full(sqlite_storage, "131016") == 1
    tables = _queued(sqlite_storage)
    assert [t.full for t in tables] == [False, True]
    # never a 個人番号 in what leaves the zone
    assert "individual" not in tables[1].model_dump_json()
