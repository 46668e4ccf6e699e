"""Foreign residents whose 在留期間 ends by a given day: where the review of ending stays starts.

When a 在留期間満了日 passes with no 在留期間更新 or 在留資格変更 recorded, the municipality checks
whether the resident still lives here lawfully: one who applied in time may stay until the
decision, up to two months after the 満了日 (特例期間, 入管法第20条第6項). When the 法務大臣's notice
(住基法第30条の50) says the stay has ended, the record is removed ex officio (職権消除). The list
gives the residents whose 満了日 falls on or before a day, the earliest first, a page at a time;
each person shown is audited as a search hit is.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import ColumnElement, func, literal_column, select

from jichitai.mynumber.registry.errors import RegistryRefusal
from jichitai.mynumber.registry.models import STATUS_RESIDENT, Household, Person
from jichitai.platform.storage import UnitOfWork

MAX_PAGE_SIZE = 200


@dataclass(frozen=True)
class StayRow:
    atena_number: str
    name: str
    alias: str | None  # 通称
    nationality: str | None
    residence_status: str | None
    stay_expires_on: date  # 在留期間満了日
    address: str
    household_number: str


@dataclass(frozen=True)
class StayPage:
    rows: tuple[StayRow, ...]
    total: int  # residents whose 満了日 is on or before ``until``
    until: date
    page: int
    page_size: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.page_size))


def _ending(until: date) -> tuple[ColumnElement[bool], ...]:
    # The partial index's predicate (models.STAY_REVIEW_WHERE), restated with the status as a
    # literal: a bound parameter makes PostgreSQL's generic plan (a statement prepared after a few
    # runs) unable to prove the predicate, and it scanned the whole table instead.
    return (
        Person.status == literal_column(f"'{STATUS_RESIDENT}'"),
        Person.stay_expires_on.is_not(None),
        Person.stay_expires_on <= until,
    )


def stay_ending(uow: UnitOfWork, *, until: date, page: int = 1, page_size: int = 50) -> StayPage:
    """One page of foreign residents living here whose 在留期間 ends on or before ``until``."""
    if page < 1 or not 1 <= page_size <= MAX_PAGE_SIZE:
        raise RegistryRefusal([f"ページは1以上、1ページの件数は1〜{MAX_PAGE_SIZE}件です"], message="bad page")
    total = int(uow.session.scalar(select(func.count()).select_from(Person).where(*_ending(until))) or 0)
    # The page's ids first, in the index's order (an index-only range scan that stops after the
    # page), then the rows and households of those alone: joined before the limit, the planner
    # read and sorted every match of a broad day (tens of thousands at city scale).
    ids = (
        select(Person.id, Person.stay_expires_on)
        .where(*_ending(until))
        .order_by(Person.stay_expires_on, Person.id)
        .offset((page - 1) * page_size)
        .limit(page_size)
        .subquery()
    )
    rows = uow.session.execute(
        select(
            Person.atena_number,
            Person.name,
            Person.alias,
            Person.nationality,
            Person.residence_status,
            Person.stay_expires_on,
            Person.address_text,
            Household.household_number,
        )
        .join(ids, ids.c.id == Person.id)
        .join(Household, Household.id == Person.household_id)
        .order_by(ids.c.stay_expires_on, ids.c.id)
    ).all()
    shown = tuple(
        StayRow(
            r.atena_number,
            r.name,
            r.alias,
            r.nationality,
            r.residence_status,
            r.stay_expires_on or until,  # never NULL here (the where-clause)
            r.address_text,
            r.household_number,
        )
        for r in rows
    )
    for r in shown:
        uow.record("read", "registry.person", r.atena_number, person=r.atena_number, view="stay_review")
    if not shown:
        uow.record("search", "registry.person", "", criteria=["stay_expires_on"], results=0)
    return StayPage(shown, total, until, page, page_size)
