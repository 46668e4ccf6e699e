"""Use cases of the addressee-number system (統合宛名).

Two layers: functions taking a :class:`UnitOfWork` (the registry calls them inside its own
transaction, so a 転入 and its 統合宛名番号 commit together), and :class:`AtenaService`, which opens
a unit of work per call for everyone else (import, intake, the linkage export).

統合宛名番号 format (this system's own, documented here): 15 ASCII digits, a 14-digit sequence
number per tenant starting at 1, then a Luhn check digit over those 14 digits, so that a mistyped
digit or two swapped neighbours are caught at the counter. Numbers carried over from a previous
system (データ移行) are kept as they were (up to 15 digits) and skipped by the sequence.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import lru_cache

from sqlalchemy import or_, select

from jichitai.contracts.transfer import LinkTable, LinkTableRow
from jichitai.mynumber.atena import publish
from jichitai.mynumber.atena import purposes as _purposes  # noqa: F401  (registers the purposes)
from jichitai.mynumber.atena.models import (
    CERTIFICATE_USES,
    KIND_NON_RESIDENT,
    KIND_RESIDENT,
    AtenaCounter,
    AtenaPerson,
    BusinessNumber,
    SerialLink,
)
from jichitai.platform.context import TenantContext
from jichitai.platform.errors import Conflict, NotFound, ValidationError
from jichitai.platform.identifiers import is_valid_individual_number, normalize_individual_number
from jichitai.platform.storage import Storage, UnitOfWork
from jichitai.platform.zones import Zone

__all__ = [
    "INDIVIDUAL_NUMBER_COLUMN",
    "AtenaConflict",
    "AtenaService",
    "AtenaView",
    "BasicFacts",
    "atena_check_digit",
    "is_valid_atena_number",
]

# Blind-index label of 個人番号, shared by every table that indexes it, so that one number gives
# the same index wherever it is stored (the registry's duplicate check relies on it).
INDIVIDUAL_NUMBER_COLUMN = "individual_number"
ATENA_NUMBER_LENGTH = 15
_COUNTER_NAME = "atena_number"
_TABLE = "atena_persons"


class AtenaConflict(Conflict):
    """A number or link that would contradict what is registered."""


@dataclass(frozen=True)
class BasicFacts:
    """The 基本4情報 kept with a 統合宛名番号: 氏名, カナ, 生年月日, 住所 (and 性別 when known)."""

    name: str
    name_kana: str
    birth_date: date
    address: str
    sex: str | None = None


@dataclass(frozen=True)
class AtenaView:
    atena_number: str
    kind: str
    name: str
    name_kana: str
    birth_date: date
    address: str
    sex: str | None
    has_individual_number: bool


def _view(p: AtenaPerson) -> AtenaView:
    return AtenaView(
        p.atena_number,
        p.kind,
        p.name,
        p.name_kana,
        p.birth_date,
        p.address,
        p.sex,
        p.individual_number_bidx is not None,
    )


# -- numbers --------------------------------------------------------------------------------------


# Luhn: every second digit from the right is doubled (digits of the product summed); indexed by the
# ASCII code of the digit, so a number's bytes go through ``sum(map(...))`` without a Python loop.
_LUHN_DOUBLED = bytes(sum(divmod(2 * (c - 48), 10)) if 48 <= c < 58 else 0 for c in range(256))
_LUHN_PLAIN = bytes(c - 48 if 48 <= c < 58 else 0 for c in range(256))


def _luhn_sum(raw: bytes) -> int:
    """The Luhn sum of ASCII digits whose rightmost is doubled (so that a check digit follows)."""
    return sum(map(_LUHN_DOUBLED.__getitem__, raw[::-2])) + sum(map(_LUHN_PLAIN.__getitem__, raw[-2::-2]))


def atena_check_digit(digits: str) -> int:
    """Luhn check digit of ``digits`` (ASCII digits)."""
    return (10 - _luhn_sum(digits.encode()) % 10) % 10


def format_atena_number(sequence: int) -> str:
    body = f"{sequence:014d}"
    if len(body) != ATENA_NUMBER_LENGTH - 1:
        raise ValueError("atena number sequence exhausted")
    return body + str(atena_check_digit(body))


_TAIL = 10_000  # numbers drawn in a run share their first ten digits for this many values


@lru_cache(maxsize=1)
def _tail_sums() -> tuple[int, ...]:
    """The Luhn sum of the last four of the fourteen digits, for each of their 10,000 values (the
    rightmost is doubled, as :func:`atena_check_digit` counts)."""
    return tuple(_luhn_sum(f"{n:04d}".encode()) for n in range(_TAIL))


def format_atena_numbers(first: int, count: int) -> list[str]:
    """``[format_atena_number(n) for n in range(first, first + count)]``, for a bulk import: the
    Luhn sum of the first ten digits is taken once per 10,000 numbers, the rest is a table."""
    tails = _tail_sums()
    out: list[str] = []
    n, end = first, first + count
    while n < end:
        head, tail = divmod(n, _TAIL)
        body = f"{head:010d}"
        if len(body) != ATENA_NUMBER_LENGTH - 5:
            raise ValueError("atena number sequence exhausted")
        # digits 5 … 14 from the right: doubled at the same places as in the whole number
        head_sum = _luhn_sum(body.encode())
        stop = min(end, (head + 1) * _TAIL)
        out += [f"{body}{t:04d}{-(head_sum + tails[t]) % 10}" for t in range(tail, tail - n + stop)]
        n = stop
    return out


def is_valid_atena_number(text: str) -> bool:
    """A number assigned by this system: 15 digits with a correct check digit."""
    return (
        len(text) == ATENA_NUMBER_LENGTH
        and text.isascii()
        and text.isdigit()
        and atena_check_digit(text[:-1]) == int(text[-1])
    )


def _new_id() -> str:
    return uuid.uuid4().hex


def _now() -> datetime:
    return datetime.now(UTC)


def _draw_number(uow: UnitOfWork) -> str:
    """The next free 統合宛名番号; the counter row stays locked until the transaction ends."""
    s = uow.session
    counter = s.execute(
        select(AtenaCounter).where(AtenaCounter.name == _COUNTER_NAME).with_for_update()
    ).scalar_one()
    while True:
        number = format_atena_number(counter.next_value)
        counter.next_value += 1
        taken = s.scalar(select(AtenaPerson.id).where(AtenaPerson.atena_number == number))
        if taken is None:
            return number


# -- 個人番号 -------------------------------------------------------------------------------------


def checked_individual_number(text: str) -> str:
    number = normalize_individual_number(text)
    if not is_valid_individual_number(number):
        raise ValidationError(
            "invalid individual number (12 digits with check digit)",
            message_ja="個人番号が正しくありません（12桁・検査用数字を確認してください）",
        )
    return number


def individual_number_index(uow: UnitOfWork, number: str) -> bytes:
    """Blind index of a (valid) 個人番号, as stored in every table that holds one."""
    return uow.keyring.blind_index(INDIVIDUAL_NUMBER_COLUMN, checked_individual_number(number))


def find_by_individual_number(uow: UnitOfWork, number: str) -> AtenaPerson | None:
    bidx = individual_number_index(uow, number)
    return uow.session.scalar(select(AtenaPerson).where(AtenaPerson.individual_number_bidx == bidx))


def find_by_number(uow: UnitOfWork, atena_number: str) -> AtenaPerson | None:
    return uow.session.scalar(select(AtenaPerson).where(AtenaPerson.atena_number == atena_number))


def get_by_number(uow: UnitOfWork, atena_number: str) -> AtenaPerson:
    person = find_by_number(uow, atena_number)
    if person is None:
        raise NotFound(
            f"no person with atena number {atena_number}",
            message_ja=f"統合宛名番号 {atena_number} の者は登録されていません",
        )
    return person


def _set_individual_number(uow: UnitOfWork, person: AtenaPerson, number: str) -> None:
    number = checked_individual_number(number)
    bidx = uow.keyring.blind_index(INDIVIDUAL_NUMBER_COLUMN, number)
    other = uow.session.scalar(
        select(AtenaPerson.atena_number).where(
            AtenaPerson.individual_number_bidx == bidx, AtenaPerson.id != person.id
        )
    )
    if other is not None:
        raise AtenaConflict(
            "individual number already linked to another atena number",
            message_ja=f"この個人番号は既に統合宛名番号 {other} に登録されています",
        )
    person.individual_number_enc = uow.keyring.field_encrypt(_TABLE, "individual_number", person.id, number)
    person.individual_number_bidx = bidx
    person.updated_at = _now()


def set_individual_number(uow: UnitOfWork, atena_number: str, number: str) -> None:
    """Link a 個人番号 to a person (e.g. a newborn's number notified later by J-LIS)."""
    _set_individual_number(uow, get_by_number(uow, atena_number), number)


def decrypt_individual_number(uow: UnitOfWork, person: AtenaPerson) -> str | None:
    if person.individual_number_enc is None:
        return None
    return uow.keyring.field_decrypt(_TABLE, "individual_number", person.id, person.individual_number_enc)


# -- registration ---------------------------------------------------------------------------------


def register(
    uow: UnitOfWork,
    facts: BasicFacts,
    *,
    kind: str,
    individual_number: str | None = None,
    atena_number: str | None = None,
) -> AtenaPerson:
    """Give a person a 統合宛名番号 (drawn, or ``atena_number`` carried over from migration)."""
    if kind not in (KIND_RESIDENT, KIND_NON_RESIDENT):
        raise ValueError(f"unknown atena kind {kind!r}")
    if atena_number is None:
        atena_number = _draw_number(uow)
    elif not (atena_number.isascii() and atena_number.isdigit() and len(atena_number) <= ATENA_NUMBER_LENGTH):
        raise ValidationError(
            f"atena number {atena_number!r} is not up to 15 digits",
            message_ja="統合宛名番号は15桁以内の数字です",
        )
    elif find_by_number(uow, atena_number) is not None:
        raise AtenaConflict(
            f"atena number {atena_number} is taken",
            message_ja=f"統合宛名番号 {atena_number} は既に使われています",
        )
    now = _now()
    person = AtenaPerson(
        id=_new_id(),
        atena_number=atena_number,
        kind=kind,
        name=facts.name,
        name_kana=facts.name_kana,
        birth_date=facts.birth_date,
        sex=facts.sex,
        address=facts.address,
        registered_at=now,
        updated_at=now,
    )
    if individual_number is not None:
        _set_individual_number(uow, person, individual_number)
    uow.session.add(person)
    uow.session.flush()
    return person


def update_facts(uow: UnitOfWork, atena_number: str, facts: BasicFacts, *, kind: str | None = None) -> None:
    """Keep the 基本4情報 current (the registry calls this on every 異動 that touches them)."""
    person = get_by_number(uow, atena_number)
    changed = (person.name, person.name_kana, person.birth_date, person.address, person.sex) != (
        facts.name,
        facts.name_kana,
        facts.birth_date,
        facts.address,
        facts.sex,
    )
    if kind is not None and kind != person.kind:
        person.kind = kind
        changed = True
    if changed:
        person.name, person.name_kana = facts.name, facts.name_kana
        person.birth_date, person.address, person.sex = facts.birth_date, facts.address, facts.sex
        person.updated_at = _now()
        uow.session.flush()
        publish.enqueue_changes(uow, person.updated_at)  # a linked person's name or address changed


# -- business numbers -----------------------------------------------------------------------------


def link_business_number(uow: UnitOfWork, atena_number: str, business: str, number: str) -> None:
    """Link ``business``'s own 業務宛名番号; a person has at most one current number per business."""
    person = get_by_number(uow, atena_number)
    existing = uow.session.scalars(
        select(BusinessNumber).where(
            BusinessNumber.business == business,
            BusinessNumber.business_number == number,
            BusinessNumber.unlinked_at.is_(None),
        )
    ).first()
    if existing is not None:
        if existing.atena_person_id == person.id:
            return
        raise AtenaConflict(
            f"{business} number {number} belongs to {existing.atena_number}",
            message_ja=(
                f"業務宛名番号 {number}（{business}）は統合宛名番号 {existing.atena_number} に紐付いています"
            ),
        )
    now = _now()
    for old in uow.session.scalars(
        select(BusinessNumber).where(
            BusinessNumber.atena_person_id == person.id,
            BusinessNumber.business == business,
            BusinessNumber.unlinked_at.is_(None),
        )
    ):
        old.unlinked_at = now
    uow.session.add(
        BusinessNumber(
            id=_new_id(),
            atena_person_id=person.id,
            atena_number=person.atena_number,
            business=business,
            business_number=number,
            linked_at=now,
        )
    )
    uow.session.flush()


def business_numbers(uow: UnitOfWork, atena_number: str) -> dict[str, str]:
    person = get_by_number(uow, atena_number)
    rows = uow.session.scalars(
        select(BusinessNumber).where(
            BusinessNumber.atena_person_id == person.id, BusinessNumber.unlinked_at.is_(None)
        )
    )
    return {r.business: r.business_number for r in rows}


def find_by_business_number(uow: UnitOfWork, business: str, number: str) -> AtenaPerson | None:
    return uow.session.scalar(
        select(AtenaPerson)
        .join(BusinessNumber, BusinessNumber.atena_person_id == AtenaPerson.id)
        .where(
            BusinessNumber.business == business,
            BusinessNumber.business_number == number,
            BusinessNumber.unlinked_at.is_(None),
        )
    )


# -- certificate serial links (シリアル番号紐付情報) ------------------------------------------------


def normalize_serial(serial: str | int) -> str:
    """Upper-case hex without separators or leading zeros (``0x1a:2B`` → ``1A2B``)."""
    if isinstance(serial, int):
        return f"{serial:X}"
    text = serial.strip().replace(":", "").replace(" ", "").upper().removeprefix("0X")
    try:
        return f"{int(text, 16):X}"
    except ValueError:
        raise ValidationError(
            f"certificate serial {serial!r} is not hexadecimal",
            message_ja="電子証明書のシリアル番号が正しくありません（16進数）",
        ) from None


def _check_use(use: str) -> None:
    if use not in CERTIFICATE_USES:
        raise ValidationError(
            f"certificate use must be one of {CERTIFICATE_USES}",
            message_ja="証明書の種類は署名用または利用者証明用です",
        )


def link_serial(
    uow: UnitOfWork, atena_number: str, serial: str | int, use: str, valid_from: date
) -> SerialLink:
    """Link a certificate serial to a person; the person's current link of the same use ends."""
    _check_use(use)
    person = get_by_number(uow, atena_number)
    serial = normalize_serial(serial)
    s = uow.session
    taken = s.scalar(select(SerialLink).where(SerialLink.certificate_use == use, SerialLink.serial == serial))
    if taken is not None:
        if taken.atena_person_id == person.id:
            return taken
        raise AtenaConflict(
            f"serial {serial} is already linked to {taken.atena_number}",
            message_ja=f"シリアル番号 {serial} は既に統合宛名番号 {taken.atena_number} に紐付いています",
        )
    now = _now()
    for old in s.scalars(
        select(SerialLink).where(
            SerialLink.atena_person_id == person.id,
            SerialLink.certificate_use == use,
            SerialLink.valid_to.is_(None),
        )
    ):
        if valid_from < old.valid_from:
            raise ValidationError(
                "new link starts before the current one",
                message_ja=f"新しい紐付の開始日が現在の紐付の開始日（{old.valid_from.isoformat()}）より前です",
            )
        old.valid_to = valid_from
        old.changed_at = now
    link = SerialLink(
        id=_new_id(),
        atena_person_id=person.id,
        atena_number=person.atena_number,
        serial=serial,
        certificate_use=use,
        valid_from=valid_from,
        recorded_at=now,
        changed_at=now,
    )
    s.add(link)
    s.flush()
    publish.enqueue_changes(uow, now)
    return link


def end_serial(uow: UnitOfWork, serial: str | int, use: str, valid_to: date) -> None:
    """End a link (certificate revoked or expired without renewal)."""
    _check_use(use)
    serial = normalize_serial(serial)
    link = uow.session.scalar(
        select(SerialLink).where(SerialLink.certificate_use == use, SerialLink.serial == serial)
    )
    if link is None:
        raise NotFound(
            f"serial {serial} is not linked", message_ja=f"シリアル番号 {serial} の紐付はありません"
        )
    if link.valid_to is None:
        if valid_to < link.valid_from:
            raise ValidationError("end before start", message_ja="紐付の終了日が開始日より前です")
        link.valid_to = valid_to
        link.changed_at = _now()
        uow.session.flush()
        publish.enqueue_changes(uow, link.changed_at)


def person_by_serial(
    uow: UnitOfWork, serial: str | int, *, use: str | None = None, on: date | None = None
) -> AtenaPerson | None:
    """The person a certificate serial identified on ``on`` (default: currently linked)."""
    stmt = select(AtenaPerson).join(SerialLink, SerialLink.atena_person_id == AtenaPerson.id)
    stmt = stmt.where(SerialLink.serial == normalize_serial(serial))
    if use is not None:
        stmt = stmt.where(SerialLink.certificate_use == use)
    if on is None:
        stmt = stmt.where(SerialLink.valid_to.is_(None))
    else:
        stmt = stmt.where(
            SerialLink.valid_from <= on, or_(SerialLink.valid_to.is_(None), SerialLink.valid_to > on)
        )
    return uow.session.scalars(stmt).first()


def serial_history(uow: UnitOfWork, atena_number: str) -> list[SerialLink]:
    person = get_by_number(uow, atena_number)
    return list(
        uow.session.scalars(
            select(SerialLink)
            .where(SerialLink.atena_person_id == person.id)
            .order_by(SerialLink.valid_from, SerialLink.recorded_at)
        )
    )


def link_table(uow: UnitOfWork, *, since: datetime | None = None) -> LinkTable:
    """The serial link table for application management, without 個人番号.

    ``since=None`` gives the full table (every link, ended ones with ``valid_to``); otherwise the
    links that changed after ``since`` and those of persons whose basic facts changed after it.
    """
    stmt = select(SerialLink, AtenaPerson).join(AtenaPerson, SerialLink.atena_person_id == AtenaPerson.id)
    if since is not None:
        stmt = stmt.where(or_(SerialLink.changed_at > since, AtenaPerson.updated_at > since))
    stmt = stmt.order_by(SerialLink.atena_number, SerialLink.certificate_use, SerialLink.valid_from)
    generated = _now()
    rows = [
        LinkTableRow(
            serial=link.serial,
            certificate_use=link.certificate_use,
            integrated_atena_number=person.atena_number,
            name=person.name,
            name_kana=person.name_kana,
            birth_date=person.birth_date,
            address=person.address,
            valid_from=link.valid_from,
            valid_to=link.valid_to,
        )
        for link, person in uow.session.execute(stmt).all()
    ]
    uow.record(
        "export",
        "atena.link_table",
        "full" if since is None else f"since:{since.isoformat()}",
        rows=len(rows),
        persons=len({r.integrated_atena_number for r in rows}),
    )
    return LinkTable(tenant=str(uow.tenant.code), generated_at=generated, full=since is None, rows=rows)


# -- the service for callers outside the registry's transactions -----------------------------------


class AtenaService:
    """Addressee numbers for callers with a context (import, intake, linkage export, screens)."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage

    def register_non_resident(
        self, ctx: TenantContext, facts: BasicFacts, *, individual_number: str | None = None
    ) -> str:
        """Register a person who is not a resident here (住登外者); returns the 統合宛名番号."""
        with self.storage.unit_of_work(ctx, Zone.MYNUMBER) as uow:
            return register(
                uow, facts, kind=KIND_NON_RESIDENT, individual_number=individual_number
            ).atena_number

    def get(self, ctx: TenantContext, atena_number: str) -> AtenaView:
        with self.storage.unit_of_work(ctx, Zone.MYNUMBER) as uow:
            person = get_by_number(uow, atena_number)
            uow.record("read", "atena.person", person.id, person=person.atena_number)
            return _view(person)

    def resolve_individual_number(self, ctx: TenantContext, number: str) -> str | None:
        """The 統合宛名番号 linked to a 個人番号 (by blind index), or None."""
        with self.storage.unit_of_work(ctx, Zone.MYNUMBER) as uow:
            person = find_by_individual_number(uow, number)
            uow.record(
                "lookup",
                "atena.person",
                "" if person is None else person.id,
                person="" if person is None else person.atena_number,
                by="individual_number",
            )
            return None if person is None else person.atena_number

    def set_individual_number(self, ctx: TenantContext, atena_number: str, number: str) -> None:
        with self.storage.unit_of_work(ctx, Zone.MYNUMBER) as uow:
            set_individual_number(uow, atena_number, number)

    def link_business_number(self, ctx: TenantContext, atena_number: str, business: str, number: str) -> None:
        with self.storage.unit_of_work(ctx, Zone.MYNUMBER) as uow:
            link_business_number(uow, atena_number, business, number)

    def business_numbers(self, ctx: TenantContext, atena_number: str) -> dict[str, str]:
        with self.storage.unit_of_work(ctx, Zone.MYNUMBER) as uow:
            uow.record("read", "atena.business_numbers", atena_number, person=atena_number)
            return business_numbers(uow, atena_number)

    def resolve_business_number(self, ctx: TenantContext, business: str, number: str) -> str | None:
        with self.storage.unit_of_work(ctx, Zone.MYNUMBER) as uow:
            person = find_by_business_number(uow, business, number)
            uow.record(
                "lookup",
                "atena.person",
                "" if person is None else person.id,
                person="" if person is None else person.atena_number,
                by=f"business:{business}",
            )
            return None if person is None else person.atena_number

    def link_serial(
        self, ctx: TenantContext, atena_number: str, serial: str | int, use: str, valid_from: date
    ) -> None:
        with self.storage.unit_of_work(ctx, Zone.MYNUMBER) as uow:
            link_serial(uow, atena_number, serial, use, valid_from)

    def end_serial(self, ctx: TenantContext, serial: str | int, use: str, valid_to: date) -> None:
        with self.storage.unit_of_work(ctx, Zone.MYNUMBER) as uow:
            end_serial(uow, serial, use, valid_to)

    def identify_by_serial(
        self, ctx: TenantContext, serial: str | int, *, use: str | None = None, on: date | None = None
    ) -> str | None:
        with self.storage.unit_of_work(ctx, Zone.MYNUMBER) as uow:
            person = person_by_serial(uow, serial, use=use, on=on)
            uow.record(
                "lookup",
                "atena.person",
                "" if person is None else person.id,
                person="" if person is None else person.atena_number,
                by="certificate_serial",
            )
            return None if person is None else person.atena_number

    def serial_history(
        self, ctx: TenantContext, atena_number: str
    ) -> Sequence[tuple[str, str, date, date | None]]:
        """(serial, use, valid_from, valid_to) of every link of the person, oldest first."""
        with self.storage.unit_of_work(ctx, Zone.MYNUMBER) as uow:
            uow.record("read", "atena.serial_links", atena_number, person=atena_number)
            return [
                (r.serial, r.certificate_use, r.valid_from, r.valid_to)
                for r in serial_history(uow, atena_number)
            ]

    def export_link_table(self, ctx: TenantContext, *, since: datetime | None = None) -> LinkTable:
        with self.storage.unit_of_work(ctx, Zone.MYNUMBER) as uow:
            return link_table(uow, since=since)
