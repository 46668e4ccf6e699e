"""The change handlers (異動処理): one function per kind of change, planning on a :class:`ChangeTx`.

Each handler checks the request against the current state with :mod:`rules`, plans the new facts
of every person concerned (including the 世帯主 and 続柄 of those who stay behind) and queues the
events; ``ChangeTx.finish`` checks the households as they will be and writes everything.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select

from jichitai.mynumber.registry import rules
from jichitai.mynumber.registry.addresses import normalize_address_text
from jichitai.mynumber.registry.events import EventType
from jichitai.mynumber.registry.models import (
    STATUS_REMOVED,
    STATUS_RESIDENT,
    Household,
    Person,
    PersonVersion,
)
from jichitai.mynumber.registry.names import normalize_kana, normalize_name
from jichitai.mynumber.registry.service import foreign, former_surname
from jichitai.mynumber.registry.service.requests import (
    AliasEntry,
    AliasRemoval,
    Birth,
    CancelMoveOut,
    ChangeHead,
    ChangeRequest,
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
    ResidenceStatusChange,
    SplitHousehold,
    StayExtension,
)
from jichitai.mynumber.registry.service.state import ChangeTx, Facts

_ADDRESS_FIELDS = (
    "address_text",
    "address_prefecture",
    "address_city",
    "address_town",
    "address_chome",
    "address_block",
    "address_building",
    "address_note",
)

# Items a 職権修正 may correct (the address itself changes by 転居, removal by its own changes).
CORRECTABLE: frozenset[str] = frozenset(
    {
        "name",
        "name_kana",
        "birth_date",
        "sex",
        "relationship",
        "honseki",
        "hittosha",
        "nationality",
        "residence_status",
        "stay_expires_on",
        "residence_card_number",
        "alias",
        "alias_kana",
        "former_surname",
        "former_surname_kana",
        "address_note",
        "became_resident_on",
        "address_since",
        "previous_address",
        "address_before_move_in",
    }
)


def _in_household(tx: ChangeTx, persons: Sequence[Person], household: Household) -> None:
    for p in persons:
        if p.household_id != household.id:
            tx.refuse(f"{p.name}: 世帯{household.household_number}の世帯員ではありません")


def _after_leaving(
    tx: ChangeTx,
    household: Household,
    leaving: Sequence[Person],
    remaining_head: str | None,
    remaining_relationships: Mapping[str, str],
) -> None:
    """Those who stay: a new 世帯主 when the head leaves (unless nobody stays), restated 続柄."""
    leaving_ids = {p.id for p in leaving}
    remaining = [m for m in tx.members(household) if m.id not in leaving_ids]
    head = next((p for p in leaving if p.relationship == rules.HEAD), None)
    new_head: Person | None = None
    if not remaining:
        if remaining_head is not None:
            tx.refuse("世帯に残る者がいないため、新しい世帯主は指定できません")
        return
    if head is not None:
        if remaining_head is None:
            tx.refuse(f"世帯主（{head.name}）が世帯を離れ世帯員が残るため、新しい世帯主を指定してください")
            return
        new_head = next((m for m in remaining if m.atena_number == remaining_head), None)
        if new_head is None:
            tx.refuse(f"新しい世帯主（統合宛名番号 {remaining_head}）は世帯に残る世帯員ではありません")
            return
        _make_head(tx, new_head)
    elif remaining_head is not None:
        tx.refuse("世帯主は世帯に残るため、新しい世帯主は指定できません")
    for pid, rel in tx.relationships(remaining_relationships, remaining).items():
        p = tx.persons[pid]
        if p is new_head:
            continue
        tx.restate_relationship(p, rel, "続柄変更")
        tx.event(EventType.HOUSEHOLD_CHANGE, p, kind="続柄変更", relationship=rel)


def _make_head(tx: ChangeTx, p: Person) -> None:
    """``p`` becomes 世帯主 from the effective date (``ChangeTx.restate_relationship``)."""
    tx.restate_relationship(p, rules.HEAD, "世帯主変更")
    tx.event(EventType.HOUSEHOLD_CHANGE, p, kind="世帯主変更", relationship=rules.HEAD)


def _check_joining(tx: ChangeTx, household: Household) -> None:
    tx.refuse(
        *rules.check_joining(
            tx.effective,
            number=household.household_number,
            created_on=household.created_on,
            address_since=tx.household_address_since(household),
        )
    )


def _address_of(tx: ChangeTx, p: Person) -> Facts:
    facts = tx.facts(p)
    return {k: facts[k] for k in _ADDRESS_FIELDS}


def _check_unique_in_request(tx: ChangeTx, persons: Sequence[NewPerson]) -> None:
    codes = [p.juminhyo_code for p in persons if p.juminhyo_code]
    numbers = [p.individual_number for p in persons if p.individual_number]
    if len(codes) != len(set(codes)):
        tx.refuse("同じ住民票コードが複数の者に記入されています")
    if len(numbers) != len(set(numbers)):
        tx.refuse("同じ個人番号が複数の者に記入されています")


def _enter(
    tx: ChangeTx,
    persons: Sequence[NewPerson],
    address_text: str,
    address_note: str | None,
    household_number: str | None,
    *,
    extra: Facts,
    event_type: EventType,
    payload: dict[str, Any],
) -> None:
    """Persons entering the register at an address, in a new household or joining one."""
    if not persons:
        tx.refuse("記載する者を指定してください")
    _check_unique_in_request(tx, persons)
    for d in persons:
        tx.check_new(d)
    tx.refuse(*rules.check_event_date(tx.effective, today=tx.today))
    tx.refuse(*rules.check_notification_date(tx.req.notified_on, tx.effective, today=tx.today))
    address = tx.address(address_text, address_note)
    tx.check()
    household = tx.household(household_number) if household_number else tx.new_household()
    if household_number:
        _check_joining(tx, household)
    for d in persons:
        tx.refuse(
            *rules.check_event_date(tx.effective, today=tx.today, birth_date=d.birth_date, label=d.name)
        )
        p = tx.add_person(d, household, address, **extra)
        tx.event(
            event_type,
            p,
            address=address["address_text"],
            relationship=d.relationship,
            birth_date=d.birth_date,
            **payload,
        )


def move_in(tx: ChangeTx, req: MoveIn) -> None:
    """転入 (第22条), from another municipality or from abroad (国外転入)."""
    if not req.previous_address:
        tx.refuse(
            "国外からの転入は転入前の国・地域を記入してください"
            if req.from_abroad
            else "転入前住所（転出証明書に記載の住所）を記入してください"
        )
    _enter(
        tx,
        req.persons,
        req.address,
        req.address_note,
        req.household_number,
        extra={
            "address_before_move_in": req.previous_address,
            "last_change": "国外転入" if req.from_abroad else "転入",
        },
        event_type=EventType.MOVE_IN,
        payload={
            "from_abroad": req.from_abroad,
            "previous_address": normalize_address_text(req.previous_address),
            "moved_out_expected_on": req.moved_out_expected_on,
        },
    )
    tx.late_notification = rules.is_late_notification(req.event_date, req.notified_on)


def ex_officio_entry(tx: ChangeTx, req: ExOfficioEntry) -> None:
    """職権記載 (施行令第12条第2項): entered without a notification, found by the municipality."""
    if not req.reason:
        tx.refuse("職権記載の事由を記入してください")
    _enter(
        tx,
        req.persons,
        req.address,
        req.address_note,
        req.household_number,
        extra={"address_before_move_in": req.previous_address or None},
        event_type=EventType.CORRECTION,
        payload={"kind": "職権記載", "reason": req.reason},
    )


def move_within(tx: ChangeTx, req: MoveWithin) -> None:
    """転居 (第23条): the whole household, or some members who then form a household of their own."""
    household = tx.household(req.household_number)
    members = tx.members(household)
    tx.refuse(*rules.check_named_once(req.persons, action="転居"))
    if req.persons is None:  # the whole household; if nobody lived there yet, the date is refused below
        movers = members or tx.current_members(household)
    else:
        movers = [tx.person(a) for a in dict.fromkeys(req.persons)]
    if not movers:
        tx.refuse("転居する者を指定してください")
    tx.check_residents(movers, "転居")
    tx.check()
    _in_household(tx, movers, household)
    tx.check_dates(movers)
    address = tx.address(req.address, req.address_note)
    if movers and address["address_text"] == movers[0].address_text:
        tx.refuse("転居先が現在の住所と同じです")
    tx.check()
    whole = {p.id for p in movers} == {p.id for p in members}
    target = household
    relationships: dict[str, str] = {}
    if not whole:
        head = _new_head(tx, movers, req.new_head)
        relationships = tx.relationships(req.relationships, movers)
        target = tx.new_household()
        for p in movers:
            rel = rules.HEAD if p is head else relationships.get(p.id)
            if rel is None:
                tx.refuse(f"{p.name}: 転居後の世帯での続柄を指定してください")
            relationships[p.id] = rel or ""
    elif req.new_head is not None or req.relationships:
        tx.refuse("世帯全員の転居では世帯主・続柄は変わりません（世帯変更は別に届け出てください）")
    for p in movers:
        changes: Facts = dict(address, address_since=tx.effective, previous_address=p.address_text)
        if not whole:
            changes.update(household_id=target.id, relationship=relationships[p.id])
        tx.set(p, **changes)
        tx.event(
            EventType.MOVE_WITHIN,
            p,
            address=address["address_text"],
            previous_address=p.address_text,
            new_household=not whole,
        )
    if not whole:
        _after_leaving(tx, household, movers, req.remaining_head, req.remaining_relationships)
    tx.late_notification = rules.is_late_notification(req.event_date, req.notified_on)


def _new_head(tx: ChangeTx, persons: Sequence[Person], atena_number: str | None) -> Person | None:
    if atena_number is None:
        if len(persons) == 1:
            return persons[0]
        tx.refuse("新しい世帯の世帯主を指定してください")
        return None
    head = next((p for p in persons if p.atena_number == atena_number), None)
    if head is None:
        tx.refuse(f"新しい世帯の世帯主（統合宛名番号 {atena_number}）は異動する者の中にいません")
    return head


def move_out(tx: ChangeTx, req: MoveOut) -> None:
    """転出 (第24条) and 国外転出: a 除票 from the 転出予定日."""
    if not req.persons:
        tx.refuse("転出する者を指定してください")
    tx.refuse(*rules.check_named_once(req.persons, action="転出"))
    persons = [tx.person(a) for a in dict.fromkeys(req.persons)]
    tx.check_residents(persons, "転出")
    if not req.destination:
        tx.refuse("転出先（国外の場合は国・地域）を記入してください")
    households = {p.household_id for p in persons}
    if len(households) > 1:
        tx.refuse("異なる世帯の者は別々に届け出てください")
    tx.check_dates(persons, days_ahead=rules.MOVE_OUT_MAX_DAYS_AHEAD)
    tx.check()
    household = tx.households[persons[0].household_id]
    reason = "国外転出" if req.abroad else "転出"
    for p in persons:
        facts = tx.set(
            p,
            status=STATUS_REMOVED,
            removal_reason=reason,
            removed_on=tx.effective,
            moved_out_to=req.destination,
            move_out_confirmed=req.abroad,
            last_change=reason,
        )
        tx.event(
            EventType.MOVE_OUT,
            p,
            destination=facts["moved_out_to"],
            abroad=req.abroad,
            confirmed=req.abroad,
            expected_on=tx.effective,
        )
    _after_leaving(tx, household, persons, req.remaining_head, req.remaining_relationships)


def confirm_move_out(tx: ChangeTx, req: ConfirmMoveOut) -> None:
    """転出確定 on the 転入通知: the actual move date replaces the 転出予定日."""
    p = tx.person(req.atena_number)
    if p.removal_reason != "転出":
        tx.refuse(f"{p.name}: 転出の届出がないため転出確定はできません")
    elif p.move_out_confirmed:
        tx.refuse(f"{p.name}: 既に転出確定されています")
    staying = _ends_move_out_early(
        tx,
        p,
        day_label="転出日",
        head_left="世帯主の転出日を転出予定日より前にすると",
        remaining_head=req.remaining_head,
    )
    if req.remaining_head is not None and staying is None:
        tx.refuse("世帯主が転出予定日より前に転出した場合のほかは、残る世帯の新しい世帯主は指定できません")
    tx.check()
    facts = tx.set(
        p,
        checked=False,
        removed_on=tx.effective,
        move_out_confirmed=True,
        moved_out_to=req.new_address or p.moved_out_to,
        last_change="転出確定",
    )
    tx.event(
        EventType.MOVE_OUT,
        p,
        destination=facts["moved_out_to"],
        abroad=False,
        confirmed=True,
        expected_on=p.removed_on,
    )


def cancel_move_out(tx: ChangeTx, req: CancelMoveOut) -> None:
    """転出取消: from its 転出予定日 the person is a resident again, and what the 転出 made of those
    who stayed (a new 世帯主, restated 続柄) is undone.

    Only a pending 転出 (not confirmed; a 国外転出 is final when notified), dated on its
    転出予定日. What the 転出 made of others is undone when the person was 世帯主 or left alone (as
    a 転出確定 moves it back), and refused when those records changed since. A member who stays
    while the 世帯主 still leaves, with no new 世帯主 named, becomes 世帯主 of the household from
    that day; a household that the 転出 emptied goes on. The 除票 is replaced from that day, as a
    転出確定 replaces it: a 職権修正 of it recorded for a later day stays in the facts, from that day.
    """
    p = tx.person(req.atena_number)
    if p.removal_reason == "国外転出":
        tx.refuse(f"{p.name}: 国外転出は届出により確定しているため転出取消はできません")
    elif p.removal_reason != "転出" or p.removed_on is None:
        tx.refuse(f"{p.name}: 転出の届出がないため転出取消はできません")
    elif p.move_out_confirmed:
        tx.refuse(f"{p.name}: 転出確定の後は転出取消はできません")
    elif tx.effective != p.removed_on:
        tx.refuse(
            f"{p.name}: 異動日には取り消す転出の転出予定日（{p.removed_on.isoformat()}）を入力してください"
        )
    tx.refuse(*rules.check_notification_date(req.notified_on, tx.effective, today=tx.today))
    tx.check()
    move_out = _pending_move_out(tx, p)
    household = tx.households[p.household_id]
    if move_out.carries_along(tx, p):
        _undo_for_those_staying(tx, p, move_out.removal)
    before = move_out.before
    relationship = before.relationship if before is not None else p.relationship
    if not move_out.was_head and tx.head_of(household) is None:
        relationship = rules.HEAD  # the 世帯主 still leaves, and nobody was named to follow
    tx.check()
    tx.set(
        p,
        checked=False,
        status=STATUS_RESIDENT,
        relationship=relationship,
        removal_reason=None,
        removed_on=None,
        moved_out_to=None,
        move_out_confirmed=None,
        last_change="転出取消",
    )
    if household.dissolved_on is not None and household.dissolved_on >= tx.effective:
        household.dissolved_on = None  # the 転出 emptied it; it goes on
    tx.event(EventType.CORRECTION, p, kind="転出取消", removed=False, relationship=relationship)


def _undo_for_those_staying(tx: ChangeTx, p: Person, removal: PersonVersion) -> None:
    """The new 世帯主 and restated 続柄 the 転出 of ``p`` recorded for those who stayed go back to
    what they were the day before; refused for a record that changed since."""
    for v in _restated_by(tx, p, removal):
        q = tx.person(v.atena_number)
        if v.valid_to is not None:
            tx.refuse(
                f"{q.name}: 転出の後に異動が記録されているため、転出で変わった続柄を戻せません。"
                "先に職権修正で直してください"
            )
            continue
        earlier = tx.session.scalar(
            select(PersonVersion.relationship).where(
                PersonVersion.person_id == q.id,
                PersonVersion.superseded_at.is_(None),
                PersonVersion.valid_to == v.valid_from,
            )
        )
        if earlier is None or earlier == v.relationship:
            continue
        tx.set(q, checked=False, relationship=earlier, last_change="転出取消")
        tx.event(EventType.HOUSEHOLD_CHANGE, q, kind="転出取消", relationship=earlier)


def _ends_move_out_early(
    tx: ChangeTx, p: Person, *, day_label: str, head_left: str, remaining_head: str | None
) -> list[Person] | None:
    """``p``'s pending 転出 ends on the effective date instead (a 転出確定 for an earlier day than
    the 転出予定日, or a death before it): checks, and what it carries along for those who stay.

    Not in the future, nor before ``p``'s birth, 住所を定めた日 or last change before the 転出
    (``day_label`` names the date in the reasons). On a day before the 転出予定日, what the 転出
    made of those who stayed moves back too (:func:`_move_back_with`) and, when ``p`` was 世帯主,
    those still there get one (:func:`_head_for_those_staying`, which may take ``remaining_head``):
    the members who stay on the effective date are returned then, and None otherwise.
    """
    tx.refuse(*rules.check_event_date(tx.effective, today=tx.today, birth_date=p.birth_date, label=p.name))
    if tx.effective < p.address_since:
        tx.refuse(f"{p.name}: {day_label}が住所を定めた日（{p.address_since.isoformat()}）より前です")
    tx.check()
    move_out = _pending_move_out(tx, p)
    if move_out.before is not None and tx.effective < move_out.before.valid_from:
        tx.refuse(
            f"{p.name}: {day_label}（{tx.effective.isoformat()}）が転出前の最後の異動日"
            f"（{move_out.before.valid_from.isoformat()}）より前です"
        )
    tx.check()
    if tx.effective >= move_out.removal.valid_from or not move_out.carries_along(tx, p):
        return None
    successors = _move_back_with(tx, p, move_out.removal)
    if not move_out.was_head:
        return None
    return _head_for_those_staying(tx, p, successors, remaining_head, head_left=head_left)


@dataclass(frozen=True)
class _PendingMoveOut:
    """A person's pending 転出 as recorded: their record before it and the 除票 from its day."""

    before: PersonVersion | None
    removal: PersonVersion

    @property
    def was_head(self) -> bool:
        return self.before is not None and self.before.relationship == rules.HEAD

    def carries_along(self, tx: ChangeTx, p: Person) -> bool:
        """Whether what the 転出 made of those who stayed goes with ``p``'s 転出 (moved back,
        undone): it was the 世帯主's 転出, or ``p``'s alone."""
        return self.was_head or _alone_in(tx, p, self.removal)


