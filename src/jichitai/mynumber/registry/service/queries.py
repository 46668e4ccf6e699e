"""Reading the registry: current records, and history (as of a date, as recorded at a time).

Functions here take a unit of work and record an audit entry per person shown; the service opens
the unit of work and checks the purpose.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy import Select, or_, select

from jichitai.mynumber.registry.errors import RegistryRefusal
from jichitai.mynumber.registry.models import STATUS_RESIDENT, Household, Person, PersonVersion
from jichitai.platform.errors import NotFound
from jichitai.platform.storage import UnitOfWork


@dataclass(frozen=True)
class PersonRecord:
    """One person's 住民票 facts (current, or as of a date). Japanese items in comments."""

    atena_number: str  # 統合宛名番号
    juminhyo_code: str  # 住民票コード
    household_number: str  # 世帯番号
    relationship: str  # 続柄
    name: str  # 氏名
    name_kana: str
    alias: str | None  # 通称
    alias_kana: str | None
    birth_date: date
    sex: str  # 1 男 / 2 女
    kind: str  # 日本人 / 外国人
    became_resident_on: date  # 住民となった日
    address: str  # 住所 (normalized)
    address_note: str | None  # 方書
    address_since: date  # 住所を定めた日
    previous_address: str | None  # 前住所
    address_before_move_in: str | None  # 転入前住所
    honseki: str | None  # 本籍
    hittosha: str | None  # 筆頭者
    nationality: str | None
    residence_status: str | None
    stay_expires_on: date | None
    residence_card_number: str | None
    status: str  # resident / removed
    removal_reason: str | None  # 消除事由
    removed_on: date | None  # 消除日
    moved_out_to: str | None
    move_out_confirmed: bool | None
    last_change: str  # 異動事由
    last_change_on: date  # 異動日
    last_notified_on: date | None  # 届出日
    individual_number: str | None = None  # 個人番号: only when asked for, and audited
    former_surname: str | None = None  # 旧氏
    former_surname_kana: str | None = None

    @property
    def is_removed(self) -> bool:
        return self.status != STATUS_RESIDENT

    def is_resident_on(self, day: date) -> bool:
        return self.status == STATUS_RESIDENT or (self.removed_on is not None and self.removed_on > day)


@dataclass(frozen=True)
class VersionRecord:
    """One bitemporal version of a person's facts.

    Valid [valid_from, valid_to) in the world; believed [recorded_at, superseded_at) by the register.
    """

    record: PersonRecord
    valid_from: date
    valid_to: date | None
    recorded_at: datetime
    superseded_at: datetime | None
    change_id: str


@dataclass(frozen=True)
class HouseholdRecord:
    household_number: str
    head: PersonRecord | None
    members: tuple[PersonRecord, ...]  # head first, then by birth date
    as_of: date | None = None


