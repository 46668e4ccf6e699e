"""Random sequences of changes (異動) against the registry's promises: a Hypothesis state machine.

The machine keeps the households and persons it created (世帯番号 and 統合宛名番号) and submits
changes of every kind, with arguments drawn from valid choices (read from the database before each
step) and from deliberately wrong ones: a removed person, a person of another household, a date
before birth or before the last change or in the future, a second 世帯主, a dissolved household, a
relationship map missing a member or naming an outsider. Persons are Japanese (some with 本籍・
筆頭者) or foreign (国籍, 在留資格, 在留期間満了日, 在留カード等番号, 通称), with inconsistent mixes among the
wrong choices; foreign residents change their 在留資格 and period, enter or remove a 通称, and
become Japanese (帰化, 国籍取得), and Japanese residents foreign (国籍喪失) or move their 本籍
(転籍).
Free text (前住所, 転出先, 方書, 本籍) is typed as a clerk may type it, in full-width digits or kanji
numerals. Event dates mostly move forward and sometimes go back. A refusal
(:class:`~jichitai.platform.errors.JichitaiError`) is fine; any other exception is a bug. After
every step the database is read back (SQLite, a plain read session) and checked against what the
models and rules promise:

- a refused change changes nothing; an accepted one adds one ``registry_changes`` row and one
  event per person it concerns, and the event ``seq`` numbers have no gaps;
- the same request again is a replay (``replayed=True``) that changes nothing; the key with a
  different request is refused;
- version rows are never deleted or edited, only superseded (once), and new rows carry the
  change's recording time;
- a change never alters what the register says about the days before its 異動日, and only the
  persons it reports; a change other than a 職権修正 or 転出確定 does not supersede what was
  recorded for a later day (the rule "not before the last recorded change");
- each person's believed versions tile time from their first version with no gap or overlap, the
  open one equals the current row, and no version is valid before the birth date it records;
- a household with current residents has exactly one 世帯主 among them, at one address, and is not
  dissolved; one without is dissolved; the service's household view shows no 除票 as a member or
  head; the same holds on every past day (as recorded now) for the members then, and nobody lives
  in a household before it began or after it ended;
- a certificate of any person, of any kind, layout and items for any requester is refused, or is
  a sealed PDF that prints the name and verifies; a 除票の写し only of a removed record, the
  others only of a resident;
- at the end of each sequence, the exit path: the export (with 除票) of the persons it made is a
  file the import accepts whole (every row valid, every household's cross-row rules kept), in
  JSON Lines as in CSV;
  imported into a second installation, it is exported again as the same rows, and each person's
  current facts there are those registered here (the second installation is shared by the run's
  sequences like the first, each adding its own persons).

The machine found the bugs pinned in ``test_history_order.py`` (change dates checked against the
current row only, not all the recorded history). Search harder with
``REGISTRY_SEQUENCE_EXAMPLES=500``, on PostgreSQL with ``REGISTRY_SEQUENCE_BACKEND=postgresql``.
Shrinking a failure to a short sequence takes minutes, so it only runs with
``REGISTRY_SEQUENCE_SHRINK=1`` (otherwise the failing sequence is reported as found, each request
and its outcome in the notes).
"""

from __future__ import annotations

import csv
import dataclasses
import itertools
import os
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

import pytest
from hypothesis import HealthCheck, Phase, note, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from jichitai.mynumber.registry import issuance
from jichitai.mynumber.registry.certificates import (
    CertificateKind,
    CertifiedItem,
    Layout,
    OptionalItem,
    RequesterKind,
)
from jichitai.mynumber.registry.errors import IdempotencyConflict
from jichitai.mynumber.registry.interchange import (
    RESIDENCE_STATUSES,
    STATUSES_WITHOUT_PERIOD,
    ParseContext,
    ResidentRow,
    iter_jsonl,
    parse_row,
    validate_households,
)
from jichitai.mynumber.registry.migration.exporter import ExportOptions, export_file
from jichitai.mynumber.registry.migration.importer import ImportOptions, import_file
from jichitai.mynumber.registry.models import (
    FACT_FIELDS,
    STATUS_REMOVED,
    STATUS_RESIDENT,
    Change,
    EventHead,
    Household,
    Person,
    PersonVersion,
    RegistryEvent,
)
from jichitai.mynumber.registry.names import SEARCH_KEY_COLUMNS, search_keys
from jichitai.mynumber.registry.service import (
    AliasEntry,
    AliasRemoval,
    Birth,
    CancelMoveOut,
    ChangeHead,
    ChangeRequest,
    ChangeResult,
    ConfirmMoveOut,
    Correction,
    Death,
    DomicileTransfer,
    ExOfficioEntry,
    ExOfficioRemoval,
    FormerSurnameEntry,
    FormerSurnameRemoval,
    MergeHouseholds,
    MoveIn,
    MoveOut,
    MoveWithin,
    NameChange,
    NationalityAcquisition,
    NationalityLoss,
    Naturalization,
    NewPerson,
    RegistryService,
    ResidenceStatusChange,
    SplitHousehold,
    StayExtension,
)
from jichitai.platform.errors import Conflict, JichitaiError
from jichitai.platform.identifiers import individual_number_check_digit
from jichitai.platform.storage import Storage
from jichitai.platform.zones import Zone
from tests.conftest import add_demo_tenant, close_storage, ctx, make_settings, make_storage
from tests.mynumber.registry.core.support import ADDRESS, NOW, TODAY, change_ctx, key, read_ctx

HEAD = "世帯主"
KIN = ("妻", "子", "母", "夫", "同居人", "孫", "子の妻", "父")
NAMES = (
    ("山田　太郎", "ヤマダ　タロウ"),
    ("佐藤　花子", "サトウ　ハナコ"),
    ("鈴木　一郎", "スズキ　イチロウ"),
    ("高橋　和子", "タカハシ　カズコ"),
    ("田中　次郎", "タナカ　ジロウ"),
    ("伊藤　結衣", "イトウ　ユイ"),
)
# 外国人住民: names in the Latin alphabet or in kanji, with their katakana reading
FOREIGN_NAMES = (
    ("SMITH　JOHN", "スミス　ジョン"),
    ("GARCIA　MARIA", "ガルシア　マリア"),
    ("王　芳", "ワン　ファン"),
    ("NGUYEN　VAN　AN", "グエン　ヴァン　アン"),
)
ALIASES = (("山田　ジョン", "ヤマダ　ジョン"), ("金田　花子", "カネダ　ハナコ"))
ALIAS_NAMES = tuple(a for a, _ in ALIASES)
ALIAS_KANA = tuple(k for _, k in ALIASES)
# (the last is refused: the import takes no brackets in 国籍)
NATIONALITIES = ("アメリカ合衆国", "中国", "ベトナム", "ブラジル", "韓国", "USA", "中国（台湾）")
STATUSES = sorted(RESIDENCE_STATUSES)
HONSEKI = (
    ("東京都千代田区千代田1番", "山田　太郎"),
    ("東京都千代田区千代田１番", "山田　太郎"),
    ("大阪府大阪市北区梅田一丁目1番地", "佐藤　一郎"),
)
HITTOSHA = tuple(h for _, h in HONSEKI)
LOSS_STATUSES = ("国籍喪失による経過滞在者", "永住者", "留学")  # 留学 without a 満了日: refused
OUTSIDE = "大阪府大阪市北区梅田1-1-1"
# Free text as a clerk may type it (full-width digits and dashes, 丁目 in kanji numerals): the
# register keeps it as the import normalizes it, or the exit path would change it.
PREVIOUS = ("大阪府堺市堺区1-1", "大阪府堺市堺区１－１", "大阪府堺市堺区三国ヶ丘御幸通一丁目１番")
DESTINATIONS = ("神奈川県横浜市中区本町1-1", "神奈川県横浜市中区本町１丁目１番")
NEW_ADDRESSES = (None, "神奈川県横浜市中区本町2-2", "神奈川県横浜市中区本町２－２")
NOTES = (None, None, "201号室", "２０１号室", "Ａ棟　２０１")
FACT_INDEX = {name: i for i, name in enumerate(FACT_FIELDS)}
CHANGE_FACTS = ("last_change", "last_change_on", "last_notified_on")

_instants = itertools.count(1)
_blocks = itertools.count(100)
_numbers = itertools.count(7_000_000_000)


def next_instant() -> datetime:
    """Recording time of the next change: a millisecond later each time, on the same day (JST)."""
    return NOW + timedelta(milliseconds=next(_instants))


def fresh_address() -> str:
    return f"{ADDRESS}{next(_blocks)}番地"


def fresh_individual_number() -> str:
    body = f"{next(_numbers):011d}"
    return body + str(individual_number_check_digit(body))


def naive(value: datetime) -> datetime:
    """An instant as naive UTC (SQLite gives naive UTC back, PostgreSQL an aware one)."""
    return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo is not None else value


# -- what the machine reads back ---------------------------------------------------------------------


@dataclass(frozen=True)
class PersonState:
    atena: str
    household: str  # 世帯番号
    relationship: str
    status: str
    kind: str  # 日本人 / 外国人
    name: str
    birth_date: date
    address: str
    address_since: date
    became_resident_on: date
    juminhyo_code: str
    removal_reason: str | None
    removed_on: date | None
    move_out_confirmed: bool | None

    @property
    def resident(self) -> bool:
        return self.status == STATUS_RESIDENT