def _pending_move_out(tx: ChangeTx, p: Person) -> _PendingMoveOut:
    versions = tx.versions(p)
    removal = next(i for i, v in enumerate(versions) if v.status == STATUS_REMOVED)
    return _PendingMoveOut(versions[removal - 1] if removal else None, versions[removal])


def _restated_by(tx: ChangeTx, p: Person, removal: PersonVersion) -> list[PersonVersion]:
    """What the 転出 that removed ``p`` recorded for those who stayed, from its day (a new 世帯主,
    restated 続柄), as believed now."""
    return list(
        tx.session.scalars(
            select(PersonVersion).where(
                PersonVersion.change_id == removal.change_id,
                PersonVersion.superseded_at.is_(None),
                PersonVersion.valid_from == removal.valid_from,
                PersonVersion.person_id != p.id,
                PersonVersion.status != STATUS_REMOVED,
            )
        )
    )


def _alone_in(tx: ChangeTx, p: Person, removal: PersonVersion) -> bool:
    """Whether ``p`` was the only person the 転出 that removed them took out of the register."""
    others = tx.session.scalar(
        select(func.count()).where(
            PersonVersion.change_id == removal.change_id,
            PersonVersion.superseded_at.is_(None),
            PersonVersion.status == STATUS_REMOVED,
            PersonVersion.person_id != p.id,
        )
    )
    return not others