def _aware(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def to_record(row: Person | PersonVersion, household_number: str, juminhyo_code: str) -> PersonRecord:
    return PersonRecord(
        atena_number=row.atena_number,
        juminhyo_code=juminhyo_code,
        household_number=household_number,
        relationship=row.relationship,
        name=row.name,
        name_kana=row.name_kana,
        alias=row.alias,
        alias_kana=row.alias_kana,
        birth_date=row.birth_date,
        sex=row.sex,
        kind=row.kind,
        became_resident_on=row.became_resident_on,
        address=row.address_text,
        address_note=row.address_note,
        address_since=row.address_since,
        previous_address=row.previous_address,
        address_before_move_in=row.address_before_move_in,
        honseki=row.honseki,
        hittosha=row.hittosha,
        nationality=row.nationality,
        residence_status=row.residence_status,
        stay_expires_on=row.stay_expires_on,
        residence_card_number=row.residence_card_number,
        status=row.status,
        removal_reason=row.removal_reason,
        removed_on=row.removed_on,
        moved_out_to=row.moved_out_to,
        move_out_confirmed=row.move_out_confirmed,
        last_change=row.last_change,
        last_change_on=row.last_change_on,
        last_notified_on=row.last_notified_on,
        former_surname=row.former_surname,
        former_surname_kana=row.former_surname_kana,
    )


def _person(uow: UnitOfWork, atena_number: str) -> Person:
    p = uow.session.scalar(select(Person).where(Person.atena_number == atena_number))
    if p is None:
        raise NotFound(
            f"no registry record for atena number {atena_number}",
            message_ja=f"統合宛名番号 {atena_number} の住民記録がありません",
        )
    return p


def _household(uow: UnitOfWork, number: str) -> Household:
    h = uow.session.scalar(select(Household).where(Household.household_number == number))
    if h is None:
        raise NotFound(f"no household {number}", message_ja=f"世帯番号 {number} の世帯がありません")
    return h


def _household_numbers(uow: UnitOfWork, ids: set[str]) -> dict[str, str]:
    if not ids:
        return {}
    rows = uow.session.execute(select(Household.id, Household.household_number).where(Household.id.in_(ids)))
    return {r.id: r.household_number for r in rows}


def _shown(uow: UnitOfWork, records: Sequence[PersonRecord], view: str, **detail: object) -> None:
    for r in records:
        uow.record("read", "registry.person", r.atena_number, person=r.atena_number, view=view, **detail)


def current_person(
    uow: UnitOfWork, atena_number: str, *, with_individual_number: bool = False
) -> PersonRecord:
    p = _person(uow, atena_number)
    number = _household_numbers(uow, {p.household_id})[p.household_id]
    record = to_record(p, number, p.juminhyo_code)
    if with_individual_number and p.individual_number_enc is not None:
        plain = uow.keyring.field_decrypt(
            Person.__tablename__, "individual_number", p.id, p.individual_number_enc
        )
        record = _with_number(record, plain)
    _shown(uow, [record], "person", individual_number=with_individual_number)
    return record


def _with_number(record: PersonRecord, number: str) -> PersonRecord:
    from dataclasses import replace

    return replace(record, individual_number=number)


def current_household(uow: UnitOfWork, number: str, *, include_removed: bool = False) -> HouseholdRecord:
    h = _household(uow, number)
    stmt = select(Person).where(Person.household_id == h.id)
    if not include_removed:
        stmt = stmt.where(Person.status == STATUS_RESIDENT)
    records = [to_record(p, number, p.juminhyo_code) for p in uow.session.scalars(stmt)]
    return _household_record(uow, number, records, None)


def _household_record(
    uow: UnitOfWork, number: str, records: list[PersonRecord], as_of: date | None
) -> HouseholdRecord:
    records.sort(key=lambda r: (r.relationship != "世帯主", r.is_removed, r.birth_date, r.atena_number))
    head = next((r for r in records if r.relationship == "世帯主" and not r.is_removed), None)
    _shown(uow, records, "household", household=number, as_of=as_of.isoformat() if as_of else "")
    return HouseholdRecord(number, head, tuple(records), as_of)


def _believed(stmt: Select[PersonVersion], known_at: datetime | None) -> Select[PersonVersion]:
    """Versions as recorded now (not superseded), or as the register stood at ``known_at``."""
    if known_at is None:
        return stmt.where(PersonVersion.superseded_at.is_(None))
    return stmt.where(
        PersonVersion.recorded_at <= known_at,
        or_(PersonVersion.superseded_at.is_(None), PersonVersion.superseded_at > known_at),
    )


def _valid_on(stmt: Select[PersonVersion], on: date) -> Select[PersonVersion]:
    return stmt.where(
        PersonVersion.valid_from <= on, or_(PersonVersion.valid_to.is_(None), PersonVersion.valid_to > on)
    )


def _codes(uow: UnitOfWork, person_ids: set[str]) -> dict[str, str]:
    if not person_ids:
        return {}
    rows = uow.session.execute(select(Person.id, Person.juminhyo_code).where(Person.id.in_(person_ids)))
    return {r.id: r.juminhyo_code for r in rows}


def _records(uow: UnitOfWork, versions: Sequence[PersonVersion]) -> list[PersonRecord]:
    numbers = _household_numbers(uow, {v.household_id for v in versions})
    codes = _codes(uow, {v.person_id for v in versions})
    return [to_record(v, numbers[v.household_id], codes[v.person_id]) for v in versions]


def person_as_of(
    uow: UnitOfWork, atena_number: str, on: date, *, known_at: datetime | None = None
) -> PersonRecord | None:
    """The person's facts valid on ``on`` (as recorded now, or as recorded at ``known_at``)."""
    p = _person(uow, atena_number)
    stmt = _valid_on(_believed(select(PersonVersion).where(PersonVersion.person_id == p.id), known_at), on)
    version = uow.session.scalars(stmt.order_by(PersonVersion.recorded_at.desc())).first()
    if version is None:
        return None
    record = _records(uow, [version])[0]
    _shown(uow, [record], "person_as_of", on=on.isoformat())
    return record


def household_as_of(
    uow: UnitOfWork, number: str, on: date, *, known_at: datetime | None = None
) -> HouseholdRecord:
    """Who lived in the household on ``on``: the versions valid then with the person a resident."""
    h = _household(uow, number)
    stmt = select(PersonVersion).where(
        PersonVersion.household_id == h.id, PersonVersion.status == STATUS_RESIDENT
    )
    versions = uow.session.scalars(_valid_on(_believed(stmt, known_at), on)).all()
    return _household_record(uow, number, _records(uow, versions), on)


def person_history(
    uow: UnitOfWork, atena_number: str, *, include_superseded: bool = False
) -> list[VersionRecord]:
    """Every version of the person, by valid_from (and recording time when superseded ones are included)."""
    p = _person(uow, atena_number)
    stmt = select(PersonVersion).where(PersonVersion.person_id == p.id)
    if not include_superseded:
        stmt = stmt.where(PersonVersion.superseded_at.is_(None))
    versions = uow.session.scalars(stmt.order_by(PersonVersion.valid_from, PersonVersion.recorded_at)).all()
    records = _records(uow, versions)
    uow.record(
        "read",
        "registry.person",
        atena_number,
        person=atena_number,
        view="history",
        versions=len(versions),
        include_superseded=include_superseded,
    )
    return [
        VersionRecord(
            r,
            v.valid_from,
            v.valid_to,
            _aware(v.recorded_at) or v.recorded_at,
            _aware(v.superseded_at),
            v.change_id,
        )
        for r, v in zip(records, versions, strict=True)
    ]


def require_person(uow: UnitOfWork, atena_number: str) -> None:
    if uow.session.scalar(select(Person.id).where(Person.atena_number == atena_number)) is None:
        raise RegistryRefusal([f"統合宛名番号 {atena_number} の住民記録がありません"])