@dataclass(frozen=True)
class HouseholdState:
    number: str
    id: str
    created_on: date
    dissolved_on: date | None
    members: tuple[PersonState, ...]  # current residents, head first

    @property
    def head(self) -> PersonState | None:
        return next((m for m in self.members if m.relationship == HEAD), None)


@dataclass(frozen=True)
class World:
    persons: dict[str, PersonState]
    households: dict[str, HouseholdState]

    def residents(self) -> list[PersonState]:
        return [p for p in self.persons.values() if p.resident]


@dataclass(frozen=True)
class VersionRow:
    id: str
    atena: str
    valid_from: date
    valid_to: date | None
    recorded_at: datetime
    superseded_at: datetime | None
    change_id: str
    facts: tuple[Any, ...]

    def fact(self, name: str) -> Any:
        return self.facts[FACT_INDEX[name]]

    @property
    def content(self) -> tuple[Any, ...]:
        """Everything but ``superseded_at``, which is the one thing a change may set (once)."""
        return (self.atena, self.valid_from, self.valid_to, self.recorded_at, self.change_id, self.facts)


Piece = tuple[date, date | None, tuple[Any, ...]]


def timeline(rows: Sequence[VersionRow]) -> list[Piece]:
    """The believed versions (not superseded) as (valid_from, valid_to, facts), by valid_from."""
    believed = sorted((r for r in rows if r.superseded_at is None), key=lambda r: r.valid_from)
    return [(r.valid_from, r.valid_to, r.facts) for r in believed]


def before(pieces: list[Piece], day: date) -> list[Piece]:
    """What the register says about the days before ``day``."""
    return [(vf, day if vt is None or vt > day else vt, f) for vf, vt, f in pieces if vf < day]


def from_day(pieces: list[Piece], day: date) -> list[Piece]:
    """What the register says about ``day`` and later."""
    return [(max(vf, day), vt, f) for vf, vt, f in pieces if vt is None or vt > day]


def without(facts: tuple[Any, ...], names: set[str]) -> tuple[Any, ...]:
    return tuple(v for n, v in zip(FACT_FIELDS, facts, strict=True) if n not in names)


@dataclass(frozen=True)
class Fingerprint:
    persons: int
    versions: int
    believed: int
    version_sum: int
    changes: int
    events: int
    last_seq: int
    households: int
    dissolved: int


# -- the storage (one per test run: adding a tenant takes seconds) -----------------------------------


def _storage(tmp_path_factory: pytest.TempPathFactory, name: str) -> Iterator[Storage]:
    home = tmp_path_factory.mktemp(name) / "home"
    # SQLite in the suite; REGISTRY_SEQUENCE_BACKEND=postgresql runs the same search on PostgreSQL
    storage = make_storage(make_settings(home, os.environ.get("REGISTRY_SEQUENCE_BACKEND", "sqlite")))
    try:
        add_demo_tenant(storage)
        yield storage
    finally:
        close_storage(storage)


@pytest.fixture(scope="module")
def sequence_storage(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Storage]:
    yield from _storage(tmp_path_factory, "change-sequences")


@pytest.fixture(scope="module")
def exit_storage(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Storage]:
    """The installation each sequence's export is imported into (the municipality's next system)."""
    yield from _storage(tmp_path_factory, "change-sequences-exit")


# -- the machine -------------------------------------------------------------------------------------