def _move_back_with(tx: ChangeTx, p: Person, removal: PersonVersion) -> list[Person]:
    """A 転出 confirmed for a day before its 転出予定日: what that 転出 made of those who stayed (a
    new 世帯主, restated 続柄) moves back to the actual day with it, unless they changed since.

    Only when it was the 世帯主's 転出 (the new 世帯主 takes over when he leaves) or ``p``'s alone:
    a member who leaves early with the 世帯主 still there until the 転出予定日 takes nothing along.
    Returns those moved back.
    """
    moved = []
    for v in _restated_by(tx, p, removal):
        if v.valid_to is not None:  # changed since: stays where it is
            continue
        q = tx.person(v.atena_number)
        earlier = tx.session.scalar(
            select(func.max(PersonVersion.valid_from)).where(
                PersonVersion.person_id == q.id,
                PersonVersion.superseded_at.is_(None),
                PersonVersion.valid_from < v.valid_from,
            )
        )
        # their record before the 転出 must reach back to the actual day (born, entered by then)
        tx.refuse(
            *rules.check_history_order(
                tx.effective,
                birth_date=q.birth_date,
                last_change_on=v.valid_from if earlier is None else earlier,
                label=q.name,
            )
        )
        tx.set(q, checked=False, last_change=q.last_change)
        tx.event(EventType.HOUSEHOLD_CHANGE, q, kind=q.last_change, relationship=q.relationship)
        moved.append(q)
    return moved


