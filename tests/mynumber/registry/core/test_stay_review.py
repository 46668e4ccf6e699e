"""The review of ending stays: foreign residents living here whose 在留期間 ends by a day."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import text

from jichitai.mynumber.registry.errors import RegistryRefusal
from jichitai.mynumber.registry.service import Death, RegistryService, StayExtension
from jichitai.platform.audit.log import entries_for_person
from jichitai.platform.storage import Storage
from jichitai.platform.zones import Zone
from tests.conftest import ctx
from tests.mynumber.registry.core.support import (
    TODAY,
    foreign_head,
    japanese_head,
    move_in_one,
    read_ctx,
    submit,
)


def _foreigner(svc: RegistryService, name: str, kana: str, status: str, until: date | None) -> str:
    return move_in_one(
        svc,
        foreign_head(name, kana, "1", nationality="ベトナム", residence_status=status, stay_expires_on=until),
        previous_address="ベトナム",
        from_abroad=True,
    )


def test_the_stays_ending_by_a_day_are_listed_earliest_first(
    svc: RegistryService, reg_storage: Storage
) -> None:
    ended = _foreigner(svc, "NGUYEN　AN", "グエン　アン", "留学", TODAY - timedelta(days=10))
    soon = _foreigner(svc, "TRAN　BINH", "チャン　ビン", "技能", TODAY + timedelta(days=20))
    later = _foreigner(svc, "LE　CHI", "レ　チー", "家族滞在", TODAY + timedelta(days=90))
    _foreigner(svc, "PHAM　DUNG", "ファム　ズン", "永住者", None)  # no period to end
    move_in_one(svc, japanese_head("日本　太郎", "ニホン　タロウ"))
    gone = _foreigner(svc, "VO　EM", "ヴォ　エム", "留学", TODAY - timedelta(days=5))
    submit(svc, Death, TODAY, TODAY, atena_number=gone)

    listed = svc.stay_ending(read_ctx(), TODAY + timedelta(days=30))
    assert [r.atena_number for r in listed.rows] == [ended, soon]  # not the 除票, not the 永住者
    assert listed.total == 2 and listed.pages == 1
    assert (listed.rows[0].residence_status, listed.rows[0].stay_expires_on) == (
        "留学",
        TODAY - timedelta(days=10),
    )
    everyone = svc.stay_ending(read_ctx(), TODAY + timedelta(days=365), page_size=2)
    assert (everyone.total, everyone.pages) == (3, 2)
    second = svc.stay_ending(read_ctx(), TODAY + timedelta(days=365), page=2, page_size=2)
    assert [r.atena_number for r in second.rows] == [later]

    # a 在留期間更新 takes the resident off the list
    submit(
        svc,
        StayExtension,
        TODAY,
        None,
        atena_number=soon,
        stay_expires_on=TODAY + timedelta(days=700),
        residence_card_number="EF87654321GH",
    )
    assert [r.atena_number for r in svc.stay_ending(read_ctx(), TODAY + timedelta(days=30)).rows] == [ended]

    with reg_storage.unit_of_work(ctx("platform.audit.review"), Zone.MYNUMBER) as uow:
        reads = [e for e in entries_for_person(uow.session, ended) if e.action == "read"]
    assert any('"stay_review"' in e.detail and e.purpose == "registry.person.read" for e in reads)
    with pytest.raises(RegistryRefusal):
        svc.stay_ending(read_ctx(), TODAY, page=0)


def test_the_review_reads_its_partial_index(reg_storage: Storage) -> None:
    """The index holds only foreign residents living here (the where-clause the query restates)."""
    tenant = reg_storage.tenant("131016")
    with reg_storage.tenant_engine(Zone.MYNUMBER, tenant).connect() as conn:
        if conn.dialect.name == "postgresql":
            sql = conn.scalar(
                text("SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_registry_persons_stay_expires'")
            )
        else:
            sql = conn.scalar(
                text("SELECT sql FROM sqlite_master WHERE name = 'ix_registry_persons_stay_expires'")
            )
    assert sql is not None and "resident" in sql and "stay_expires_on IS NOT NULL" in sql