class RegistrySequences(RuleBasedStateMachine):
    storage: ClassVar[Storage | None] = None
    exit_storage: ClassVar[Storage | None] = None

    def __init__(self) -> None:
        super().__init__()
        assert self.storage is not None
        self.now = next_instant()
        self.svc = RegistryService(self.storage, clock=lambda: self.now)
        self.engine: Engine = self.storage.tenant_engine(Zone.MYNUMBER, self.storage.tenant("131016"))
        self.households: list[str] = []
        self.persons: list[str] = []
        self.numbers: list[str] = []  # 個人番号 given in accepted entries
        self.foreign: list[str] = []  # 統合宛名番号 of foreign residents entered (removed since, some)
        self.accepted: list[tuple[ChangeRequest, ChangeResult]] = []
        self.day = date(2014, 1, 1)
        # households where a 職権修正 restated a 続柄: their past may have two heads (_check_household_on)
        self.relationship_corrected: set[str] = set()
        self.touched: set[str] = set()  # households the last step's change touched

    # -- reading -----------------------------------------------------------------------------------
    def _session(self) -> Session:
        return Session(self.engine)

    def _world(self) -> World:
        with self._session() as s:
            # in a fixed order: the draws pick from these lists (PostgreSQL returns rows in any order)
            rows = list(
                s.scalars(
                    select(Person).where(Person.atena_number.in_(self.persons)).order_by(Person.atena_number)
                )
            )
            households = list(
                s.scalars(
                    select(Household)
                    .where(Household.household_number.in_(self.households))
                    .order_by(Household.household_number)
                )
            )
            numbers = {h.id: h.household_number for h in households}
            missing = {r.household_id for r in rows} - set(numbers)
            if missing:
                numbers |= dict(
                    s.execute(
                        select(Household.id, Household.household_number).where(Household.id.in_(missing))
                    ).tuples()
                )
            persons = {
                r.atena_number: PersonState(
                    atena=r.atena_number,
                    household=numbers[r.household_id],
                    relationship=r.relationship,
                    status=r.status,
                    kind=r.kind,
                    name=r.name,
                    birth_date=r.birth_date,
                    address=r.address_text,
                    address_since=r.address_since,
                    became_resident_on=r.became_resident_on,
                    juminhyo_code=r.juminhyo_code,
                    removal_reason=r.removal_reason,
                    removed_on=r.removed_on,
                    move_out_confirmed=r.move_out_confirmed,
                )
                for r in rows
            }
            states = {}
            for h in households:
                members = [p for p in persons.values() if p.household == h.household_number and p.resident]
                members.sort(key=lambda p: (p.relationship != HEAD, p.birth_date, p.atena))
                states[h.household_number] = HouseholdState(
                    h.household_number, h.id, h.created_on, h.dissolved_on, tuple(members)
                )
            return World(persons, states)

    def _versions(self) -> dict[str, VersionRow]:
        with self._session() as s:
            rows = s.scalars(select(PersonVersion).where(PersonVersion.atena_number.in_(self.persons)))
            return {
                v.id: VersionRow(
                    v.id,
                    v.atena_number,
                    v.valid_from,
                    v.valid_to,
                    naive(v.recorded_at),
                    None if v.superseded_at is None else naive(v.superseded_at),
                    v.change_id,
                    tuple(getattr(v, f) for f in FACT_FIELDS),
                )
                for v in rows
            }

    def _fingerprint(self) -> Fingerprint:
        with self._session() as s:

            def count(model: type[Any], *where: Any) -> int:
                return int(s.scalar(select(func.count()).select_from(model).where(*where)) or 0)

            return Fingerprint(
                persons=count(Person),
                versions=count(PersonVersion),
                believed=count(PersonVersion, PersonVersion.superseded_at.is_(None)),
                version_sum=int(s.scalar(select(func.sum(Person.version_no))) or 0),
                changes=count(Change),
                events=count(RegistryEvent),
                last_seq=int(s.scalar(select(EventHead.last_seq)) or 0),
                households=count(Household),
                dissolved=count(Household, Household.dissolved_on.is_not(None)),
            )

    # -- drawing arguments -------------------------------------------------------------------------
    def _date(self, data: st.DataObject, *, ahead: bool = False) -> date:
        """An event date: mostly forward from the last one, sometimes the same, back, ahead, absurd."""
        kind = data.draw(st.integers(0, 19), label="date kind")
        if kind <= 12:
            self.day = min(self.day + timedelta(days=data.draw(st.integers(0, 150))), TODAY)
            return self.day
        if kind <= 14:
            return self.day
        if kind <= 16 and not ahead:
            return self.day - timedelta(days=data.draw(st.integers(1, 1500), label="days back"))
        if kind <= 18:
            return TODAY + timedelta(days=data.draw(st.integers(1, 45), label="days ahead"))
        return date(1935, 1, 1)

    def _notified(self, data: st.DataObject, event_date: date) -> date | None:
        kind = data.draw(st.integers(0, 19), label="notified kind")
        if kind <= 12:
            return min(event_date, TODAY)
        if kind <= 16:
            return None
        if kind <= 18:
            return min(event_date + timedelta(days=20), TODAY)
        return TODAY + timedelta(days=3)

    def _flaw(self, data: st.DataObject, kinds: int, label: str) -> int:
        """0 (no deliberate mistake) four times in five, else one of the ``kinds`` mistakes 1…kinds."""
        k = data.draw(st.integers(0, 5 * kinds - 1), label=label)
        return 0 if k < 4 * kinds else k - 4 * kinds + 1

    def _name(self, data: st.DataObject) -> tuple[str, str]:
        return data.draw(st.sampled_from(NAMES), label="name")

    def _kin(self, data: st.DataObject) -> str:
        return data.draw(st.sampled_from(KIN), label="続柄")

    def _new_person(
        self, data: st.DataObject, world: World, event_date: date, relationship: str
    ) -> NewPerson:
        name, kana = self._name(data)
        birth = event_date - timedelta(days=data.draw(st.integers(0, 80 * 365), label="age in days"))
        sex = data.draw(st.sampled_from(("1", "2")), label="sex")
        number = None
        code = None
        kind = data.draw(st.integers(0, 9), label="numbers kind")
        removed = [p for p in world.persons.values() if not p.resident]
        if kind == 8:
            number = fresh_individual_number()
        elif kind == 9 and removed:  # a former resident coming back keeps their record (住民票コード)
            back = data.draw(st.sampled_from(removed), label="returning person")
            code, name, birth = back.juminhyo_code, back.name, back.birth_date
        status = self._status(data, event_date)
        if status.get("kind") == "外国人" and code is None:  # (a returning person keeps the name)
            name, kana = data.draw(st.sampled_from(FOREIGN_NAMES), label="foreign name")
        flaw = self._flaw(data, 6, "person flaw")
        if flaw == 1:
            kana = "やまだ　たろう"
        elif flaw == 2:
            sex = "3"
        elif flaw == 3:
            birth = event_date + timedelta(days=data.draw(st.integers(1, 30), label="born after"))
        elif flaw == 4 and self.numbers:
            number = data.draw(st.sampled_from(self.numbers), label="used 個人番号")
        elif flaw == 5:
            residents = world.residents()
            code = data.draw(st.sampled_from(residents)).juminhyo_code if residents else "123"
        elif flaw == 6 and removed:
            code = data.draw(st.sampled_from(removed)).juminhyo_code  # birth date does not match
            birth -= timedelta(days=1)
        return NewPerson(
            name=name,
            name_kana=kana,
            birth_date=birth,
            sex=sex,
            relationship=relationship,
            individual_number=number,
            juminhyo_code=code,
            **status,
        )

    def _status(self, data: st.DataObject, event_date: date) -> dict[str, Any]:
        """The items that differ by 住民種別: a foreign resident's 国籍・地域, 在留資格, 在留期間満了日,
        在留カード等番号 and 通称, or a Japanese resident's 本籍・筆頭者; sometimes inconsistent."""
        origin = data.draw(st.integers(0, 9), label="origin")
        if origin <= 1:
            residence = data.draw(st.sampled_from(STATUSES), label="在留資格")
            expires = None
            if residence not in STATUSES_WITHOUT_PERIOD or data.draw(st.booleans(), label="with period"):
                expires = event_date + timedelta(days=data.draw(st.integers(-60, 1800), label="stay"))
            items: dict[str, Any] = {
                "kind": "外国人",
                "nationality": data.draw(st.sampled_from(NATIONALITIES), label="国籍"),
                "residence_status": residence,
                "stay_expires_on": expires,
                "residence_card_number": "AB12345678CD" if data.draw(st.booleans(), label="card") else None,
            }
            if data.draw(st.integers(0, 3), label="alias") == 0:
                items["alias"], items["alias_kana"] = data.draw(st.sampled_from(ALIASES), label="通称")
            flaw = self._flaw(data, 4, "foreign flaw")
            if flaw == 1:
                items["nationality"] = None
            elif flaw == 2:
                items["honseki"], items["hittosha"] = HONSEKI[0]
            elif flaw == 3:
                items["residence_status"] = "観光"
            elif flaw == 4:
                items["alias"], items["alias_kana"] = "山田　ジョン", "やまだ　じょん"
            return items
        if origin <= 3:
            honseki, hittosha = data.draw(st.sampled_from(HONSEKI), label="本籍")
            flaw = self._flaw(data, 4, "honseki flaw")
            if flaw == 1:
                return {"honseki": honseki}
            if flaw == 2:
                return {"honseki": honseki, "hittosha": hittosha, "nationality": "中国"}
            if flaw == 3:
                return {"alias": ALIASES[0][0], "alias_kana": ALIASES[0][1]}
            if flaw == 4:
                return {"honseki": honseki, "hittosha": "YAMADA　TARO"}
            return {"honseki": honseki, "hittosha": hittosha}
        return {}

    def _outsider(self, data: st.DataObject, world: World, household: str) -> str | None:
        """A person who is not a current member of ``household``: of another one, or removed."""
        others = [p.atena for p in world.persons.values() if p.household != household or not p.resident]
        return data.draw(st.sampled_from(others), label="outsider") if others else None

    def _roles(
        self,
        data: st.DataObject,
        world: World,
        household: HouseholdState,
        leaving: Sequence[PersonState],
        *,
        forms_household: bool,
    ) -> dict[str, Any]:
        """new_head/relationships for those who leave (when they form a household), and
        remaining_head/remaining_relationships for those who stay; one flaw now and then."""
        flaw = self._flaw(data, 10, "roles flaw") + 4  # 5…14: a mistake
        leaving_ids = {p.atena for p in leaving}
        staying = [m for m in household.members if m.atena not in leaving_ids]
        outsider = self._outsider(data, world, household.number)
        roles: dict[str, Any] = {}
        if forms_household:
            new_head = (
                leaving[data.draw(st.integers(0, len(leaving) - 1), label="new head")] if leaving else None
            )
            if flaw == 8 and len(leaving) > 1:
                roles["new_head"] = None
            elif flaw == 9 and staying:
                roles["new_head"] = staying[0].atena
            else:
                roles["new_head"] = new_head.atena if new_head and (len(leaving) > 1 or flaw == 10) else None
            rels = {
                p.atena: self._kin(data) for p in leaving if new_head is None or p.atena != new_head.atena
            }
            if flaw == 11 and rels:
                rels.pop(next(iter(rels)))
            elif flaw == 12 and rels:
                rels[next(iter(rels))] = HEAD
            elif flaw == 13 and outsider:
                rels[outsider] = self._kin(data)
            roles["relationships"] = rels
        head_leaves = household.head is not None and household.head.atena in leaving_ids
        remaining_head: str | None = None
        if head_leaves and staying:
            remaining_head = staying[
                data.draw(st.integers(0, len(staying) - 1), label="remaining head")
            ].atena
        if flaw == 5:
            remaining_head = None if remaining_head else (staying[0].atena if staying else None)
        elif flaw == 6 and leaving:
            remaining_head = leaving[0].atena
        elif flaw == 7 and outsider:
            remaining_head = outsider
        roles["remaining_head"] = remaining_head
        remaining_rels = {
            m.atena: self._kin(data)
            for m in staying
            if m.atena != remaining_head
            and m.relationship != HEAD
            and data.draw(st.integers(0, 3), label="restate 続柄") == 3
        }
        if flaw == 14 and leaving:
            remaining_rels[leaving[0].atena] = self._kin(data)
        roles["remaining_relationships"] = remaining_rels
        return roles

    def _household(self, data: st.DataObject, world: World, *, members: int = 1) -> HouseholdState:
        """Mostly a household with at least ``members`` residents, sometimes any (a dissolved one too)."""
        fit = [h.number for h in world.households.values() if len(h.members) >= members]
        if fit and data.draw(st.integers(0, 9), label="any household") < 9:
            return world.households[data.draw(st.sampled_from(fit), label="世帯番号")]
        return world.households[data.draw(st.sampled_from(self.households), label="世帯番号")]

    def _person(self, data: st.DataObject, world: World) -> PersonState:
        """Mostly a current resident, sometimes anyone (a 除票 too)."""
        residents = world.residents()
        if residents and data.draw(st.integers(0, 4), label="any person") < 4:
            return data.draw(st.sampled_from(residents), label="resident")
        return world.persons[data.draw(st.sampled_from(self.persons), label="person")]

    # -- submitting --------------------------------------------------------------------------------
    def _submit(self, request: ChangeRequest) -> ChangeResult | None:
        self.now = next_instant()
        note(f"submit {request!r}")
        fp_before = self._fingerprint()
        versions_before = self._versions()
        try:
            result = self.svc.submit(change_ctx(), request)
        except JichitaiError as exc:
            note(f"  -> refused ({type(exc).__name__}): {exc.message_ja or exc}")
            refusal: JichitaiError = exc
        else:
            return self._accepted(request, result, fp_before, versions_before)
        assert self._fingerprint() == fp_before, "a refused change changed the database"
        assert not isinstance(refusal, Conflict), (
            "a database constraint caught what the rules let through (no concurrency here): "
            f"{refusal.one_line()}"
        )
        return None

    def _accepted(
        self,
        request: ChangeRequest,
        result: ChangeResult,
        fp_before: Fingerprint,
        versions_before: dict[str, VersionRow],
    ) -> ChangeResult:
        note(f"  -> accepted {result.atena_numbers} {result.household_numbers} seqs={result.event_seqs}")
        assert not result.replayed
        for atena in result.atena_numbers:
            if atena not in self.persons:
                self.persons.append(atena)
        for number in result.household_numbers:
            if number not in self.households:
                self.households.append(number)
        self.touched = set(result.household_numbers)
        self._check_accepted(request, result, fp_before, versions_before)
        self.accepted.append((request, result))
        return result

    def _check_accepted(
        self,
        request: ChangeRequest,
        result: ChangeResult,
        fp_before: Fingerprint,
        versions_before: dict[str, VersionRow],
    ) -> None:
        fp = self._fingerprint()
        assert fp.changes == fp_before.changes + 1, "an accepted change adds exactly one registry_changes row"
        assert fp.events > fp_before.events, "an accepted change adds at least one event"
        assert fp.events == fp.last_seq, "event seq numbers have gaps"
        with self._session() as s:
            change = s.scalar(select(Change).where(Change.idempotency_key == request.idempotency_key))
            assert change is not None and change.id == result.change_id
            assert change.change_type == request.change_type
            events = list(
                s.scalars(
                    select(RegistryEvent)
                    .where(RegistryEvent.change_id == result.change_id)
                    .order_by(RegistryEvent.seq)
                )
            )
            assert int(s.scalar(select(func.min(RegistryEvent.seq))) or 0) == 1
        seqs = [e.seq for e in events]
        assert seqs == list(result.event_seqs) == list(range(fp_before.last_seq + 1, fp.last_seq + 1))
        assert all(e.event_date == request.event_date for e in events)
        # events.py: "Each accepted change writes one event per person it concerns."
        assert sorted(e.atena_number for e in events) == sorted(result.atena_numbers), (
            f"events for {[e.atena_number for e in events]}, persons concerned {result.atena_numbers}"
        )

        # rows are only ever added, or superseded once, at this change's recording time
        versions = self._versions()
        for vid, old in versions_before.items():
            new = versions.get(vid)
            assert new is not None, f"version {vid} of {old.atena} was deleted"
            assert new.content == old.content, f"version {vid} of {old.atena} was edited"
            if old.superseded_at is not None:
                assert new.superseded_at == old.superseded_at, f"version {vid} superseded again"
            else:
                assert new.superseded_at in (None, naive(self.now)), "superseded at another time"
        for vid, new in versions.items():
            if vid not in versions_before:
                assert new.recorded_at == naive(self.now), "a new version recorded at another time"
                assert new.superseded_at is None

        # what the register says about the past
        day = request.event_date
        correction = isinstance(request, Correction)
        expected = None  # a 転出確定: the 転出予定日 it replaces
        if isinstance(request, ConfirmMoveOut | Death | CancelMoveOut):
            # a death accepted for a 除票 is one before the 転出予定日 of a pending 転出; a 転出取消
            # replaces the 除票 from that day (a 職権修正 of it recorded for a later day included)
            confirmed = timeline([v for v in versions_before.values() if v.atena == request.atena_number])
            expected = min(
                (vf for vf, _vt, f in confirmed if f[FACT_INDEX["status"]] == STATUS_REMOVED), default=None
            )
        replaces_move_out = expected is not None
        for atena in self.persons:
            was = timeline([v for v in versions_before.values() if v.atena == atena])
            now = timeline([v for v in versions.values() if v.atena == atena])
            if atena not in result.atena_numbers:
                assert now == was, f"{atena} is not concerned by the change but their history changed"
                continue
            assert before(now, day) == before(was, day), (
                f"{request.change_type} on {day} changed what the register says of {atena} before that day"
            )
            if correction:
                assert isinstance(request, Correction)
                ignored = set(request.fields) | set(CHANGE_FACTS)
                assert [(vf, vt, without(f, ignored)) for vf, vt, f in from_day(now, day)] == [
                    (vf, vt, without(f, ignored)) for vf, vt, f in from_day(was, day)
                ], f"the 職権修正 of {atena} changed more than its fields"
                continue
            confirmed_one = replaces_move_out and atena == getattr(request, "atena_number", None)
            if len(from_day(now, day)) > 1 and not confirmed_one:
                # a new 世帯主 or restated 続柄 laid over a member's later record that kept their
                # household and 続柄 (ChangeTx.restate_relationship): only the 続柄 changes
                ignored = {"relationship", *CHANGE_FACTS}
                assert [(vf, vt, without(f, ignored)) for vf, vt, f in from_day(now, day)] == [
                    (vf, vt, without(f, ignored)) for vf, vt, f in from_day(was, day)
                ], f"{request.change_type} on {day} changed more than the 続柄 of {atena} after that day"
                assert len({f[FACT_INDEX["relationship"]] for _vf, _vt, f in from_day(now, day)}) == 1
                continue
            assert len(from_day(now, day)) == 1 and now[-1][0] == day and now[-1][1] is None
            self._check_not_rewritten(request, atena, was, expected)

    def _check_not_rewritten(
        self, request: ChangeRequest, atena: str, was: list[Piece], expected: date | None
    ) -> None:
        """A change other than a 職権修正 does not supersede what was recorded for a later day than
        its 異動日 (rules.check_history_order: "not before the last recorded change")."""
        day = request.event_date
        later = [(vf, f) for vf, _vt, f in was if vf > day]
        if expected is not None:
            # the actual move date (or the death before it) replaces the 転出予定日 (``expected``):
            # the 除票 part moves back, and with it what the 転出 made of those who stayed that day
            # (a new 世帯主, 続柄)
            later = [
                (vf, f) for vf, f in later if f[FACT_INDEX["status"]] != STATUS_REMOVED and vf != expected
            ]
        assert not later, (
            f"{request.change_type} on {day} rewrote what was recorded for {atena} from a later day "
            f"({', '.join(str(vf) for vf, _f in later)})"
        )

    # -- rules: entering the register --------------------------------------------------------------
    def _entry(self, data: st.DataObject, world: World) -> dict[str, Any]:
        event_date = self._date(data)
        join = bool(self.households) and data.draw(st.integers(0, 3), label="join") == 3
        count = data.draw(st.integers(1, 3), label="persons")
        shape = self._flaw(data, 3, "entry flaw") + 8  # 9…11: a mistake
        if join:
            rels = [self._kin(data) for _ in range(count)]
            if shape == 9:
                rels[0] = HEAD
        else:
            rels = [HEAD] + [self._kin(data) for _ in range(count - 1)]
            if shape == 9:
                rels[0] = self._kin(data)
            elif shape == 10:
                rels.append(HEAD)
        if shape == 11:
            rels[-1] = "友人"
        persons = tuple(self._new_person(data, world, event_date, rel) for rel in rels)
        household = self._household(data, world) if join else None
        where = data.draw(st.integers(0, 19), label="address kind")
        others = [h.members[0].address for h in world.households.values() if h.members]
        if household is not None and household.members and where <= 18:
            address = household.members[0].address
        elif where == 19:
            address = OUTSIDE
        elif where >= 15 and others:
            address = data.draw(st.sampled_from(others), label="address of another household")
        else:
            address = fresh_address()
        return {
            "idempotency_key": key(),
            "event_date": event_date,
            "persons": persons,
            "address": address,
            "address_note": data.draw(st.sampled_from(NOTES), label="方書"),
            "household_number": household.number if household else None,
        }

    def _entered(self, result: ChangeResult | None, request: MoveIn | ExOfficioEntry) -> None:
        if result is not None:
            self.numbers += [p.individual_number for p in request.persons if p.individual_number]
            with self._session() as s:
                self.foreign += s.scalars(
                    select(Person.atena_number)
                    .where(Person.atena_number.in_(result.atena_numbers), Person.kind == "外国人")
                    .order_by(Person.atena_number)
                ).all()

    @rule(data=st.data())
    def move_in(self, data: st.DataObject) -> None:
        world = self._world()
        fields = self._entry(data, world)
        request = MoveIn(
            **fields,
            notified_on=self._notified(data, fields["event_date"]),
            previous_address=""
            if data.draw(st.integers(0, 19), label="no previous") == 19
            else data.draw(st.sampled_from(PREVIOUS), label="前住所"),
            from_abroad=data.draw(st.booleans(), label="from abroad"),
        )
        self._entered(self._submit(request), request)

    @rule(data=st.data())
    def ex_officio_entry(self, data: st.DataObject) -> None:
        world = self._world()
        fields = self._entry(data, world)
        request = ExOfficioEntry(
            **fields,
            notified_on=None,
            reason="" if data.draw(st.integers(0, 19), label="no reason") == 19 else "居住実態調査による",
        )
        self._entered(self._submit(request), request)

    @precondition(lambda self: bool(self.households))
    @rule(data=st.data())
    def birth(self, data: st.DataObject) -> None:
        world = self._world()
        household = self._household(data, world)
        event_date = self._date(data)
        name, kana = self._name(data)
        flaw = data.draw(st.integers(0, 9), label="birth flaw")
        child = NewPerson(
            name=name,
            name_kana=kana,
            birth_date=event_date - timedelta(days=1) if flaw == 8 else event_date,
            sex="2",
            relationship=HEAD if flaw == 9 else "子",
        )
        self._submit(
            Birth(
                idempotency_key=key(),
                event_date=event_date,
                notified_on=self._notified(data, event_date),
                household_number=household.number,
                child=child,
            )
        )

    # -- rules: moving -----------------------------------------------------------------------------
    @precondition(lambda self: bool(self.households))
    @rule(data=st.data())
    def move_within(self, data: st.DataObject) -> None:
        world = self._world()
        household = self._household(data, world)
        members = household.members
        event_date = self._date(data)
        shape = data.draw(st.integers(0, 9), label="move shape")
        where = data.draw(st.integers(0, 9), label="address kind")
        others = [h.members[0].address for h in world.households.values() if h.members and h is not household]
        if where == 8 and members:
            address = members[0].address
        elif where == 9:
            address = OUTSIDE
        elif where >= 6 and others:
            address = data.draw(st.sampled_from(others), label="address of another household")
        else:
            address = fresh_address()
        fields: dict[str, Any] = {}
        if shape <= 4 or len(members) < 2:
            persons = None
            if shape == 4 and members:
                fields["new_head"] = members[-1].atena
        else:
            movers = data.draw(
                st.lists(st.sampled_from(members), min_size=1, max_size=len(members) - 1, unique=True),
                label="movers",
            )
            persons = tuple(p.atena for p in movers)
            if shape == 9:
                outsider = self._outsider(data, world, household.number)
                persons = (*persons, outsider) if outsider else persons
            roles = self._roles(data, world, household, movers, forms_household=True)
            fields = {k: v for k, v in roles.items() if v}
        self._submit(
            MoveWithin(
                idempotency_key=key(),
                event_date=event_date,
                notified_on=self._notified(data, event_date),
                household_number=household.number,
                address=address,
                address_note=data.draw(st.sampled_from(NOTES), label="方書"),
                persons=persons,
                **fields,
            )
        )

    @precondition(lambda self: bool(self.households))
    @rule(data=st.data())
    def move_out(self, data: st.DataObject) -> None:
        world = self._world()
        household = self._household(data, world)
        members = household.members
        event_date = self._date(data, ahead=data.draw(st.booleans(), label="planned ahead"))
        flaw = self._flaw(data, 3, "move-out flaw") + 6  # 7…9: a mistake
        leaving: list[PersonState] = (
            data.draw(st.lists(st.sampled_from(members), min_size=1, unique=True), label="leaving")
            if members
            else []
        )
        persons = [p.atena for p in leaving]
        if flaw == 9 or not persons:
            outsider = self._outsider(data, world, household.number)
            persons += [outsider] if outsider else []
        elif flaw == 7:
            persons.append(persons[0])  # named twice
        roles = self._roles(data, world, household, leaving, forms_household=False)
        # mostly within Japan: pending until their 転出確定 (or a death before the day)
        abroad = data.draw(st.integers(0, 3), label="abroad") == 0
        destination = data.draw(st.sampled_from(DESTINATIONS), label="転出先")
        self._submit(
            MoveOut(
                idempotency_key=key(),
                event_date=event_date,
                notified_on=min(self._notified(data, event_date) or TODAY, TODAY),
                persons=tuple(persons),
                destination="" if flaw == 8 else ("アメリカ合衆国" if abroad else destination),
                abroad=abroad,
                remaining_head=roles["remaining_head"],
                remaining_relationships=roles["remaining_relationships"],
            )
        )

    @precondition(lambda self: bool(self.persons))
    @rule(data=st.data())
    def confirm_move_out(self, data: st.DataObject) -> None:
        world = self._world()
        pending = [
            p for p in world.persons.values() if p.removal_reason == "転出" and not p.move_out_confirmed
        ]
        if pending and data.draw(st.integers(0, 4), label="pending") < 4:
            p = data.draw(st.sampled_from(pending), label="moved out")
        else:
            p = world.persons[data.draw(st.sampled_from(self.persons), label="person")]
        kind = data.draw(st.integers(0, 9), label="confirm date kind")
        last = min(p.removed_on or TODAY, TODAY)
        if kind <= 6 and p.address_since <= last:
            span = (last - p.address_since).days
            event_date = p.address_since + timedelta(days=data.draw(st.integers(0, span), label="moved on"))
        elif kind == 7:
            event_date = p.address_since - timedelta(days=1)
        else:
            event_date = self._date(data)
        self._submit(
            ConfirmMoveOut(
                idempotency_key=key(),
                event_date=event_date,
                notified_on=None,
                atena_number=p.atena,
                new_address=data.draw(st.sampled_from(NEW_ADDRESSES), label="new address"),
                # mostly unnamed; a housemate when the 世帯主 left before the others
                remaining_head=data.draw(
                    st.sampled_from([None, None, None, *self._housemates(world, p)]), label="remaining head"
                ),
            )
        )

    @precondition(lambda self: bool(self.persons))
    @rule(data=st.data())
    def cancel_move_out(self, data: st.DataObject) -> None:
        world = self._world()
        pending = [
            p for p in world.persons.values() if p.removal_reason == "転出" and not p.move_out_confirmed
        ]
        if pending and data.draw(st.integers(0, 4), label="pending") < 4:
            p = data.draw(st.sampled_from(pending), label="moving out")
        else:
            p = world.persons[data.draw(st.sampled_from(self.persons), label="person")]
        on_its_day = p.removed_on is not None and data.draw(st.integers(0, 5), label="wrong day") < 5
        event_date = p.removed_on if on_its_day and p.removed_on is not None else self._date(data)
        self._submit(
            CancelMoveOut(
                idempotency_key=key(),
                event_date=event_date,
                notified_on=min(event_date, TODAY),
                atena_number=p.atena,
            )
        )

    @staticmethod
    def _housemates(world: World, p: PersonState) -> list[str]:
        return [q.atena for q in world.persons.values() if q.household == p.household and q.atena != p.atena]

    # -- rules: household changes ------------------------------------------------------------------
    @precondition(lambda self: bool(self.households))
    @rule(data=st.data())
    def split_household(self, data: st.DataObject) -> None:
        world = self._world()
        household = self._household(data, world, members=2)
        members = household.members
        event_date = self._date(data)
        flaw = data.draw(st.integers(0, 9), label="split flaw")
        if len(members) >= 2 and flaw < 9:
            movers = data.draw(
                st.lists(st.sampled_from(members), min_size=1, max_size=len(members) - 1, unique=True),
                label="movers",
            )
        else:
            movers = list(members)
        roles = self._roles(data, world, household, movers, forms_household=True)
        persons = tuple(p.atena for p in movers)
        if flaw == 8 and persons:
            persons = (*persons, persons[0])  # named twice
        self._submit(
            SplitHousehold(
                idempotency_key=key(),
                event_date=event_date,
                notified_on=self._notified(data, event_date),
                household_number=household.number,
                persons=persons,
                new_head=roles["new_head"] or "",
                relationships=roles["relationships"],
                remaining_head=roles["remaining_head"],
                remaining_relationships=roles["remaining_relationships"],
            )
        )

    @precondition(lambda self: bool(self.households))
    @rule(data=st.data())
    def merge_households(self, data: st.DataObject) -> None:
        world = self._world()
        household = self._household(data, world)
        address = household.members[0].address if household.members else None
        same = [
            h.number
            for h in world.households.values()
            if h.members and h.members[0].address == address and h is not household
        ]
        if same and data.draw(st.integers(0, 4), label="same address") < 4:
            other = world.households[data.draw(st.sampled_from(same), label="other")]
        else:
            other = self._household(data, world)
        rels = {m.atena: self._kin(data) for m in other.members}
        flaw = self._flaw(data, 3, "merge flaw") + 6  # 7…9: a mistake
        if flaw == 7 and rels:
            rels.pop(next(iter(rels)))
        elif flaw == 8 and rels:
            rels[next(iter(rels))] = HEAD
        elif flaw == 9 and household.members:
            rels[household.members[-1].atena] = self._kin(data)
        event_date = self._date(data)
        self._submit(
            MergeHouseholds(
                idempotency_key=key(),
                event_date=event_date,
                notified_on=self._notified(data, event_date),
                household_number=household.number,
                other_household_number=other.number,
                relationships=rels,
            )
        )

    @precondition(lambda self: bool(self.households))
    @rule(data=st.data())
    def change_head(self, data: st.DataObject) -> None:
        world = self._world()
        household = self._household(data, world, members=2)
        head = household.head
        others = [m for m in household.members if m is not head]
        flaw = self._flaw(data, 3, "change-head flaw") + 6  # 7…9: a mistake
        if others and flaw < 7:
            new_head = data.draw(st.sampled_from(others), label="new head").atena
        elif flaw == 7 and head is not None:
            new_head = head.atena
        else:
            new_head = self._outsider(data, world, household.number) or ""
        rels = {
            m.atena: self._kin(data)
            for m in others
            if m.atena != new_head and data.draw(st.integers(0, 2), label="restate 続柄") == 2
        }
        if head is not None and flaw != 8:
            rels[head.atena] = self._kin(data)
        if flaw == 9 and rels:
            rels[next(iter(rels))] = HEAD
        event_date = self._date(data)
        self._submit(
            ChangeHead(
                idempotency_key=key(),
                event_date=event_date,
                notified_on=self._notified(data, event_date),
                household_number=household.number,
                new_head=new_head,
                relationships=rels,
            )
        )

    # -- rules: person changes ---------------------------------------------------------------------
    @precondition(lambda self: bool(self.persons))
    @rule(data=st.data())
    def name_change(self, data: st.DataObject) -> None:
        world = self._world()
        p = self._person(data, world)
        # a Latin name is for a foreign resident only
        name, kana = data.draw(st.sampled_from(NAMES + FOREIGN_NAMES), label="new name")
        if data.draw(st.integers(0, 9), label="bad name") == 9:
            name = "山田　太郎１"
        event_date = self._date(data)
        self._submit(
            NameChange(
                idempotency_key=key(),
                event_date=event_date,
                notified_on=self._notified(data, event_date),
                atena_number=p.atena,
                name=name,
                name_kana=kana,
                reason="婚姻",
            )
        )

    def _foreign_person(self, data: st.DataObject, world: World) -> PersonState:
        """Mostly a foreign resident entered (removed since, sometimes), else anyone (a Japanese)."""
        if data.draw(st.integers(0, 4), label="any person") < 4:
            return world.persons[data.draw(st.sampled_from(self.foreign), label="foreign person")]
        return self._person(data, world)

    def _current_row(self, atena: str) -> Person:
        with self._session() as s:
            return s.scalars(select(Person).where(Person.atena_number == atena)).one()

    @precondition(lambda self: bool(self.foreign))
    @rule(data=st.data())
    def residence_change(self, data: st.DataObject) -> None:
        """在留資格変更 or 在留期間更新: a new card and a later period, or one deliberate mistake."""
        p = self._foreign_person(data, self._world())
        event_date = self._date(data)
        current = self._current_row(p.atena)
        start = max(event_date, current.stay_expires_on or event_date)
        expires: date | None = start + timedelta(days=data.draw(st.integers(1, 1800), label="period"))
        card = data.draw(st.sampled_from(("XY87654321ZW", "CD12121212EF")), label="新しい在留カード")
        status = data.draw(st.sampled_from(STATUSES), label="新しい在留資格")
        if status in STATUSES_WITHOUT_PERIOD:
            expires = None
        flaw = self._flaw(data, 5, "residence flaw")
        if flaw == 1:
            card = data.draw(st.sampled_from(("", "12")), label="bad card")
        elif flaw == 2:
            expires = start - timedelta(days=data.draw(st.integers(0, 400), label="not later"))
        elif flaw == 3:
            expires = None
        elif flaw == 4:
            status = data.draw(
                st.sampled_from(("観光", "", current.residence_status or "")), label="bad status"
            )
        elif flaw == 5:
            expires = event_date + timedelta(days=30)  # with a status without a period, say
        request: ResidenceStatusChange | StayExtension
        if data.draw(st.booleans(), label="status change"):
            request = ResidenceStatusChange(
                idempotency_key=key(), event_date=event_date, notified_on=None, atena_number=p.atena,
                residence_status=status, stay_expires_on=expires, residence_card_number=card,
            )  # fmt: skip
        else:
            request = StayExtension(
                idempotency_key=key(), event_date=event_date, notified_on=None, atena_number=p.atena,
                stay_expires_on=expires, residence_card_number=card,
            )  # fmt: skip
        if self._submit(request) is None:
            return
        row = self._current_row(p.atena)
        assert (row.kind, row.last_change) == ("外国人", request.change_type)
        assert (row.stay_expires_on, row.residence_card_number) == (expires, card)
        assert expires is None or expires > event_date
        if isinstance(request, ResidenceStatusChange):
            assert row.residence_status == request.residence_status != current.residence_status
        else:
            assert row.residence_status == current.residence_status
            assert current.stay_expires_on is not None and expires is not None
            assert expires > current.stay_expires_on

    @precondition(lambda self: bool(self.foreign))
    @rule(data=st.data())
    def alias_change(self, data: st.DataObject) -> None:
        """通称記載 (typed as a clerk may type it, or wrong) or 通称削除."""
        p = self._foreign_person(data, self._world())
        typed = (
            *ALIASES,
            ("金田 ﾊﾅｺ", "ｶﾈﾀﾞ ﾊﾅｺ"),
            ("SMITH　JOHN", None),
            ("", None),
            ("山田　ジョン", "やまだ"),
        )
        row = self._entry_or_removal(data, p, "alias", typed, (AliasEntry, AliasRemoval), "外国人")
        if row is not None:
            assert row.alias is not None and row.alias.replace("\u3000", "") != ""

    @precondition(lambda self: bool(self.persons))
    @rule(data=st.data())
    def former_surname_change(self, data: st.DataObject) -> None:
        """旧氏記載 (typed as a clerk may type it, or wrong) or 旧氏削除, mostly of a resident; often
        of one who has a 旧氏 (whom a 旧氏削除 can concern)."""
        world = self._world()
        with self._session() as session:
            holders = list(
                session.scalars(
                    select(Person.atena_number)
                    .where(Person.atena_number.in_(self.persons), Person.former_surname.is_not(None))
                    .order_by(Person.atena_number)
                )
            )
        p = self._person(data, world)
        if holders and data.draw(st.booleans(), label="one with a 旧氏"):
            p = world.persons[data.draw(st.sampled_from(holders), label="旧氏 holder")]
        typed = (("鈴木", "スズキ"), ("渡邊", "ﾜﾀﾅﾍﾞ"), (" 菅野 ", None), ("鈴木　花子", "スズキ"),
                 ("", None), ("SUZUKI", None), ("佐藤", "さとう"))  # fmt: skip
        kinds = (FormerSurnameEntry, FormerSurnameRemoval)
        row = self._entry_or_removal(data, p, "former_surname", typed, kinds, "日本人")
        if row is not None:
            assert row.former_surname in ("鈴木", "渡邊", "菅野", "佐藤")
            assert row.former_surname != row.name.split("\u3000")[0]

    def _entry_or_removal(
        self,
        data: st.DataObject,
        p: PersonState,
        item: str,
        typed: tuple[tuple[str, str | None], ...],
        kinds: tuple[type[ChangeRequest], type[ChangeRequest]],
        kind: str,
    ) -> Person | None:
        """Enter ``item`` (a name and its reading, one of ``typed``) or remove it, by the entry and
        removal request ``kinds`` (of a 住民種別 ``kind``); the row after an accepted entry."""
        event_date = self._date(data)
        before = getattr(self._current_row(p.atena), item)
        # mostly what the person's record allows (an entry without one, else a removal), sometimes not
        sensible = data.draw(st.integers(0, 3), label="sensible") > 0
        entry = before is None if sensible else data.draw(st.booleans(), label=f"{item} entry")
        fields: dict[str, str | None] = {}
        if entry:
            value, kana = data.draw(st.sampled_from(typed), label=item)
            fields = {item: value, f"{item}_kana": kana}
        request = kinds[0 if entry else 1](
            idempotency_key=key(), event_date=event_date, notified_on=self._notified(data, event_date),
            atena_number=p.atena, **fields,
        )  # fmt: skip
        if self._submit(request) is None:
            return None
        row = self._current_row(p.atena)
        assert (row.kind, row.last_change) == (kind, request.change_type)
        if not entry:
            assert before is not None and (getattr(row, item), getattr(row, f"{item}_kana")) == (None, None)
            return None
        assert before is None
        return row

    @precondition(lambda self: bool(self.persons))
    @rule(data=st.data())
    def nationality_change(self, data: st.DataObject) -> None:
        """帰化 or 国籍取得 of a foreign resident (a 氏名 from the 戸籍 or kept), or 国籍喪失."""
        world = self._world()
        event_date = self._date(data)
        notified = self._notified(data, event_date)
        request: Naturalization | NationalityLoss
        if self.foreign and data.draw(st.booleans(), label="becomes Japanese"):
            p = self._foreign_person(data, world)
            honseki, hittosha = data.draw(st.sampled_from(HONSEKI), label="本籍")
            if data.draw(st.integers(0, 9), label="no 本籍") == 9:
                honseki = ""
            name, kana = data.draw(st.sampled_from((("", ""), *NAMES)), label="戸籍の氏名")
            kind = data.draw(
                st.sampled_from((Naturalization, NationalityAcquisition)), label="帰化 or 国籍取得"
            )
            request = kind(
                idempotency_key=key(), event_date=event_date, notified_on=notified, atena_number=p.atena,
                honseki=honseki, hittosha=hittosha, name=name, name_kana=kana,
            )  # fmt: skip
        else:
            p = self._person(data, world)
            request = NationalityLoss(
                idempotency_key=key(), event_date=event_date, notified_on=notified, atena_number=p.atena,
                nationality=data.draw(st.sampled_from(("アメリカ合衆国", "", "中国（台湾）")), label="国籍"),
                residence_status=data.draw(st.sampled_from(LOSS_STATUSES), label="在留資格"),
            )  # fmt: skip
        if self._submit(request) is None:
            return
        row = self._current_row(p.atena)
        assert row.last_change == request.change_type
        if isinstance(request, Naturalization):
            assert (row.kind, row.nationality, row.residence_status, row.alias) == (
                "日本人",
                None,
                None,
                None,
            )
            assert row.honseki is not None and row.hittosha is not None
        else:
            assert (row.kind, row.honseki, row.hittosha) == ("外国人", None, None)
            self.foreign.append(p.atena)

    @precondition(lambda self: bool(self.persons))
    @rule(data=st.data())
    def domicile_transfer(self, data: st.DataObject) -> None:
        """転籍 of a resident and (sometimes) their housemates: one 戸籍, or a mix that is refused."""
        world = self._world()
        with self._session() as session:
            registered = list(
                session.scalars(
                    select(Person.atena_number)
                    .where(Person.atena_number.in_(self.persons), Person.honseki.is_not(None))
                    .order_by(Person.atena_number)
                )
            )
        if registered and data.draw(st.integers(0, 4), label="any person") < 4:
            p = world.persons[data.draw(st.sampled_from(registered), label="with 本籍")]
        else:
            p = self._person(data, world)
        persons = [p.atena]
        if data.draw(st.booleans(), label="with housemates"):
            persons += self._housemates(world, p)
        honseki = data.draw(
            st.sampled_from([h for h, _ in HONSEKI] + ["東京都港区芝公園四丁目２番"]), label="本籍"
        )
        event_date = self._date(data)
        request = DomicileTransfer(
            idempotency_key=key(), event_date=event_date, notified_on=self._notified(data, event_date),
            persons=tuple(persons), honseki=honseki,
        )  # fmt: skip
        if self._submit(request) is None:
            return
        rows = [self._current_row(a) for a in persons]
        assert len({(r.honseki, r.hittosha) for r in rows}) == 1, "one 戸籍 moved as one"
        assert all(r.kind == "日本人" and r.last_change == "転籍" for r in rows)

    def _removal_roles(self, data: st.DataObject, world: World, p: PersonState) -> dict[str, Any]:
        household = world.households.get(p.household)
        if household is None or not p.resident:
            return {"new_head": None, "relationships": {}}
        roles = self._roles(data, world, household, [p], forms_household=False)
        return {"new_head": roles["remaining_head"], "relationships": roles["remaining_relationships"]}

    @precondition(lambda self: bool(self.persons))
    @rule(data=st.data())
    def death(self, data: st.DataObject) -> None:
        world = self._world()
        pending = [
            p for p in world.persons.values() if p.removal_reason == "転出" and not p.move_out_confirmed
        ]
        roles: dict[str, Any]
        if pending and data.draw(st.integers(0, 2), label="dies before moving") == 0:
            # before the 転出予定日 of their pending 転出 (or, now and then, on it)
            p = data.draw(st.sampled_from(pending), label="moving out")
            assert p.removed_on is not None
            last = min(
                p.removed_on - timedelta(days=data.draw(st.sampled_from((1, 1, 1, 0)), label="on it")), TODAY
            )
            span = max((last - p.address_since).days, 0)
            event_date = p.address_since + timedelta(days=data.draw(st.integers(0, span), label="died on"))
            roles = {
                "new_head": data.draw(
                    st.sampled_from([None, None, *self._housemates(world, p)]), label="new head"
                ),
                "relationships": {},
            }
        else:
            p = self._person(data, world)
            event_date = self._date(data)
            roles = self._removal_roles(data, world, p)
        self._submit(
            Death(
                idempotency_key=key(),
                event_date=event_date,
                notified_on=self._notified(data, event_date),
                atena_number=p.atena,
                **roles,
            )
        )

    @precondition(lambda self: bool(self.persons))
    @rule(data=st.data())
    def ex_officio_removal(self, data: st.DataObject) -> None:
        world = self._world()
        p = self._person(data, world)
        event_date = self._date(data)
        self._submit(
            ExOfficioRemoval(
                idempotency_key=key(),
                event_date=event_date,
                notified_on=None,
                atena_number=p.atena,
                reason="" if data.draw(st.integers(0, 19), label="no reason") == 19 else "居住実態なし",
                **self._removal_roles(data, world, p),
            )
        )

    @precondition(lambda self: bool(self.persons))
    @rule(data=st.data())
    def correction(self, data: st.DataObject) -> None:
        world = self._world()
        p = self._person(data, world)
        shift = st.integers(-400, 400).map(lambda d: timedelta(days=d))
        makers: dict[str, Any] = {
            "name": lambda: data.draw(st.sampled_from(NAMES + FOREIGN_NAMES), label="name")[0],
            "name_kana": lambda: data.draw(st.sampled_from(NAMES + FOREIGN_NAMES), label="kana")[1],
            "birth_date": lambda: p.birth_date + data.draw(shift, label="birth shift"),
            "sex": lambda: data.draw(st.sampled_from(("1", "2")), label="sex"),
            "relationship": lambda: data.draw(st.sampled_from((*KIN, HEAD)), label="続柄"),
            "address_note": lambda: data.draw(st.sampled_from(NOTES), label="方書"),
            "became_resident_on": lambda: p.became_resident_on + data.draw(shift, label="resident shift"),
            "address_since": lambda: p.address_since + data.draw(shift, label="address shift"),
            "previous_address": lambda: data.draw(st.sampled_from(PREVIOUS), label="前住所"),
            "address_before_move_in": lambda: data.draw(st.sampled_from(PREVIOUS), label="転入前住所"),
            "honseki": lambda: data.draw(st.sampled_from(HONSEKI), label="本籍")[0],
            "hittosha": lambda: data.draw(st.sampled_from((*HITTOSHA, "YAMADA　TARO")), label="筆頭者"),
            "nationality": lambda: data.draw(st.sampled_from(NATIONALITIES), label="国籍"),
            "residence_status": lambda: data.draw(st.sampled_from(STATUSES), label="在留資格"),
            "stay_expires_on": lambda: data.draw(
                st.none() | st.dates(date(2020, 1, 1), date(2032, 12, 31)), label="在留期間満了日"
            ),
            "residence_card_number": lambda: data.draw(
                st.sampled_from((None, "XY87654321ZW", "12")), label="在留カード等番号"
            ),
            "alias": lambda: data.draw(st.sampled_from((None, *ALIAS_NAMES)), label="通称"),
            "alias_kana": lambda: data.draw(st.sampled_from((None, *ALIAS_KANA, "やまだ")), label="通称カナ"),
            "address_text": lambda: fresh_address(),  # not correctable: refused
        }
        chosen = data.draw(st.lists(st.sampled_from(sorted(makers)), min_size=1, max_size=3, unique=True))
        fields = {name: makers[name]() for name in chosen}
        kind = data.draw(st.integers(0, 9), label="correction date kind")
        if kind <= 6 and p.became_resident_on <= TODAY:
            span = (TODAY - p.became_resident_on).days
            event_date = p.became_resident_on + timedelta(days=data.draw(st.integers(0, span), label="from"))
        elif kind == 7:
            event_date = p.became_resident_on - timedelta(days=1)
        else:
            event_date = self._date(data)
        result = self._submit(
            Correction(
                idempotency_key=key(),
                event_date=event_date,
                notified_on=None,
                atena_number=p.atena,
                fields=fields,
                reason="" if data.draw(st.integers(0, 19), label="no reason") == 19 else "誤記",
            )
        )
        if result is not None and "relationship" in fields:
            # the corrected 続柄 overlays every later version, in whatever household it was
            ids = {v.fact("household_id") for v in self._versions().values() if v.atena == p.atena}
            self.relationship_corrected |= {
                h.number for h in self._world().households.values() if h.id in ids
            }

    # -- rules: certificates -----------------------------------------------------------------------
    @precondition(lambda self: bool(self.persons))
    @rule(data=st.data())
    def issue_certificate(self, data: st.DataObject) -> None:
        """A certificate of anyone, of any kind, layout and items, for any requester: refused, or a
        sealed PDF that prints the person's name and verifies. A 除票の写し is of a removed record
        only, a 住民票の写し or 記載事項証明書 of a resident only."""
        assert self.storage is not None
        p = self._world().persons[data.draw(st.sampled_from(self.persons), label="person")]
        kind = data.draw(st.sampled_from(list(CertificateKind)), label="certificate")
        certified = data.draw(st.frozensets(st.sampled_from(list(CertifiedItem))), label="certified")
        request = issuance.IssueRequest(
            kind,
            data.draw(st.sampled_from(list(Layout)), label="layout"),
            (p.atena,),
            requester=data.draw(st.sampled_from(list(RequesterKind)), label="requester"),
            requested_items=data.draw(st.frozensets(st.sampled_from(list(OptionalItem))), label="items"),
            certified_items=certified,
        )
        self.now = next_instant()
        note(f"issue {kind.value} ({request.layout.value}) of {p.atena}")
        try:
            doc = issuance.issue(
                self.storage, ctx("registry.certificate.issue"), request, clock=lambda: self.now
            )
        except JichitaiError as exc:
            note(f"  refused: {exc}")
            return
        assert doc.subjects == (p.atena,)
        assert (kind is CertificateKind.JOHYO) == (not p.resident), f"{kind.value} of {p}"
        drawn = subprocess.run(  # in the order drawn: a name is one string
            ["pdftotext", "-raw", "-enc", "UTF-8", "-", "-"], input=doc.pdf, capture_output=True, check=True
        ).stdout.decode()
        if kind is not CertificateKind.KISAI_JIKOU or CertifiedItem.NAME in certified:
            assert "".join(p.name.split()) in "".join(drawn.split()), f"{p.name} not printed"
        check = issuance.verify(self.storage, "131016", doc.pdf)
        assert check.valid, check.problems

    # -- rules: idempotency ------------------------------------------------------------------------
    @precondition(lambda self: bool(self.accepted))
    @rule(data=st.data())
    def submit_again(self, data: st.DataObject) -> None:
        request, first = data.draw(st.sampled_from(self.accepted), label="accepted change")
        self.now = next_instant()
        note(f"submit again {request.idempotency_key} ({request.change_type})")
        fp = self._fingerprint()
        again = self.svc.submit(change_ctx(), request)
        assert again.replayed, "the same request again is a replay"
        assert dataclasses.replace(again, replayed=False) == first, "a replay returns the first result"
        assert self._fingerprint() == fp, "a replay changed the database"

    @precondition(lambda self: bool(self.accepted))
    @rule(data=st.data())
    def reuse_key(self, data: st.DataObject) -> None:
        request, _first = data.draw(st.sampled_from(self.accepted), label="accepted change")
        other = dataclasses.replace(
            request, notified_on=date(2000, 1, 1) if request.notified_on is None else None
        )
        self.now = next_instant()
        note(f"reuse key {request.idempotency_key} for a different {request.change_type}")
        fp = self._fingerprint()
        with pytest.raises(IdempotencyConflict):
            self.svc.submit(change_ctx(), other)
        assert self._fingerprint() == fp, "a refused key reuse changed the database"

    # -- the exit path -------------------------------------------------------------------------------
    def teardown(self) -> None:
        """What the registry holds leaves by the exit path: its export (with 除票) parses row by row
        and household by household as the import checks it; imported into the second installation
        it is exported again as the same rows, and there each person's current facts are the same."""
        if not self.persons:
            return
        assert self.storage is not None and self.exit_storage is not None
        with tempfile.TemporaryDirectory() as tmp:
            header, records = self._exported(self.storage, Path(tmp) / "export.csv")
            parse = ParseContext(
                today=TODAY, known_cities=("千代田区",), municipality_prefix="東京都千代田区"
            )
            rows: list[ResidentRow] = []
            problems: list[str] = []
            for line, record in enumerate(records, start=2):
                parsed = parse_row(record, line, parse)
                if isinstance(parsed, ResidentRow):
                    rows.append(parsed)
                else:
                    problems += [f"{e} in {record}" for e in parsed]
            problems += [str(e) for e in validate_households(rows)]
            assert not problems, "the export does not import:\n" + "\n".join(problems)
            # the other format of the exit path says the same
            in_json = [dataclasses.replace(r, line=0) for r in self._exported_jsonl(Path(tmp), parse)]
            assert in_json == [dataclasses.replace(r, line=0) for r in rows]

            mine = Path(tmp) / "mine.csv"
            with mine.open("w", encoding="utf-8", newline="") as f:
                writer = csv.DictWriter(f, fieldnames=header)
                writer.writeheader()
                writer.writerows(records)
            summary = import_file(
                self.exit_storage, ctx("registry.migration"), mine, ImportOptions(today=TODAY)
            )
            assert (summary.status, summary.rows_rejected) == ("done", 0), summary
            _, again = self._exported(self.exit_storage, Path(tmp) / "again.csv")
        for before, after in itertools.zip_longest(records, again):
            assert before == after, f"exported {before}\nimported and exported again {after}"
        there = self.exit_storage.tenant_engine(Zone.MYNUMBER, self.exit_storage.tenant("131016"))
        here, imported = self._current(self.engine), self._current(there)
        assert sorted(imported) == sorted(here)
        for atena, facts in imported.items():
            registered = here[atena]
            # a 転出確定 is written as 異動事由 転出, its confirmation in the column 転出確定 (rows.py)
            if registered["last_change"] == "転出確定":
                registered["last_change"] = "転出"
            assert facts == registered, f"{atena}: registered {registered}\nimported {facts}"

    def _exported_jsonl(self, tmp: Path, parse: ParseContext) -> list[ResidentRow | list[Any]]:
        """This sequence's persons in the JSON Lines export (with 除票), parsed as the import does."""
        out = tmp / "export.jsonl"
        options = ExportOptions(fmt="jsonl", today=TODAY, include_removed=True)
        export_file(self.storage, ctx("platform.data.export"), out, options)  # type: ignore[arg-type]
        mine = set(self.persons)
        with out.open(encoding="utf-8") as f:
            return [
                parse_row(record, line, parse) if isinstance(record, dict) else record
                for line, record in iter_jsonl(f)
                if not isinstance(record, dict) or record.get("統合宛名番号") in mine
            ]

    def _current(self, engine: Engine) -> dict[str, dict[str, Any]]:
        """The current facts of this sequence's persons, their household by its 世帯番号."""
        with Session(engine) as s:
            found = s.execute(
                select(Person, Household.household_number)
                .join(Household, Household.id == Person.household_id)
                .where(Person.atena_number.in_(self.persons))
            )
            return {
                p.atena_number: {f: getattr(p, f) for f in FACT_FIELDS} | {"household_id": number}
                for p, number in found
            }

    def _exported(self, storage: Storage, out: Path) -> tuple[list[str], list[dict[str, str]]]:
        """The header and the rows of this sequence's persons in ``storage``'s export (with 除票)."""
        options = ExportOptions(today=TODAY, include_removed=True)
        export_file(storage, ctx("platform.data.export"), out, options)
        with out.open(encoding="utf-8", newline="") as f:
            reader = csv.DictReader(f)
            mine = set(self.persons)
            records = [r for r in reader if r["統合宛名番号"] in mine]
            return list(reader.fieldnames or ()), records

    # -- invariants --------------------------------------------------------------------------------
    @invariant()
    def registry_is_consistent(self) -> None:
        world = self._world()
        versions = list(self._versions().values())
        for h in world.households.values():
            self._check_household_now(h)
        with self._session() as s:
            rows = s.scalars(select(Person).where(Person.atena_number.in_(self.persons))).all()
            current = {p.atena_number: tuple(getattr(p, f) for f in FACT_FIELDS) for p in rows}
            for p in rows:  # the search finds each person by what the record says now (通称 included)
                keys = tuple(getattr(p, c) for c in SEARCH_KEY_COLUMNS)
                expected = search_keys(
                    p.name, p.name_kana, p.alias, p.alias_kana, p.former_surname, p.former_surname_kana
                )
                assert keys == expected, p.atena_number
        for p in world.persons.values():
            assert (p.removed_on is None) == p.resident and (p.removal_reason is None) == p.resident
            assert p.birth_date <= p.became_resident_on <= p.address_since, (
                f"{p.atena}: birth {p.birth_date}, resident from {p.became_resident_on}, "
                f"address since {p.address_since}"
            )
            self._check_versions(
                p.atena, timeline([v for v in versions if v.atena == p.atena]), current[p.atena]
            )
        believed = [v for v in versions if v.superseded_at is None]
        days = sorted({v.valid_from for v in believed})
        for h in world.households.values():
            mine = [
                v for v in believed if v.fact("household_id") == h.id and v.fact("status") == STATUS_RESIDENT
            ]
            for day in days:
                members = [
                    v for v in mine if v.valid_from <= day and (v.valid_to is None or v.valid_to > day)
                ]
                if members:
                    self._check_household_on(h, day, members)
            self._check_household_lifetime(h, mine)
        self.touched = set()

    def _check_household_now(self, h: HouseholdState) -> None:
        """A household with residents has one 世帯主 among them, one address, and is not dissolved;
        one without residents is dissolved; the service's view shows no 除票 as member or head."""
        heads = [m for m in h.members if m.relationship == HEAD]
        if h.members:
            assert len(heads) == 1, f"世帯{h.number} has {len(heads)} 世帯主 among {h.members}"
            assert len({m.address for m in h.members}) == 1, f"世帯{h.number} members at several addresses"
            assert h.dissolved_on is None, f"世帯{h.number} has residents but is dissolved"
        else:
            assert h.dissolved_on is not None, f"世帯{h.number} has no resident but is not dissolved"
        if h.number in self.touched:  # the service's view (it writes audit entries: only when touched)
            view = self.svc.household(read_ctx(), h.number)
            assert all(not m.is_removed for m in view.members), f"世帯{h.number} shows a 除票 as a member"
            assert [m.atena_number for m in view.members] == [m.atena for m in h.members]
            assert (view.head.atena_number if view.head else None) == (h.head.atena if h.head else None)

    def _check_versions(self, atena: str, pieces: list[Piece], current: tuple[Any, ...]) -> None:
        """Believed versions tile time from the first one; the open one is the current row; none is
        valid before the birth date it records."""
        assert pieces, f"{atena} has no believed version"
        for (_vf, vt, _f), (next_vf, _nvt, _nf) in itertools.pairwise(pieces):
            assert vt == next_vf, f"{atena}: believed versions leave a gap or overlap: {vt} → {next_vf}"
        for vf, vt, facts in pieces:
            assert vt is None or vf < vt, f"{atena}: empty or reversed version {vf}–{vt}"
            birth = facts[FACT_INDEX["birth_date"]]
            assert vf >= birth, f"{atena}: a version valid from {vf}, before the birth date {birth}"
        assert pieces[-1][1] is None, f"{atena}: the last believed version is closed"
        assert pieces[-1][2] == current, f"{atena}: the current row differs from the open version"

    def _check_household_lifetime(self, h: HouseholdState, residents: list[VersionRow]) -> None:
        """Nobody lives in a household (as recorded now) before it was created or after it ended."""
        for v in residents:
            assert v.valid_from >= h.created_on, (
                f"{v.atena} lives in 世帯{h.number} from {v.valid_from}, before it began ({h.created_on})"
            )
            if h.dissolved_on is not None:
                assert v.valid_to is not None and v.valid_to <= h.dissolved_on, (
                    f"{v.atena} lives in 世帯{h.number} until {v.valid_to}, after it ended ({h.dissolved_on})"
                )

    def _check_household_on(self, h: HouseholdState, day: date, members: list[VersionRow]) -> None:
        """On a past day (as recorded now) the household's members then had one 世帯主, one address."""
        heads = [v.atena for v in members if v.fact("relationship") == HEAD]
        described = [(v.atena, v.fact("relationship"), v.fact("address_text")) for v in members]
        if h.number not in self.relationship_corrected:  # a 職権修正 of a 続柄 may restate the past
            assert len(heads) == 1, (
                f"世帯{h.number} on {day} (as recorded now): {len(heads)} 世帯主 in {described}"
            )
        assert len({v.fact("address_text") for v in members}) == 1, (
            f"世帯{h.number} on {day} (as recorded now): members at several addresses: {described}"
        )


SETTINGS = settings(
    max_examples=int(os.environ.get("REGISTRY_SEQUENCE_EXAMPLES", "40")),
    stateful_step_count=30,
    deadline=None,
    phases=[p for p in Phase if p is not Phase.shrink or os.environ.get("REGISTRY_SEQUENCE_SHRINK")],
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)


def test_change_sequences_keep_the_registry_consistent(
    sequence_storage: Storage, exit_storage: Storage
) -> None:
    RegistrySequences.storage, RegistrySequences.exit_storage = sequence_storage, exit_storage
    try:
        run_state_machine_as_test(RegistrySequences, settings=SETTINGS)
    finally:
        RegistrySequences.storage = RegistrySequences.exit_storage = None