def _head_for_those_staying(
    tx: ChangeTx, p: Person, successors: Sequence[Person], remaining_head: str | None, *, head_left: str
) -> list[Person]:
    """A 世帯主 confirmed to have left before the 転出予定日 must not leave behind, for those days,
    a household without 世帯主.

    Those still there on the actual day (members leaving later by the same 転出, or otherwise) get
    the new 世帯主 the 転出 named, moved back with him; or, when it named none because all were
    leaving, the one the clerk names now (``remaining_head``). One who stays alone and whose own
    転出確定 is already recorded for a later day is 世帯主 of their household of one without being
    named. Otherwise the clerk names the new 世帯主 or confirms the others' 転出 first (for the same
    day, when they left together). Returns those who stay.
    """
    household = tx.households[p.household_id]
    moved = {q.id for q in successors}
    staying = [q for q in tx.members(household) if q is not p and q.id not in moved]
    if any(tx.facts(q)["relationship"] == rules.HEAD for q in successors):
        if remaining_head is not None:
            tx.refuse("新しい世帯主は転出の届出で指定されているため、ここでは指定できません")
        return staying
    if not staying:
        if remaining_head is not None:
            tx.refuse("世帯に残る者がいないため、新しい世帯主は指定できません")
        return staying
    new_head: Person | None
    if remaining_head is not None:
        new_head = next((q for q in staying if q.atena_number == remaining_head), None)
        if new_head is None:
            tx.refuse(
                f"新しい世帯主（統合宛名番号 {remaining_head}）は"
                f"{tx.effective.isoformat()}に世帯に残る者ではありません"
            )
            return staying
    elif len(staying) == 1 and (staying[0].status != STATUS_REMOVED or staying[0].move_out_confirmed):
        new_head = staying[0]
    else:
        names = "、".join(q.name for q in staying)
        pending = [q.name for q in staying if q.status == STATUS_REMOVED and not q.move_out_confirmed]
        first = f"か、同じ日に転出した場合は先に{'、'.join(pending)}の転出確定を記録" if pending else ""
        tx.refuse(
            f"{p.name}: {head_left}、{names}が世帯主のいない世帯に残ります。"
            f"残る世帯の新しい世帯主を指定する{first}してください"
        )
        return staying
    _make_head(tx, new_head)
    return staying


