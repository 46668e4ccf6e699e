"""Search and inquiry (検索・照会) over the current-state table, fast at city scale.

Names are matched through the keys of :mod:`names` stored in indexed columns: the query's folded
key (variant kanji, width, kana folded) selects candidates by an index range scan, exact or as a
prefix (a surname alone finds the whole family), and the rank orders them: the name exactly as
written, then width/kana-insensitive, then variant kanji (髙/高, 﨑/崎), then prefix matches in the
same order. A query written in kana searches the kana keys the same way. The other name a person
is known by (a foreign resident's 通称, or a Japanese resident's 旧氏 with the 名: names.other_name)
is searched like the 氏名, through keys of its own (NULL, and so not indexed, for the many without
one); the same rank applies, and the hit says it matched the other name. No filter ever needs a
full scan: name, kana, birth date, address prefix, household and 統合宛名番号 each have an index.
A search reads at most MAX_RESULTS + 1 matches, in the order of the index it ranges over: a broader
one (a common surname alone: tens of thousands in a large city) shows the first MAX_RESULTS, whole
names first, and asks staff to add criteria, so that its cost does not grow with the city.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Integer,
    Select,
    and_,
    bindparam,
    case,
    func,
    literal,
    not_,
    or_,
    select,
    union_all,
)
from sqlalchemy.orm import InstrumentedAttribute

from jichitai.mynumber.registry.addresses import normalize_address_text, parse_address
from jichitai.mynumber.registry.errors import RegistryRefusal
from jichitai.mynumber.registry.models import STATUS_RESIDENT, Household, Person
from jichitai.mynumber.registry.names import check_katakana, name_keys, normalize_kana
from jichitai.platform.storage import UnitOfWork
from jichitai.platform.tenants import PREFECTURES

MAX_PAGE_SIZE = 100
# A search shows at most this many matches (over its pages); a broader one is answered with the
# first of them and the advice to narrow it (CAPPED_MESSAGE), so that its cost stays bounded.
MAX_RESULTS = 500
CAPPED_MESSAGE = "該当が多いため先頭{n}件を表示しています。条件を追加してください"
_TOP = "\U0010ffff"  # above every character: [key, key + _TOP) is exactly the keys starting with key

# match ranks, best first
RANK_EXACT, RANK_WIDTH, RANK_VARIANT, RANK_PREFIX_EXACT, RANK_PREFIX_WIDTH, RANK_PREFIX_VARIANT = range(6)
RANK_NONE = 9  # no name in the query


@dataclass(frozen=True)
class SearchQuery:
    """Criteria combine with AND; at least one is needed. Pages count from 1."""

    name: str | None = None  # kanji or kana, full name or its beginning
    birth_date: date | None = None
    address: str | None = None  # beginning of the address (with or without the prefecture)
    household_number: str | None = None
    atena_number: str | None = None
    include_removed: bool = False  # 除票 too
    page: int = 1
    page_size: int = 20


@dataclass(frozen=True)
class SearchHit:
    atena_number: str
    name: str
    name_kana: str
    birth_date: date
    sex: str
    address: str
    household_number: str
    relationship: str
    status: str
    removed_on: date | None
    removal_reason: str | None
    rank: int  # see RANK_*; lower is a better name match
    alias: str | None = None  # 通称
    by_other_name: bool = False  # the name matched the other name (通称, or 旧氏 with the 名), not the 氏名
    former_surname: str | None = None  # 旧氏


@dataclass(frozen=True)
class SearchPage:
    hits: tuple[SearchHit, ...]
    total: int
    page: int
    page_size: int
    capped: bool = False  # more than MAX_RESULTS matched: ``total`` is the cap, not the count

    @property
    def notice(self) -> str | None:
        """What staff are told when the search was capped (None when every match is counted)."""
        return CAPPED_MESSAGE.format(n=self.total) if self.capped else None

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.page_size))


def _is_kana(text: str) -> bool:
    return check_katakana(normalize_kana(text)) is None


_Column = ColumnElement[str] | InstrumentedAttribute[str] | InstrumentedAttribute[str | None]
_AnyColumn = ColumnElement[Any] | InstrumentedAttribute[Any]


# the exact, width and folded keys a name query ranges over, by (kana, the other name)
_KEY_COLUMNS: dict[tuple[bool, bool], tuple[_Column, _Column, _Column]] = {
    # kana is stored normalized, so its width key is the exact form (hiragana input included)
    (False, False): (Person.name_key_exact, Person.name_key_width, Person.name_key_folded),
    (True, False): (Person.kana_key_width, Person.kana_key_width, Person.kana_key_folded),
    (False, True): (Person.other_name_key_exact, Person.other_name_key_width, Person.other_name_key_folded),
    (True, True): (Person.other_kana_key_width, Person.other_kana_key_width, Person.other_kana_key_folded),
}


def _name_filter(kana: bool, other: bool) -> tuple[ColumnElement[bool], ColumnElement[int], _Column]:
    """The condition (a range of the folded key's index), the rank, and the indexed column, with
    the query's keys as parameters (see :func:`_name_params`); of the 氏名 or of the 通称."""
    exact_col, width_col, folded_col = _KEY_COLUMNS[kana, other]
    exact: BindParameter[str] = bindparam("exact")
    width: BindParameter[str] = bindparam("width")
    folded: BindParameter[str] = bindparam("folded")
    rank = case(
        (exact_col == exact, RANK_EXACT),
        (width_col == width, RANK_WIDTH),
        (folded_col == folded, RANK_VARIANT),
        (func.substr(exact_col, 1, bindparam("exact_len", type_=Integer)) == exact, RANK_PREFIX_EXACT),
        (func.substr(width_col, 1, bindparam("width_len", type_=Integer)) == width, RANK_PREFIX_WIDTH),
        else_=RANK_PREFIX_VARIANT,
    )
    return and_(folded_col >= folded, folded_col < bindparam("folded_top")), rank, folded_col


def _name_params(text: str) -> tuple[bool, dict[str, object]]:
    """Whether the query is kana, and its keys: [folded, folded + _TOP) is the keys starting with it."""
    kana = _is_kana(text)
    keys = name_keys(normalize_kana(text)) if kana else name_keys(text)
    exact = keys.width if kana else keys.exact
    return kana, {
        "exact": exact,
        "exact_len": len(exact),
        "width": keys.width,
        "width_len": len(keys.width),
        "folded": keys.folded,
        "folded_top": keys.folded + _TOP,
    }


def _address_key(text: str, prefecture: str, municipality: str) -> str:
    """The query as the stored key would begin: normalized like addresses.Address.text."""
    text = normalize_address_text(text)
    if not text.startswith(PREFECTURES):
        text = prefecture + text
    return parse_address(text, known_cities=(municipality,)).text


# The columns a hit shows (loading whole Person entities costs more than the query).
_SHOWN = (
    Person.atena_number,
    Person.name,
    Person.name_kana,
    Person.birth_date,
    Person.sex,
    Person.address_text,
    Person.relationship,
    Person.status,
    Person.removed_on,
    Person.removal_reason,
    Person.alias,
    Person.former_surname,
)


def _hit(r: Any) -> SearchHit:  # a row of _SHOWN, household_number and rank
    return SearchHit(
        r.atena_number,
        r.name,
        r.name_kana,
        r.birth_date,
        r.sex,
        r.address_text,
        r.household_number,
        r.relationship,
        r.status,
        r.removed_on,
        r.removal_reason,
        int(r.rank),
        r.alias,
        bool(r.by_other_name),
        r.former_surname,
    )


@dataclass(frozen=True)
class _Shape:
    """Which criteria a search has: one statement per shape, built once (see _statements)."""

    name: bool
    kana: bool
    birth_date: bool
    address: bool
    atena_number: bool
    household_number: bool
    include_removed: bool


@functools.lru_cache(maxsize=256)
def _statements(shape: _Shape) -> tuple[Select[*tuple[Any, ...]], Select[int]]:
    """The page statement and the (bounded) count statement of a search of this shape.

    The values are bind parameters, so each statement is built once: building and hashing this
    nested statement cost SQLAlchemy more CPU than the database spends running it.

    The page statement returns rows [offset, offset + limit) of the matches and how many matched,
    counted up to one past ``cap`` (MAX_RESULTS), in one statement whose cost the cap bounds. The
    matches are read in the order of the index the main criterion ranges over (``scan``, then id)
    and the reading stops one past the cap; a plain range would let PostgreSQL read a broad one
    whole, as a bitmap, before the limit. When no more than the cap match, they are all there and
    are ranked: rank, reading, birth date. When more match, what is shown is the first ``cap`` in
    the index's order, the whole-name matches (at the front of the range: the shortest key) ranked
    as usual and then the longer names in the index's order, since ranking every match (tens of
    thousands of 佐藤 in a large city) would read them all.
    """
    conditions: list[ColumnElement[bool]] = []  # the criteria besides the name
    if shape.birth_date:
        conditions.append(Person.birth_date == bindparam("birth_date"))
    if shape.address:
        conditions.append(
            and_(Person.address_key >= bindparam("address"), Person.address_key < bindparam("address_top"))
        )
    if shape.atena_number:
        conditions.append(Person.atena_number == bindparam("atena_number"))
    if shape.household_number:
        conditions.append(
            Person.household_id.in_(
                select(Household.id).where(Household.household_number == bindparam("household_number"))
            )
        )
    if not shape.include_removed:
        # a 転出予定 person stays in the results until the 転出予定日
        conditions.append(or_(Person.status == STATUS_RESIDENT, Person.removed_on > bindparam("today")))
    cap = bindparam("cap", type_=Integer)

    def read(
        where: list[ColumnElement[bool]],
        rank: ColumnElement[int],
        scan: tuple[_AnyColumn, _AnyColumn],
        by_other_name: int,
    ) -> Select[*tuple[Any, ...]]:
        return (
            select(
                Person.id,
                Person.kana_key_width,
                Person.birth_date,
                rank.label("rank"),
                scan[0].label("s0"),
                scan[1].label("s1"),
                literal(by_other_name, Integer).label("by_other_name"),
            )
            .where(*where)
            .order_by(*scan, Person.id)
            .limit(cap + 1)
        )

    if shape.name:
        # the 氏名's index and the other name's (通称, 旧氏 with the 名), each read in its order up to
        # the cap; a person whose 氏名 matches comes through the first only
        name, name_rank, name_key = _name_filter(shape.kana, other=False)
        other, other_rank, other_key = _name_filter(shape.kana, other=True)
        by_name = read([name, *conditions], name_rank, (name_key, Person.birth_date), 0).subquery("n")
        by_other = read([other, not_(name), *conditions], other_rank, (other_key, Person.birth_date), 1)
        matches = union_all(select(by_name), select(by_other.subquery("a"))).subquery("m")
        bounded = union_all(
            *(
                select(literal(1)).select_from(Person).where(*where).limit(cap + 1).subquery().select()
                for where in ([name, *conditions], [other, not_(name), *conditions])
            )
        ).subquery()
    else:
        scan: tuple[_AnyColumn, _AnyColumn] = (Person.birth_date, Person.kana_key_width)
        if shape.address:
            scan = (Person.address_key, Person.birth_date)
        matches = read(conditions, literal(RANK_NONE, Integer), scan, 0).subquery("m")
        bounded = select(literal(1)).select_from(Person).where(*conditions).limit(cap + 1).subquery()
    m = matches.c
    counted = select(
        m.id,
        m.kana_key_width,
        m.birth_date,
        m.rank,
        m.by_other_name,
        func.count().over().label("matches"),
        func.row_number().over(order_by=(m.s0, m.s1, m.id)).label("pos"),
    ).subquery("c")
    c = counted.c
    # capped: the longer names (prefix ranks) and a search without a name keep the index's order
    in_scan_order = and_(c.matches > cap, c.rank >= RANK_PREFIX_EXACT)
    order = (
        case((in_scan_order, RANK_PREFIX_EXACT), else_=c.rank).label("o1"),
        case((in_scan_order, c.pos), else_=0).label("o2"),
        c.kana_key_width,
        c.birth_date,
        c.id,
    )
    page = (
        select(counted, *order)
        .order_by(*order)
        .offset(bindparam("offset", type_=Integer))
        .limit(bindparam("limit", type_=Integer))
        .subquery("p")
    )
    p = page.c
    # the page's rows are fetched by id: only what the ranking needs went through the sort
    page_stmt = (
        select(*_SHOWN, Household.household_number, p.rank, p.by_other_name, p.matches)
        .select_from(page)
        .join(Person, Person.id == p.id)
        .join(Household, Household.id == Person.household_id)
        .order_by(p.o1, p.o2, p.kana_key_width, p.birth_date, p.id)
    )
    return page_stmt, select(func.count()).select_from(bounded)


def search(uow: UnitOfWork, q: SearchQuery, *, today: date) -> SearchPage:
    """One page of persons matching ``q``, best name matches first; each person shown is audited.

    At most MAX_RESULTS are ever shown: when more match, the page says so (``capped``, ``notice``)
    and shows the first ones in an order an index gives (see :func:`_statements`); staff add criteria.
    """
    if not any(
        (
            q.name and q.name.strip(),
            q.birth_date,
            q.address and q.address.strip(),
            q.household_number,
            q.atena_number,
        )
    ):
        raise RegistryRefusal(["検索条件を1つ以上指定してください"], message="empty search")
    if q.page < 1 or not 1 <= q.page_size <= MAX_PAGE_SIZE:
        raise RegistryRefusal([f"ページは1以上、1ページの件数は1〜{MAX_PAGE_SIZE}件です"], message="bad page")
    name = bool(q.name and q.name.strip())
    address = bool(q.address and q.address.strip())
    kana = False
    params: dict[str, object] = {"today": today, "cap": MAX_RESULTS}
    if q.name and name:
        kana, keys = _name_params(q.name)
        params.update(keys)
    if q.birth_date is not None:
        params["birth_date"] = q.birth_date
    if q.address and address:
        key = _address_key(q.address, uow.tenant.prefecture, uow.tenant.name)
        params.update(address=key, address_top=key + _TOP)
    if q.atena_number:
        params["atena_number"] = q.atena_number
    if q.household_number:
        params["household_number"] = q.household_number
    shape = _Shape(
        name,
        kana,
        q.birth_date is not None,
        address,
        bool(q.atena_number),
        bool(q.household_number),
        q.include_removed,
    )
    page_stmt, count_stmt = _statements(shape)
    offset = (q.page - 1) * q.page_size
    limit = min(q.page_size, MAX_RESULTS - offset)  # pages end at the cap
    hits: list[SearchHit] = []
    matches: int | None = None
    if limit > 0:
        rows = uow.session.execute(page_stmt, {**params, "offset": offset, "limit": limit}).all()
        hits = [_hit(r) for r in rows]
        matches = int(rows[0].matches) if rows else None
    if matches is None:  # an empty page: nothing matched, or a page past the end
        matches = int(uow.session.scalar(count_stmt, params) or 0) if offset else 0
    capped = matches > MAX_RESULTS
    total = min(matches, MAX_RESULTS)
    criteria = sorted(
        k
        for k, v in (
            ("name", q.name),
            ("birth_date", q.birth_date),
            ("address", q.address),
            ("household", q.household_number),
            ("atena_number", q.atena_number),
        )
        if v
    )
    for h in hits:
        uow.record(
            "read",
            "registry.person",
            h.atena_number,
            person=h.atena_number,
            view="search",
            criteria=criteria,
            include_removed=q.include_removed,
            rank=h.rank,
        )
    if not hits:
        uow.record("search", "registry.person", "", criteria=criteria, results=0)
    return SearchPage(tuple(hits), total, q.page, q.page_size, capped)
