"""Search and inquiry (検索・照会) over the current-state table, fast at city scale.

Names are matched through the keys of :mod:`names` stored in indexed columns: the query's folded
key (variant kanji, width, kana folded) selects candidates by an index range scan, exact or as a
prefix (a surname alone finds the whole family), and the rank orders them: the name exactly as
written, then width/kana-insensitive, then variant kanji (髙/高, 﨑/崎), then prefix matches in the
same order. A query written in kana searches the kana keys the same way. No filter ever needs a
full scan: name, kana, birth date, address prefix, household and 統合宛名番号 each have an index.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import ColumnElement, Integer, and_, case, func, literal, or_, select
from sqlalchemy.orm import InstrumentedAttribute

from jichitai.mynumber.registry.addresses import normalize_address_text, parse_address
from jichitai.mynumber.registry.errors import RegistryRefusal
from jichitai.mynumber.registry.models import STATUS_RESIDENT, Household, Person
from jichitai.mynumber.registry.names import check_katakana, name_keys, normalize_kana
from jichitai.platform.storage import UnitOfWork
from jichitai.platform.tenants import PREFECTURES

MAX_PAGE_SIZE = 100
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


@dataclass(frozen=True)
class SearchPage:
    hits: tuple[SearchHit, ...]
    total: int
    page: int
    page_size: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.page_size))


def _is_kana(text: str) -> bool:
    return check_katakana(normalize_kana(text)) is None


_Column = ColumnElement[str] | InstrumentedAttribute[str]


def _prefix(column: _Column, key: str) -> ColumnElement[bool]:
    return and_(column >= key, column < key + _TOP)


def _starts(column: _Column, key: str) -> ColumnElement[bool]:
    return func.substr(column, 1, len(key)) == key


def _name_filter(text: str) -> tuple[ColumnElement[bool], ColumnElement[int]]:
    if _is_kana(text):
        keys = name_keys(normalize_kana(text))
        # kana is stored normalized, so its width key is the exact form (hiragana input included)
        exact_col, exact_key = Person.kana_key_width, keys.width
        width_col, folded_col = Person.kana_key_width, Person.kana_key_folded
    else:
        keys = name_keys(text)
        exact_col, exact_key = Person.name_key_exact, keys.exact
        width_col, folded_col = Person.name_key_width, Person.name_key_folded
    rank = case(
        (exact_col == exact_key, RANK_EXACT),
        (width_col == keys.width, RANK_WIDTH),
        (folded_col == keys.folded, RANK_VARIANT),
        (_starts(exact_col, exact_key), RANK_PREFIX_EXACT),
        (_starts(width_col, keys.width), RANK_PREFIX_WIDTH),
        else_=RANK_PREFIX_VARIANT,
    )
    return _prefix(folded_col, keys.folded), rank


def _address_key(text: str, prefecture: str, municipality: str) -> str:
    """The query as the stored key would begin: normalized like addresses.Address.text."""
    text = normalize_address_text(text)
    if not text.startswith(PREFECTURES):
        text = prefecture + text
    return parse_address(text, known_cities=(municipality,)).text


def search(uow: UnitOfWork, q: SearchQuery, *, today: date) -> SearchPage:
    """One page of persons matching ``q``, best name matches first; each person shown is audited."""
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
    conditions: list[ColumnElement[bool]] = []
    rank: ColumnElement[int] = literal(RANK_NONE, Integer)
    if q.name and q.name.strip():
        condition, rank = _name_filter(q.name)
        conditions.append(condition)
    if q.birth_date is not None:
        conditions.append(Person.birth_date == q.birth_date)
    if q.address and q.address.strip():
        conditions.append(
            _prefix(Person.address_key, _address_key(q.address, uow.tenant.prefecture, uow.tenant.name))
        )
    if q.atena_number:
        conditions.append(Person.atena_number == q.atena_number)
    if q.household_number:
        conditions.append(
            Person.household_id.in_(
                select(Household.id).where(Household.household_number == q.household_number)
            )
        )
    if not q.include_removed:
        # a 転出予定 person stays in the results until the 転出予定日
        conditions.append(or_(Person.status == STATUS_RESIDENT, Person.removed_on > today))
    ranked = rank.label("rank")
    offset = (q.page - 1) * q.page_size
    # Only the columns a hit shows (loading whole Person entities costs more than the query).
    stmt = (
        select(
            Person.atena_number,
            Person.name,
            Person.name_kana,
            Person.birth_date,
            Person.sex,
            Person.address_text,
            Household.household_number,
            Person.relationship,
            Person.status,
            Person.removed_on,
            Person.removal_reason,
            ranked,
        )
        .join(Household, Household.id == Person.household_id)
        .where(*conditions)
        .order_by(ranked, Person.kana_key_width, Person.birth_date, Person.id)
        .offset(offset)
        .limit(q.page_size)
    )
    hits = tuple(
        SearchHit(
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
        )
        for r in uow.session.execute(stmt).all()
    )
    if hits and len(hits) < q.page_size:
        total = offset + len(hits)  # a page not filled is the last one: no count needed
    else:
        total = uow.session.scalar(select(func.count()).select_from(Person).where(*conditions)) or 0
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
    return SearchPage(hits, int(total), q.page, q.page_size)