def split_household(tx: ChangeTx, req: SplitHousehold) -> None:
    """世帯分離: some members form a new household at the same address."""
    household = tx.household(req.household_number)
    members = tx.members(household)
    tx.refuse(*rules.check_named_once(req.persons, action="分離"))
    movers = [tx.person(a) for a in dict.fromkeys(req.persons)]
    if not movers:
        tx.refuse("分離する者を指定してください")
    tx.check_residents(movers, "世帯変更")
    tx.check()
    _in_household(tx, movers, household)
    if {p.id for p in movers} == {p.id for p in members}:
        tx.refuse("世帯員全員を分離することはできません")
    tx.check_dates(movers)
    head = _new_head(tx, movers, req.new_head or None)
    relationships = tx.relationships(req.relationships, movers)
    tx.check()
    target = tx.new_household()
    for p in movers:
        rel = rules.HEAD if p is head else relationships.get(p.id)
        if rel is None:
            tx.refuse(f"{p.name}: 新しい世帯での続柄を指定してください")
            continue
        tx.set(p, household_id=target.id, relationship=rel)
        tx.event(
            EventType.HOUSEHOLD_CHANGE,
            p,
            kind="世帯分離",
            relationship=rel,
            from_household=household.household_number,
            to_household=target.household_number,
        )
    _after_leaving(tx, household, movers, req.remaining_head, req.remaining_relationships)


