"""One change (異動) in progress: loads the current state, plans new facts, checks, writes.

A handler (``changes.py``) reads persons and households through :class:`ChangeTx`, plans the new
facts of each person concerned, and queues events; :meth:`ChangeTx.finish` then checks the
households as they will be, writes the bitemporal versions, updates the current rows and the
addressee facts, and appends the events, all in the caller's unit of work.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, or_, select

from jichitai.mynumber.atena import service as atena
from jichitai.mynumber.atena.models import KIND_NON_RESIDENT, KIND_RESIDENT
from jichitai.mynumber.registry import rules
from jichitai.mynumber.registry.addresses import Address, parse_address
from jichitai.mynumber.registry.errors import RegistryRefusal
from jichitai.mynumber.registry.events import EventType, append_events, new_event
from jichitai.mynumber.registry.models import (
    FACT_FIELDS,
    STATUS_RESIDENT,
    Household,
    Person,
    PersonVersion,
    RegistryCounter,
)
from jichitai.mynumber.registry.names import (
    SEARCH_KEY_COLUMNS,
    check_katakana,
    name_key_width,
    normalize_kana,
    normalize_name,
    search_keys,
)
from jichitai.mynumber.registry.service.requests import ChangeRequest, ChangeResult, NewPerson
from jichitai.platform.storage import UnitOfWork

Facts = dict[str, Any]
_HOUSEHOLD_COUNTER = "household_number"


def new_id() -> str:
    return uuid.uuid4().hex


def facts_of(row: Person | PersonVersion) -> Facts:
    return {f: getattr(row, f) for f in FACT_FIELDS}


def address_facts(address: Address, note: str | None) -> Facts:
    return {
        "address_text": address.text,
        "address_prefecture": address.prefecture,
        "address_city": address.city,
        "address_town": address.town_with_chome if address.chome is None else address.town,
        "address_chome": address.chome,
        "address_block": address.block,
        "address_building": address.building,
        "address_note": note or None,
    }


def sync_current(person: Person, facts: Facts, now: datetime) -> None:
    """Copy ``facts`` into the current row and refresh its search keys."""
    for f in FACT_FIELDS:
        setattr(person, f, facts[f])
    keys = search_keys(
        facts["name"],
        facts["name_kana"],
        facts["alias"],
        facts["alias_kana"],
        facts["former_surname"],
        facts["former_surname_kana"],
    )
    for column, key in zip(SEARCH_KEY_COLUMNS, keys, strict=True):
        setattr(person, column, key)
    person.address_key = facts["address_text"]
    person.version_no = (person.version_no or 0) + 1
    person.updated_at = now


@dataclass
class _PendingEvent:
    event_type: EventType
    person_id: str
    payload: dict[str, Any]


class ChangeTx:
    """The state of one change while it is planned, checked and written."""

    def __init__(
        self, uow: UnitOfWork, req: ChangeRequest, *, today: date, now: datetime, actor: str
    ) -> None:
        self.uow = uow
        self.session = uow.session
        self.req = req
        self.today = today
        self.now = now
        self.actor = actor
        self.change_id = new_id()
        self.effective = req.event_date
        self.plan: dict[str, Facts] = {}
        self.persons: dict[str, Person] = {}
        self.new_persons: dict[str, NewPerson] = {}
        self.corrections: dict[str, Facts] = {}  # person id -> fields corrected (職権修正)
        self.households: dict[str, Household] = {}  # touched, by id
        self.events: list[_PendingEvent] = []
        self.reasons: list[str] = []
        self.late_notification = False
        self.tenant = uow.tenant

    # -- reading ---------------------------------------------------------------------------------
    def refuse(self, *reasons: str) -> None:
        self.reasons.extend(reasons)

    def check(self) -> None:
        """Raise the refusal now if anything was found (before reading what depends on it)."""
        if self.reasons:
            raise RegistryRefusal(rules.dedupe(self.reasons))

    def check_residents(self, persons: Sequence[Person], action: str) -> None:
        """Changes other than corrections apply to current residents only, not to a 除票."""
        for p in persons:
            self.refuse(*rules.check_resident(p.status, label=p.name, action=action))

    def check_dates(self, persons: Sequence[Person], *, days_ahead: int = 0) -> None:
        """The 異動日 for each of ``persons`` (not before birth or their last change, not ahead),
        and the 届出日."""
        for p in persons:
            self.refuse(
                *rules.check_event_date(
                    self.effective,
                    today=self.today,
                    birth_date=p.birth_date,
                    last_change_on=p.last_change_on,
                    days_ahead=days_ahead,
                    label=p.name,
                )
            )
        self.refuse(*rules.check_notification_date(self.req.notified_on, self.effective, today=self.today))

    def resident_of(self, atena_number: str, action: str, kind: str) -> Person:
        """The person named, a resident of ``kind`` (住民種別) still living here, at a valid 異動日:
        the target of a change that only a Japanese or only a foreign resident has."""
        p = self.person(atena_number)
        self.check_residents([p], action)
        if p.kind != kind:
            self.refuse(f"{rules.who(p.name)}{action}は{kind}住民のみ記録できます")
        self.check()
        self.check_dates([p])
        return p

    def set_checked(self, p: Person, changes: dict[str, Any]) -> None:
        """Check ``p``'s facts with ``changes`` as a whole (the entry rules) and plan them."""
        self.refuse(*rules.check_person(rules.PersonDraft.of(self.facts(p) | changes), today=self.today))
        self.check()
        self.set(p, **changes)

    def person(self, atena_number: str) -> Person:
        for known in self.persons.values():
            if known.atena_number == atena_number:
                return known
        p = self.session.scalar(select(Person).where(Person.atena_number == atena_number))
        if p is None:
            raise RegistryRefusal([f"統合宛名番号 {atena_number} の住民記録がありません"])
        self.persons[p.id] = p
        self.households.setdefault(p.household_id, self.session.get_one(Household, p.household_id))
        return p

    def household(self, number: str) -> Household:
        h = self.session.scalar(select(Household).where(Household.household_number == number))
        if h is None:
            raise RegistryRefusal([f"世帯番号 {number} の世帯がありません"])
        if h.dissolved_on is not None:
            raise RegistryRefusal(
                [f"世帯番号 {number} の世帯は消滅しています（{h.dissolved_on.isoformat()}）"]
            )
        self.refuse(
            *rules.check_joining(self.effective, number=number, created_on=h.created_on, address_since=None)
        )
        self.households[h.id] = h
        return h

    def facts(self, p: Person) -> Facts:
        return self.plan[p.id] if p.id in self.plan else facts_of(p)

    def residents_on(self, household: Household, day: date) -> dict[str, str]:
        """Person id → 続柄 of those living in ``household`` on ``day``, as recorded now."""
        rows = self.session.execute(
            select(PersonVersion.person_id, PersonVersion.relationship).where(
                PersonVersion.household_id == household.id,
                PersonVersion.superseded_at.is_(None),
                PersonVersion.status == STATUS_RESIDENT,
                PersonVersion.valid_from <= day,
                or_(PersonVersion.valid_to.is_(None), PersonVersion.valid_to > day),
            )
        )
        return dict(rows.all())  # a Result has keys(): dict() would take it for a mapping

    def members(self, household: Household) -> list[Person]:
        """Members of a household on the effective date, as recorded now, head first.

        A member whose removal is recorded for a later day (a 転出予定日, a 死亡 entered late) still
        lives there on that date; one recorded as joining on a later day does not yet. A change
        that would rewrite such a member's later record is refused by :meth:`set`.
        """
        return self._members_on_effective_date(household)[0]

    def _members_on_effective_date(self, household: Household) -> tuple[list[Person], dict[str, str]]:
        on_day = self.residents_on(household, self.effective)
        missing = [pid for pid in on_day if pid not in self.persons]
        if missing:
            for p in self.session.scalars(select(Person).where(Person.id.in_(missing))):
                self.persons[p.id] = p
        rows = [self.persons[pid] for pid in on_day]
        rows.sort(key=lambda p: (on_day[p.id] != rules.HEAD, p.birth_date, p.atena_number))
        return rows, on_day

    def current_members(self, household: Household) -> list[Person]:
        """Those living in the household now (whatever the effective date)."""
        rows = self.session.scalars(
            select(Person).where(Person.household_id == household.id, Person.status == STATUS_RESIDENT)
        )
        return [self.persons.setdefault(p.id, p) for p in rows]

    def head_of(self, household: Household) -> Person | None:
        """The 世帯主 on the effective date, as recorded now."""
        rows, on_day = self._members_on_effective_date(household)
        return next((p for p in rows if on_day[p.id] == rules.HEAD), None)

    def address(self, text: str, note: str | None) -> Facts:
        """A resident's address, normalized and checked to lie in the municipality."""
        parsed = parse_address(text, known_cities=(self.tenant.name,))
        if not parsed.prefecture:
            parsed = parse_address(self.tenant.prefecture + text, known_cities=(self.tenant.name,))
        self.refuse(
            *rules.check_address_in_municipality(
                parsed.text, prefecture=self.tenant.prefecture, municipality=self.tenant.name
            ),
            *rules.check_address_lengths(parsed.text, parsed.block, note),
        )
        return address_facts(parsed, note)

    # -- planning --------------------------------------------------------------------------------
    def base(self) -> Facts:
        """The facts every version written by this change carries about the change itself."""
        return {
            "last_change": self.req.change_type,
            "last_change_on": self.effective,
            "last_notified_on": self.req.notified_on,
        }

    def free_text(self, facts: Facts, label: str) -> Facts:
        """``facts`` with the free-text items normalized as the import does; unprintable ones refused."""
        normalized, reasons = rules.normalize_free_text(facts, label=label)
        self.refuse(*reasons)
        return normalized

    def set(self, p: Person, *, checked: bool = True, **changes: Any) -> Facts:
        """Plan new facts for ``p`` from the effective date on.

        ``checked``: a recorded person's new facts may not start before their birth or their last
        recorded change (which they would erase); only a 職権修正 and a 転出確定 pass ``False``.
        """
        if checked and p.version_no:
            self.refuse(
                *rules.check_history_order(
                    self.effective, birth_date=p.birth_date, last_change_on=p.last_change_on, label=p.name
                )
            )
        facts = self.facts(p) | self.base() | self.free_text(changes, p.name)
        self.plan[p.id] = facts
        self.persons[p.id] = p
        return facts

    def restate_relationship(self, p: Person, relationship: str, kind: str) -> None:
        """Plan ``p``'s 続柄 from the effective date on: a new 世帯主, or a restated 続柄 (``kind``).

        When ``p`` has later recorded changes that kept their household and 続柄 (a 転出予定日 ahead,
        a 死亡 entered late), the 続柄 is laid over them, as a 職権修正 would, instead of erasing
        them: the wife whose 転出 is pending becomes 世帯主 on the day her husband died, and leaves
        as 世帯主. Any other later change refuses (see :meth:`set`).
        """
        if p.version_no and self.effective < p.last_change_on and self.effective >= p.birth_date:
            later = [v for v in self.versions(p) if v.valid_to is None or v.valid_to > self.effective]
            if (
                later
                and later[0].valid_from <= self.effective
                and len({(v.relationship, v.household_id) for v in later}) == 1
            ):
                self.corrections[p.id] = {"relationship": relationship}
                self.plan[p.id] = self.facts(p) | {"relationship": relationship}
                self.persons[p.id] = p
                return
        self.set(p, relationship=relationship, last_change=kind)

    def correct(self, p: Person, fields: Facts) -> None:
        """Plan a 職権修正: ``fields`` overlay every version from the effective date on.

        A correction dated before the last recorded change leaves the current version's change
        facts (the 異動 that began it) as they are: it is not a later 異動 than that one.
        """
        fields = self.free_text(fields, p.name)
        self.corrections[p.id] = dict(fields)
        facts = self.set(p, checked=False, **fields)
        if self.effective < p.last_change_on:
            facts.update({k: getattr(p, k) for k in self.base()})

    def new_household(self) -> Household:
        counter = self.session.execute(
            select(RegistryCounter).where(RegistryCounter.name == _HOUSEHOLD_COUNTER).with_for_update()
        ).scalar_one()
        while True:
            number = f"{counter.next_value:010d}"
            counter.next_value += 1
            if self.session.scalar(select(Household.id).where(Household.household_number == number)) is None:
                break
        h = Household(id=new_id(), household_number=number, created_on=self.effective, created_at=self.now)
        self.session.add(h)
        self.households[h.id] = h
        return h

    def add_person(self, draft: NewPerson, household: Household, address: Facts, **extra: Any) -> Person:
        """Plan a person entering the register; their 統合宛名番号 is settled in :meth:`finish`."""
        self.check_new(draft)
        name, kana = normalize_name(draft.name), draft.name_kana
        if check_katakana(kana) is None:
            kana = normalize_kana(kana)
        existing = self._returning_person(draft, name)
        p = existing or Person(id=new_id(), version_no=0)
        facts: Facts = {
            "household_id": household.id,
            "relationship": draft.relationship,
            "name": name,
            "name_kana": kana,
            "alias": normalize_name(draft.alias) if draft.alias else None,
            "alias_kana": normalize_kana(draft.alias_kana) if draft.alias_kana else None,
            "former_surname": None,  # recorded at the resident's 請求 (旧氏記載), after entry
            "former_surname_kana": None,
            "birth_date": draft.birth_date,
            "sex": draft.sex,
            "kind": draft.kind,
            "became_resident_on": self.effective,
            **address,
            "address_since": self.effective,
            "previous_address": None,
            "address_before_move_in": None,
            "honseki": draft.honseki,
            "hittosha": normalize_name(draft.hittosha) if draft.hittosha else None,
            "nationality": draft.nationality,
            "residence_status": draft.residence_status,
            "stay_expires_on": draft.stay_expires_on,
            "residence_card_number": draft.residence_card_number,
            "status": STATUS_RESIDENT,
            "removal_reason": None,
            "removed_on": None,
            "moved_out_to": None,
            "move_out_confirmed": None,
            **self.base(),
            **extra,
        }
        facts = self.free_text(facts, name)
        self.plan[p.id] = facts
        self.persons[p.id] = p
        if existing is None:
            self.new_persons[p.id] = draft
        self.households[household.id] = household
        return p

    def check_new(self, draft: NewPerson) -> None:
        """The facts of a person entering the register, on their own."""
        name = normalize_name(draft.name)
        d = rules.PersonDraft(
            name,
            draft.name_kana,
            draft.birth_date,
            draft.sex,
            draft.kind,
            draft.relationship,
            draft.honseki,
            normalize_name(draft.hittosha) if draft.hittosha else None,  # as written (add_person)
            draft.nationality,
            draft.residence_status,
            draft.stay_expires_on,
            draft.residence_card_number,
            normalize_name(draft.alias) if draft.alias else None,
            draft.alias_kana,
        )
        self.refuse(*rules.check_person(d, today=self.today))
        self.refuse(*rules.check_individual_number(draft.individual_number, label=name))
        self.refuse(*rules.check_juminhyo_code(draft.juminhyo_code, label=name))

    def _returning_person(self, draft: NewPerson, label: str) -> Person | None:
        """A former resident (除票) coming back keeps their record and 統合宛名番号."""
        if draft.juminhyo_code is None:
            return None
        p = self.session.scalar(select(Person).where(Person.juminhyo_code == draft.juminhyo_code))
        if p is None:
            return None
        if p.status == STATUS_RESIDENT:
            self.refuse(f"{label}: 住民票コード {draft.juminhyo_code} の住民は既に記録されています")
            return None
        if p.birth_date != draft.birth_date:
            self.refuse(f"{label}: 住民票コード {draft.juminhyo_code} の除票と生年月日が一致しません")
            return None
        if self.effective < p.last_change_on:
            self.refuse(
                f"{label}: 異動日（{self.effective.isoformat()}）が除票の最後の異動日"
                f"（{p.last_change_on.isoformat()}）より前です"
            )
            return None
        return p

    def household_address_since(self, household: Household) -> date | None:
        """The day the household took up its present address: the earliest 住所を定めた日 of its
        present members (a child born there, or someone who joined later, has a later one)."""
        return self.session.scalar(
            select(func.min(Person.address_since)).where(
                Person.household_id == household.id, Person.status == STATUS_RESIDENT
            )
        )

    def versions(self, p: Person) -> list[PersonVersion]:
        """What the register now believes of ``p`` (versions not superseded), oldest first."""
        return list(
            self.session.scalars(
                select(PersonVersion)
                .where(PersonVersion.person_id == p.id, PersonVersion.superseded_at.is_(None))
                .order_by(PersonVersion.valid_from)
            )
        )

    def event(self, event_type: EventType, p: Person, **payload: Any) -> None:
        self.events.append(_PendingEvent(event_type, p.id, payload))

    def relationships(self, mapping: Mapping[str, str], allowed: Iterable[Person]) -> dict[str, str]:
        """Validate a change's 続柄 mapping (統合宛名番号 → 続柄) against the persons it may name."""
        by_atena = {p.atena_number: p for p in allowed}
        out: dict[str, str] = {}
        for atena_number, rel in mapping.items():
            p = by_atena.get(atena_number)
            if p is None:
                self.refuse(f"続柄の指定にある統合宛名番号 {atena_number} はこの世帯変更の対象ではありません")
                continue
            self.refuse(*rules.check_relationships([(p.name, rel)]))
            out[p.id] = rel
        return out

    # -- finishing -------------------------------------------------------------------------------
    def _lives_from(self, h: Household) -> list[list[tuple[date, date | None, Facts]]]:
        """The versions, as this change leaves them, of everyone who lives in ``h`` on or after
        the effective date: one list of (valid_from, valid_to, facts) per person, from that date."""
        start = self.effective
        recorded = set(
            self.session.scalars(
                select(PersonVersion.person_id).where(
                    PersonVersion.household_id == h.id,
                    PersonVersion.superseded_at.is_(None),
                    or_(PersonVersion.valid_to.is_(None), PersonVersion.valid_to > start),
                )
            )
        )
        planned = {pid for pid, f in self.plan.items() if f["household_id"] == h.id}
        replaced = {pid for pid in self.plan if pid not in self.corrections}
        lives: list[list[tuple[date, date | None, Facts]]] = [
            [(start, None, self.plan[pid])] for pid in (recorded | planned) & replaced
        ]
        kept = sorted(recorded - replaced)
        if kept:
            versions = self.session.scalars(
                select(PersonVersion)
                .where(
                    PersonVersion.person_id.in_(kept),
                    PersonVersion.superseded_at.is_(None),
                    or_(PersonVersion.valid_to.is_(None), PersonVersion.valid_to > start),
                )
                .order_by(PersonVersion.person_id, PersonVersion.valid_from)
            )
            by_person: dict[str, list[tuple[date, date | None, Facts]]] = {}
            for v in versions:
                overlay = self.corrections.get(v.person_id)
                if overlay is not None and v.valid_to is None:
                    facts = self.plan[v.person_id]
                else:
                    facts = facts_of(v) | (overlay or {})
                by_person.setdefault(v.person_id, []).append((max(v.valid_from, start), v.valid_to, facts))
            lives += by_person.values()
        return lives

    def _check_households(self) -> None:
        """Each household the change touches, on its date and on every later day something is
        recorded for: one 世帯主, one address, nobody before it was set up; then its end."""
        start = self.effective
        for h in list(self.households.values()):
            lives = self._lives_from(h)

            def member(facts: Facts, h: Household = h) -> bool:
                return bool(facts["household_id"] == h.id and facts["status"] == STATUS_RESIDENT)

            days = sorted({start} | {vf for pieces in lives for vf, _vt, _f in pieces})
            for day in days:
                members = [
                    rules.Member(f["name"], f["relationship"], f["address_text"])
                    for pieces in lives
                    for vf, vt, f in pieces
                    if vf <= day and (vt is None or vt > day) and member(f)
                ]
                on = None if day == start else day
                self.refuse(*rules.check_household(h.household_number, members, on=on))
            ends = [vt for pieces in lives for _vf, vt, f in pieces if member(f)]
            if any(vf < h.created_on and member(f) for pieces in lives for vf, _vt, f in pieces):
                self.refuse(
                    *rules.check_joining(
                        start, number=h.household_number, created_on=h.created_on, address_since=None
                    )
                )
            if None in ends:
                if h.dissolved_on is not None:
                    self.refuse(f"世帯{h.household_number}は消滅しています")
                continue
            # nobody lives there any more: it ends when the last member left
            end = max((vt for vt in ends if vt is not None), default=None)
            if end is None:
                end = h.dissolved_on if h.dissolved_on is not None and h.dissolved_on <= start else start
            if h.dissolved_on != end:
                h.dissolved_on = end

    def _settle_numbers(self) -> None:
        """個人番号 duplicates (blind index) and 統合宛名番号 for persons entering the register."""
        for pid, draft in self.new_persons.items():
            p = self.persons[pid]
            label = self.plan[pid]["name"]
            number = draft.individual_number
            known = None
            if number is not None and not rules.check_individual_number(number):
                bidx = atena.individual_number_index(self.uow, number)
                other = self.session.execute(
                    select(Person.atena_number, Person.status).where(Person.individual_number_bidx == bidx)
                ).first()
                if other is not None:
                    if other.status == STATUS_RESIDENT:
                        self.refuse(
                            f"{label}: この個人番号は既に住民"
                            f"（統合宛名番号 {other.atena_number}）に記録されています"
                        )
                    else:
                        self.refuse(
                            f"{label}: この個人番号は除票"
                            f"（統合宛名番号 {other.atena_number}）に記録されています。"
                            "住民票コードを指定して届け出てください"
                        )
                    continue
                known = atena.find_by_individual_number(self.uow, number)
                p.individual_number_bidx = bidx
                p.individual_number_enc = self.uow.keyring.field_encrypt(
                    Person.__tablename__, "individual_number", p.id, atena.checked_individual_number(number)
                )
            p.juminhyo_code = draft.juminhyo_code or self._new_juminhyo_code()
            facts = self._basic_facts(self.plan[pid])
            if known is not None:  # a 住登外者 known here (e.g. as a taxpayer) becomes a resident
                p.atena_number = known.atena_number
            else:
                p.atena_number = atena.register(
                    self.uow, facts, kind=KIND_RESIDENT, individual_number=number
                ).atena_number

    def _new_juminhyo_code(self) -> str:
        # 住民票コード: ten random digits and a check digit (住基法施行規則第1条); in production the
        # municipality draws them from the range 地方公共団体情報システム機構 assigns to it.
        while True:
            body = f"{secrets.randbelow(10**10):010d}"
            code = body + str(rules.juminhyo_code_check_digit(body))
            if self.session.scalar(select(Person.id).where(Person.juminhyo_code == code)) is None:
                return code

    @staticmethod
    def _basic_facts(facts: Facts) -> atena.BasicFacts:
        removed = facts["status"] != STATUS_RESIDENT
        address = (facts["moved_out_to"] or facts["address_text"]) if removed else facts["address_text"]
        return atena.BasicFacts(facts["name"], facts["name_kana"], facts["birth_date"], address, facts["sex"])

    def _write_versions(self, p: Person, facts: Facts, is_new: bool) -> None:
        """Supersede the versions this change contradicts and insert the new ones.

        The part of an old version before the effective date comes back unchanged with its
        ``valid_to``. A correction (職権修正) rewrites what was recorded from the effective date on
        while keeping every later change: each later version comes back with the corrected fields.
        """
        s = self.session
        overlay = self.corrections.get(p.id)
        if not is_new:
            overlapping = s.scalars(
                select(PersonVersion)
                .where(
                    PersonVersion.person_id == p.id,
                    PersonVersion.superseded_at.is_(None),
                    or_(PersonVersion.valid_to.is_(None), PersonVersion.valid_to > self.effective),
                )
                .order_by(PersonVersion.valid_from)
            ).all()
            for v in overlapping:
                v.superseded_at = self.now
                if v.valid_from < self.effective:
                    s.add(self._copy(v, valid_from=v.valid_from, valid_to=self.effective))
                if overlay is not None:
                    start = max(v.valid_from, self.effective)
                    if v.valid_to is None:
                        s.add(self._version(p, facts, valid_from=start))
                    else:
                        s.add(self._copy(v, valid_from=start, valid_to=v.valid_to, overlay=overlay))
        if overlay is None:
            s.add(self._version(p, facts, valid_from=self.effective))
        sync_current(p, facts, self.now)

    def _copy(
        self, v: PersonVersion, *, valid_from: date, valid_to: date | None, overlay: Facts | None = None
    ) -> PersonVersion:
        facts = facts_of(v) | (overlay or {})
        change_id = self.change_id if overlay else v.change_id
        return PersonVersion(
            id=new_id(),
            person_id=v.person_id,
            atena_number=v.atena_number,
            valid_from=valid_from,
            valid_to=valid_to,
            recorded_at=self.now,
            change_id=change_id,
            **facts,
        )

    def _version(self, p: Person, facts: Facts, *, valid_from: date) -> PersonVersion:
        return PersonVersion(
            id=new_id(),
            person_id=p.id,
            atena_number=p.atena_number,
            valid_from=valid_from,
            valid_to=None,
            recorded_at=self.now,
            change_id=self.change_id,
            **facts,
        )

    def finish(self) -> ChangeResult:
        self.check()
        self._check_households()
        self.check()
        self._settle_numbers()
        self.check()
        for pid, facts in self.plan.items():
            p = self.persons[pid]
            is_new = p.version_no == 0
            if is_new:
                sync_current(p, facts, self.now)
                self.session.add(p)
            self._write_versions(p, facts, is_new)
            kind = KIND_RESIDENT if facts["status"] == STATUS_RESIDENT else KIND_NON_RESIDENT
            atena.update_facts(self.uow, p.atena_number, self._basic_facts(facts), kind=kind)
        self.session.flush()
        numbers = {h.id: h.household_number for h in self.households.values()}
        rows = [
            new_event(
                e.event_type,
                change_id=self.change_id,
                atena_number=self.persons[e.person_id].atena_number,
                household_number=numbers.get(
                    self.plan.get(e.person_id, facts_of(self.persons[e.person_id]))["household_id"]
                ),
                event_date=self.effective,
                notified_on=self.req.notified_on,
                payload={"change": self.req.change_type, **e.payload},
                recorded_at=self.now,
            )
            for e in self.events
        ]
        seqs = append_events(self.session, rows)
        return ChangeResult(
            change_id=self.change_id,
            change_type=self.req.change_type,
            idempotency_key=self.req.idempotency_key,
            atena_numbers=tuple(dict.fromkeys(self.persons[pid].atena_number for pid in self.plan)),
            household_numbers=tuple(sorted({h.household_number for h in self.households.values()})),
            event_seqs=tuple(seqs),
            late_notification=self.late_notification,
        )


def same_name_key(a: str, b: str) -> bool:
    return name_key_width(a) == name_key_width(b)
