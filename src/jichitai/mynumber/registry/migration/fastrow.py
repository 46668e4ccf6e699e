"""A fast path for :func:`~jichitai.mynumber.registry.interchange.parse_row` on rows that are valid.

An import of millions of residents spends most of its time validating and normalizing rows, and in
a city's file the same values come back again and again: surnames and given names, readings,
the address shared by a household, 本籍, dates, codes. :class:`FastRowParser` validates a row by
looking each raw value up in a per-import cache that holds the outcome of the very functions
``parse_row`` calls (:func:`~jichitai.mynumber.registry.names.normalize_name`,
:func:`~jichitai.mynumber.registry.addresses.parse_address`, the 外字 map …) and then checks the
rules that tie columns together.

Its contract is narrow on purpose: :meth:`FastRowParser.parse` returns the same
:class:`~jichitai.mynumber.registry.interchange.ResidentRow` as ``parse_row`` for a row that
``parse_row`` accepts, or ``None``; it never reports problems. On ``None`` the caller runs
``parse_row``, which gives the row or every problem with its Japanese reason, so rejected rows are
always described by the one reference implementation. (A ``None`` for a valid row only costs time.)
``tests/mynumber/registry/migration/test_fastrow.py`` compares both on generated files and on the
invalid rows of the interchange tests.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import date
from typing import Any

from jichitai.mynumber.registry.addresses import Address, normalize_address_text, parse_address
from jichitai.mynumber.registry.interchange import (
    BLOCK_MAX_CHARS,
    CHANGE_REASONS,
    COLUMN_NAMES,
    FUTURE_ALLOWED_CHANGES,
    KIND_CODES,
    MAX_AGE_YEARS,
    NAME_MAX_CHARS,
    REMOVAL_REASONS,
    RESIDENCE_CARD,
    RESIDENCE_STATUSES,
    SEX_CODES,
    STATUSES_WITHOUT_PERIOD,
    TEXT_MAX_CHARS,
    ParseContext,
    ResidentKind,
    ResidentRow,
    former_surname_problem,
    is_printable_text,
    is_valid_my_number,
    is_valid_relationship,
    parse_date,
    parse_move_out_confirmed,
    relationship_before_problem,
)
from jichitai.mynumber.registry.names import (
    GaijiMap,
    check_control_characters,
    check_katakana,
    check_name_characters,
    normalize_kana,
    normalize_name,
)

_CACHE_LIMIT = 300_000  # entries per cache; a cache that grows past it starts again (memory stays flat)
_BAD = object()  # cached outcome "parse_row refuses this value"

JAPANESE = ResidentKind.JAPANESE
FOREIGN = ResidentKind.FOREIGN


def _age(birth: date, day: date) -> int:
    years = day.year - birth.year
    return years - ((day.month, day.day) < (birth.month, birth.day))


class _Cache:
    """value -> outcome of ``compute`` (or ``_BAD``), bounded."""

    __slots__ = ("compute", "data")

    def __init__(self, compute: Callable[[str], Any]) -> None:
        self.compute = compute
        self.data: dict[str, Any] = {}

    def miss(self, value: str) -> Any:
        if len(self.data) >= _CACHE_LIMIT:
            self.data.clear()
        try:
            out = self.compute(value)
        except Exception:
            out = _BAD
        self.data[value] = out
        return out


class FastRowParser:
    """Validates rows like ``parse_row`` for one import (its :class:`ParseContext`), with caches."""

    def __init__(self, ctx: ParseContext) -> None:
        self.ctx = ctx
        self.today = ctx.today
        gaiji = ctx.gaiji
        known = ctx.known_cities

        def name(allow_latin: bool) -> Callable[[str], Any]:
            def compute(value: str) -> Any:
                if (
                    len(value) > NAME_MAX_CHARS
                    or gaiji.unmapped(value)
                    or check_control_characters(value) is not None
                ):
                    return _BAD
                out = normalize_name(gaiji.apply(value))
                return _BAD if check_name_characters(out, allow_latin=allow_latin) is not None else out

            return compute

        def kana(value: str) -> Any:
            if len(value) > NAME_MAX_CHARS or check_katakana(value) is not None:
                return _BAD
            return normalize_kana(value)

        def free(normalize: Callable[[str], str]) -> Callable[[str], Any]:
            def compute(value: str) -> Any:
                if len(value) > TEXT_MAX_CHARS or _free_problem(gaiji, value):
                    return _BAD
                return normalize(gaiji.apply(value))

            return compute

        def address(value: str) -> Any:
            if len(value) > TEXT_MAX_CHARS or _free_problem(gaiji, value):
                return _BAD
            parsed = parse_address(gaiji.apply(value), known_cities=known)
            return _BAD if len(parsed.block) > BLOCK_MAX_CHARS else parsed

        def birth(value: str) -> Any:
            d = parse_date(value)
            if isinstance(d, str) or d > self.today or _age(d, self.today) > MAX_AGE_YEARS:
                return _BAD
            return d

        def day(value: str) -> Any:
            d = parse_date(value)
            return _BAD if isinstance(d, str) else d

        def nationality(value: str) -> Any:
            if len(value) > TEXT_MAX_CHARS or check_name_characters(value) is not None:
                return _BAD
            return value

        self._name_latin = _Cache(name(True))
        self._name_plain = _Cache(name(False))
        self._kana = _Cache(kana)
        self._address = _Cache(address)
        self._note = _Cache(free(normalize_name))
        self._other_address = _Cache(free(normalize_address_text))
        self._birth = _Cache(birth)
        self._date = _Cache(day)
        self._nationality = _Cache(nationality)
        self._relationships: dict[str, bool] = {}

    def parse(self, record: Mapping[str, Any], line: int) -> ResidentRow | None:
        """The row ``parse_row`` would return, or ``None`` (then ask ``parse_row``)."""
        return self.parse_values([record.get(c, "") for c in COLUMN_NAMES], line)

    def parse_values(self, values: Sequence[Any], line: int) -> ResidentRow | None:
        """:meth:`parse` of the record whose values are ``values``, in ``COLUMN_NAMES`` order
        (a column the file does not have is an empty string)."""
        try:
            return self._parse(values, line)
        except AttributeError:  # a value that is not text (no .strip): the reference path decides
            return None

    def _parse(self, values: Sequence[Any], line: int) -> ResidentRow | None:
        (
            raw_code, raw_number, raw_atena, raw_household, raw_relationship, raw_head, raw_name,
            raw_kana, raw_alias, raw_alias_kana, raw_birth, raw_sex, raw_kind, raw_became, raw_address,
            raw_note, raw_since, raw_previous, raw_before, raw_honseki, raw_hittosha, raw_nationality,
            raw_status, raw_stay, raw_card, raw_change, raw_change_date, raw_notified, raw_removal,
            raw_removed_on, raw_moved_out, raw_relationship_before, raw_confirmed, raw_former,
            raw_former_kana,
        ) = values  # fmt: skip
        today = self.today
        ctx = self.ctx
        v: Any
        _address, _birth, _date, _kana, _name_latin, _name_plain, _nationality, _note, _other_address = (
            self._address,
            self._birth,
            self._date,
            self._kana,
            self._name_latin,
            self._name_plain,
            self._nationality,
            self._note,
            self._other_address,
        )

        code = raw_code.strip()
        if not (len(code) == 11 and code.isdigit() and code.isascii()):
            return None
        my_number: str | None = raw_number.strip() or None
        if my_number is not None and not is_valid_my_number(my_number):
            return None
        atena: str | None = raw_atena.strip() or None
        if atena is not None and not (len(atena) <= 15 and atena.isdigit() and atena.isascii()):
            return None
        household = raw_household.strip()
        if not (household and len(household) <= 15 and household.isdigit() and household.isascii()):
            return None
        relationship = raw_relationship.strip()
        ok = self._relationships.get(relationship)
        if ok is None:
            ok = self._relationships[relationship] = bool(relationship) and is_valid_relationship(
                relationship
            )
        if not ok:
            return None
        kind = KIND_CODES.get(raw_kind.strip())
        if kind is None:
            return None
        foreign = kind is FOREIGN

        raw = raw_head.strip()
        head_name = None
        if raw:
            head_name = _name_latin.data.get(raw) or _name_latin.miss(raw)
            if head_name is _BAD:
                return None
        names = _name_latin if foreign else _name_plain
        raw = raw_name.strip()
        if not raw:
            return None
        name = names.data.get(raw) or names.miss(raw)
        if name is _BAD:
            return None
        raw = raw_kana.strip()
        if not raw:
            return None
        name_kana = _kana.data.get(raw) or _kana.miss(raw)
        if name_kana is _BAD:
            return None
        alias = alias_kana = None
        raw = raw_alias.strip()
        if raw:
            alias = _name_latin.data.get(raw) or _name_latin.miss(raw)
            if alias is _BAD:
                return None
        raw = raw_alias_kana.strip()
        if raw:
            alias_kana = _kana.data.get(raw) or _kana.miss(raw)
            if alias_kana is _BAD:
                return None
        if alias_kana and not alias:
            return None
        if not foreign and (alias or alias_kana):
            return None
        former = former_kana = None
        raw = raw_former.strip()
        if raw:
            former = _name_plain.data.get(raw) or _name_plain.miss(raw)  # no latin letters: a 戸籍's 氏
            if former is _BAD or former_surname_problem(former) is not None:
                return None
        raw = raw_former_kana.strip()
        if raw:
            former_kana = _kana.data.get(raw) or _kana.miss(raw)
            if former_kana is _BAD:
                return None
        if (former_kana and not former) or (foreign and (former or former_kana)):
            return None
        sex = SEX_CODES.get(raw_sex.strip())
        if sex is None:
            return None
        raw = raw_birth.strip()
        if not raw:
            return None
        birth = _birth.data.get(raw) or _birth.miss(raw)
        if birth is _BAD:
            return None
        raw = raw_became.strip()
        if not raw:
            return None
        became = _date.data.get(raw) or _date.miss(raw)
        if became is _BAD:
            return None
        raw = raw_address.strip()
        if not raw:
            return None
        address: Address = _address.data.get(raw) or _address.miss(raw)
        if address is _BAD or not address.prefecture or not address.city:
            return None
        raw = raw_note.strip()
        address_note = None
        if raw:
            address_note = _note.data.get(raw) or _note.miss(raw)
            if address_note is _BAD:
                return None
        raw = raw_since.strip()
        if not raw:
            return None
        since = _date.data.get(raw) or _date.miss(raw)
        if since is _BAD:
            return None
        others: list[str | None] = []
        for raw in (raw_previous, raw_before, raw_moved_out, raw_honseki):
            raw = raw.strip()
            if raw:
                v = _other_address.data.get(raw) or _other_address.miss(raw)
                if v is _BAD:
                    return None
                others.append(v)
            else:
                others.append(None)
        previous, before_move_in, moved_out_to, honseki = others
        has_honseki = honseki is not None
        raw_hittosha = raw_hittosha.strip()
        hittosha = None
        if raw_hittosha:
            hittosha = _name_plain.data.get(raw_hittosha) or _name_plain.miss(raw_hittosha)
            if hittosha is _BAD:
                return None
        nationality: str | None = raw_nationality.strip() or None
        if (
            nationality is not None
            and (_nationality.data.get(nationality) or _nationality.miss(nationality)) is _BAD
        ):
            return None
        status: str | None = raw_status.strip() or None
        if status is not None and status not in RESIDENCE_STATUSES:
            return None
        raw_stay = raw_stay.strip()
        stay_until = None
        if raw_stay:
            stay_until = _date.data.get(raw_stay) or _date.miss(raw_stay)
            if stay_until is _BAD:
                return None
        card: str | None = raw_card.strip() or None
        if card is not None and not RESIDENCE_CARD.match(card):
            return None
        if kind is JAPANESE:
            if nationality or status or raw_stay or card:
                return None
            if has_honseki != bool(raw_hittosha):
                return None
        else:
            if has_honseki or raw_hittosha or not nationality or not status:
                return None
            if status not in STATUSES_WITHOUT_PERIOD and not raw_stay:
                return None
            if stay_until is not None and stay_until < birth:
                return None

        change_reason: str | None = raw_change.strip() or None
        if change_reason is not None and change_reason not in CHANGE_REASONS:
            return None
        raw = raw_change_date.strip()
        change_date = None
        if raw:
            change_date = _date.data.get(raw) or _date.miss(raw)
            if change_date is _BAD:
                return None
        elif change_reason is not None:
            return None
        raw = raw_notified.strip()
        notified = None
        if raw:
            notified = _date.data.get(raw) or _date.miss(raw)
            if notified is _BAD:
                return None
        removal_reason: str | None = raw_removal.strip() or None
        if removal_reason is not None and removal_reason not in REMOVAL_REASONS:
            return None
        raw = raw_removed_on.strip()
        removed_on = None
        if raw:
            removed_on = _date.data.get(raw) or _date.miss(raw)
            if removed_on is _BAD:
                return None
        if (removed_on is None) != (removal_reason is None):
            return None
        relationship_before: str | None = raw_relationship_before.strip() or None
        if relationship_before_problem(
            relationship_before, change_reason, change_date, removed=removed_on is not None, today=today
        ):
            return None
        move_out_confirmed = None
        if raw_confirmed:
            move_out_confirmed, problem = parse_move_out_confirmed(
                raw_confirmed.strip() or None, removal_reason, removed_on, today=today
            )
            if problem is not None:
                return None

        future_ok = (removal_reason or change_reason) in FUTURE_ALLOWED_CHANGES
        if became < birth or became > today or since < birth or since > today:
            return None
        for value in (change_date, removed_on):
            if value is not None and (value < birth or (value > today and not future_ok)):
                return None
        if notified is not None and (notified < birth or notified > today):
            return None
        if since < became or (removed_on is not None and removed_on < became):
            return None
        if change_reason == "出生" and change_date is not None and change_date != birth:
            return None
        if (
            ctx.municipality_prefix
            and removed_on is None
            and not address.text.startswith(ctx.municipality_prefix)
        ):
            return None
        return ResidentRow(
            line, code, my_number, atena, household, relationship, head_name, name, name_kana, alias,
            alias_kana, birth, sex, kind, became, address, address_note, since, previous, before_move_in,
            honseki, hittosha, nationality, status, stay_until, card, change_reason, change_date, notified,
            removal_reason, removed_on, moved_out_to, relationship_before, move_out_confirmed, former,
            former_kana,
        )  # fmt: skip


def _free_problem(gaiji: GaijiMap, value: str) -> bool:
    if gaiji.unmapped(value):
        return True
    return not is_printable_text(gaiji.apply(value))