def merge_households(tx: ChangeTx, req: MergeHouseholds) -> None:
    """世帯合併: the members of another household at the same address join this one."""
    household = tx.household(req.household_number)
    other = tx.household(req.other_household_number)
    if household.id == other.id:
        tx.refuse("同じ世帯どうしは合併できません")
        tx.check()
    head = tx.head_of(household)
    joining = tx.members(other)
    if head is None or not joining:
        tx.refuse("合併する世帯に世帯員がいません")
        tx.check()
    assert head is not None
    if joining[0].address_text != head.address_text:
        tx.refuse("世帯合併は同じ住所の世帯に限ります（住所が異なる場合は転居届が必要です）")
    tx.check_dates([head, *joining])
    relationships = tx.relationships(req.relationships, joining)
    for p in joining:
        rel = relationships.get(p.id)
        if rel is None:
            tx.refuse(f"{p.name}: 合併後の世帯での続柄を指定してください")
            continue
        if rel == rules.HEAD:
            tx.refuse(f"{p.name}: 合併後の世帯には既に世帯主（{head.name}）がいます")
            continue
        tx.set(p, household_id=household.id, relationship=rel)
        tx.event(
            EventType.HOUSEHOLD_CHANGE,
            p,
            kind="世帯合併",
            relationship=rel,
            from_household=other.household_number,
            to_household=household.household_number,
        )


def change_head(tx: ChangeTx, req: ChangeHead) -> None:
    """世帯主変更: another member becomes 世帯主; the former head's 続柄 must be restated."""
    household = tx.household(req.household_number)
    members = tx.members(household)
    new_head = next((m for m in members if m.atena_number == req.new_head), None)
    old_head = tx.head_of(household)
    if new_head is None:
        tx.refuse(f"新しい世帯主（統合宛名番号 {req.new_head}）はこの世帯の世帯員ではありません")
    elif new_head is old_head:
        tx.refuse(f"{new_head.name}: 既に世帯主です")
    tx.check()
    assert new_head is not None
    tx.check_dates([new_head])  # the others whose 続柄 is restated are checked as they are planned
    others = [m for m in members if m is not new_head]
    relationships = tx.relationships(req.relationships, others)
    if old_head is not None and old_head.id not in relationships:
        tx.refuse(f"{old_head.name}: 前の世帯主の新しい続柄を指定してください")
    if rules.HEAD in relationships.values():
        tx.refuse("世帯主は1人だけ指定できます")
    tx.set(new_head, relationship=rules.HEAD)
    tx.event(EventType.HOUSEHOLD_CHANGE, new_head, kind="世帯主変更", relationship=rules.HEAD)
    for pid, rel in relationships.items():
        p = tx.persons[pid]
        tx.set(p, relationship=rel)
        tx.event(EventType.HOUSEHOLD_CHANGE, p, kind="世帯主変更", relationship=rel)


def name_change(tx: ChangeTx, req: NameChange) -> None:
    """氏名変更 (婚姻・離婚・養子縁組 …)."""
    p = tx.person(req.atena_number)
    tx.check_residents([p], "氏名変更")
    tx.check()
    tx.check_dates([p])
    tx.refuse(*rules.check_name(req.name, req.name_kana, label=p.name, foreign=p.kind == "外国人"))
    tx.check()
    name, kana = normalize_name(req.name), normalize_kana(req.name_kana)
    if name == p.name and kana == p.name_kana:
        tx.refuse(f"{p.name}: 氏名が変わっていません")
    tx.set(p, name=name, name_kana=kana)
    tx.event(EventType.NAME_CHANGE, p, name=name, name_kana=kana, previous_name=p.name, reason=req.reason)


def birth(tx: ChangeTx, req: Birth) -> None:
    """出生: the child enters the household of the notification, at its address."""
    child = req.child
    if child is None:
        tx.refuse("出生した子を指定してください")
        tx.check()
    assert child is not None
    tx.check_new(child)
    if child.birth_date != req.event_date:
        tx.refuse("出生の異動日は生年月日と同じ日です")
    tx.refuse(*rules.check_event_date(req.event_date, today=tx.today))
    tx.refuse(*rules.check_notification_date(req.notified_on, req.event_date, today=tx.today))
    household = tx.household(req.household_number)
    _check_joining(tx, household)
    head = tx.head_of(household)
    if head is None:
        tx.refuse(f"世帯{household.household_number}に世帯主がいません")
    tx.check()
    assert head is not None
    p = tx.add_person(child, household, _address_of(tx, head))
    tx.event(
        EventType.BIRTH,
        p,
        birth_date=child.birth_date,
        sex=child.sex,
        relationship=child.relationship,
        head=head.atena_number,
    )


def _remove(
    tx: ChangeTx,
    atena_number: str,
    *,
    reason: str,
    action: str,
    new_head: str | None,
    relationships: Mapping[str, str],
    event_type: EventType,
    payload: dict[str, Any],
) -> None:
    p = tx.person(atena_number)
    tx.check_residents([p], action)
    tx.check()
    tx.check_dates([p])
    tx.check()
    household = tx.households[p.household_id]
    tx.set(p, status=STATUS_REMOVED, removal_reason=reason, removed_on=tx.effective, last_change=reason)
    tx.event(event_type, p, **payload)
    _after_leaving(tx, household, [p], new_head, relationships)


def death(tx: ChangeTx, req: Death) -> None:
    """死亡: a 除票; the household of a dead head needs a new head unless nobody is left."""
    p = tx.person(req.atena_number)
    moving_out = p.removal_reason == "転出" and not p.move_out_confirmed
    if moving_out and p.removed_on is not None and tx.effective < p.removed_on:
        _death_before_move_out(tx, p, req)
        return
    _remove(
        tx,
        req.atena_number,
        reason="死亡",
        action="死亡",
        new_head=req.new_head,
        relationships=req.relationships,
        event_type=EventType.DEATH,
        payload={},
    )


def _death_before_move_out(tx: ChangeTx, p: Person, req: Death) -> None:
    """Death before the 転出予定日 of a pending 転出: the person never moved; the 除票 is by death,
    from the day of death, as with a 転出確定 for that day (``new_head`` as its 残る世帯の新しい世帯主,
    ``relationships`` restating those who stay)."""
    tx.refuse(*rules.check_notification_date(req.notified_on, tx.effective, today=tx.today))
    staying = _ends_move_out_early(
        tx,
        p,
        day_label="死亡日",
        head_left="世帯主が転出予定日より前に死亡したため",
        remaining_head=req.new_head,
    )
    if staying is None:
        if req.new_head is not None:
            tx.refuse("世帯主は世帯に残るため、新しい世帯主は指定できません")
        staying = [q for q in tx.members(tx.households[p.household_id]) if q is not p]
    for pid, rel in tx.relationships(req.relationships, staying).items():
        q = tx.persons[pid]
        if tx.facts(q)["relationship"] != rules.HEAD:
            tx.restate_relationship(q, rel, "続柄変更")
            tx.event(EventType.HOUSEHOLD_CHANGE, q, kind="続柄変更", relationship=rel)
    tx.check()
    tx.set(
        p,
        checked=False,
        removal_reason="死亡",
        removed_on=tx.effective,
        moved_out_to=None,
        move_out_confirmed=None,
        last_change="死亡",
    )
    tx.event(EventType.DEATH, p, replaces_move_out=True)


def ex_officio_removal(tx: ChangeTx, req: ExOfficioRemoval) -> None:
    """職権消除 (施行令第12条第3項): a person found no longer living here."""
    if not req.reason:
        tx.refuse("職権消除の事由を記入してください")
    _remove(
        tx,
        req.atena_number,
        reason="職権消除",
        action="職権消除",
        new_head=req.new_head,
        relationships=req.relationships,
        event_type=EventType.CORRECTION,
        payload={"kind": "職権消除", "removed": True, "reason": req.reason},
    )


def _normalized_correction(tx: ChangeTx, fields: Mapping[str, Any]) -> Facts:
    for key in fields:
        if key not in CORRECTABLE:
            tx.refuse(f"「{key}」は職権修正できる項目ではありません")
    # a bad reading is reported by check_person below
    return rules.normalize_person_items({k: v for k, v in fields.items() if k in CORRECTABLE})


def correction(tx: ChangeTx, req: Correction) -> None:
    """職権修正: wrongly recorded facts corrected from ``event_date`` on, later history kept."""
    p = tx.person(req.atena_number)
    if not req.fields:
        tx.refuse("修正する項目を指定してください")
    if not req.reason:
        tx.refuse("職権修正の事由を記入してください")
    fields = _normalized_correction(tx, req.fields)
    tx.check()
    if tx.effective > tx.today:
        tx.refuse("修正の適用日が未来の日付です")
    if tx.effective < p.became_resident_on and "became_resident_on" not in fields:
        tx.refuse(f"{p.name}: 修正の適用日が住民となった日より前です")
    merged = tx.facts(p) | fields
    draft = rules.PersonDraft.of(merged)
    tx.refuse(*rules.check_person(draft, today=tx.today))
    tx.refuse(
        *rules.check_address_dates(
            birth_date=merged["birth_date"],
            became_resident_on=merged["became_resident_on"],
            address_since=merged["address_since"],
            today=tx.today,
            removed_on=merged["removed_on"],
            label=merged["name"],
        )
    )
    tx.check()
    tx.correct(p, fields)
    tx.event(EventType.CORRECTION, p, kind="職権修正", fields=sorted(fields), reason=req.reason)


Handler = Callable[[ChangeTx, Any], None]
HANDLERS: dict[type[ChangeRequest], Handler] = {
    MoveIn: move_in,
    ExOfficioEntry: ex_officio_entry,
    MoveWithin: move_within,
    MoveOut: move_out,
    ConfirmMoveOut: confirm_move_out,
    CancelMoveOut: cancel_move_out,
    SplitHousehold: split_household,
    MergeHouseholds: merge_households,
    ChangeHead: change_head,
    NameChange: name_change,
    Birth: birth,
    Death: death,
    ExOfficioRemoval: ex_officio_removal,
    Correction: correction,
    ResidenceStatusChange: foreign.residence_status_change,
    StayExtension: foreign.stay_extension,
    AliasEntry: foreign.alias_entry,
    AliasRemoval: foreign.alias_removal,
    Naturalization: foreign.naturalization,
    NationalityAcquisition: foreign.naturalization,
    NationalityLoss: foreign.nationality_loss,
    DomicileTransfer: foreign.domicile_transfer,
    FormerSurnameEntry: former_surname.former_surname_entry,
    FormerSurnameRemoval: former_surname.former_surname_removal,
}
