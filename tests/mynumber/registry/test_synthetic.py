"""The synthetic municipality: determinism, plausibility, and that it speaks the interchange format."""

from __future__ import annotations

import io
from collections import Counter, defaultdict
from datetime import date

import pytest

from jichitai.mynumber.registry.interchange import (
    ParseContext,
    ResidentKind,
    ResidentRow,
    Sex,
    is_valid_my_number,
    iter_csv,
    iter_jsonl,
    parse_row,
    row_to_values,
    validate_households,
)
from jichitai.mynumber.registry.names import check_katakana, check_name_characters
from jichitai.mynumber.registry.synthetic import SyntheticHousehold, generate_population, write_population

AS_OF = date(2025, 4, 1)


def population(n: int, seed: int = 1) -> list[SyntheticHousehold]:
    return list(generate_population(n, seed, "141003", "横浜市", wards=("中区", "西区"), as_of=AS_OF))


@pytest.fixture(scope="module")
def households() -> list[SyntheticHousehold]:
    return population(4000)


@pytest.fixture(scope="module")
def rows(households: list[SyntheticHousehold]) -> list[ResidentRow]:
    return [r for h in households for r in h.members]


def test_deterministic_for_a_seed() -> None:
    a = [row_to_values(r) for h in population(300, seed=42) for r in h.members]
    b = [row_to_values(r) for h in population(300, seed=42) for r in h.members]
    c = [row_to_values(r) for h in population(300, seed=43) for r in h.members]
    assert a == b
    assert a != c


def test_exact_number_of_rows(rows: list[ResidentRow]) -> None:
    assert len(rows) == 4000
    assert [r.line for r in rows] == list(range(2, 4002))


def test_one_head_per_household_and_consistent_households(rows: list[ResidentRow]) -> None:
    assert validate_households(rows) == []
    for row in rows:
        if row.is_head:
            assert row.head_name is None
        else:
            assert row.head_name is not None


def test_numbers_are_valid_and_unique(rows: list[ResidentRow]) -> None:
    numbers = [r.my_number for r in rows]
    assert all(n is not None and is_valid_my_number(n) for n in numbers)
    assert len(set(numbers)) == len(numbers)
    codes = [r.juminhyo_code for r in rows]
    assert all(len(c) == 11 and c.isdigit() for c in codes)
    assert len(set(codes)) == len(codes)


def test_ages_and_dates_are_plausible(households: list[SyntheticHousehold]) -> None:
    for h in households:
        for r in h.members:
            assert 0 <= r.age_on(AS_OF) <= 110
            assert r.birth_date <= r.became_resident_on <= r.address_since <= AS_OF
            if r.removed_on is not None:
                assert r.address_since <= r.removed_on <= AS_OF
            if r.relationship in ("父", "母", "同居人", "世帯主", "妻", "夫"):
                assert r.age_on(AS_OF) >= 18
        mothers = [
            m
            for m in h.members
            if m.sex is Sex.FEMALE and m.relationship in ("世帯主", "妻") and m.kind is ResidentKind.JAPANESE
        ]
        children = [m for m in h.members if m.relationship == "子"]
        if mothers and children and any(m.relationship == "妻" for m in mothers):
            mother = next(m for m in mothers if m.relationship == "妻")
            for child in children:
                age_at_birth = (child.birth_date - mother.birth_date).days / 365.25
                assert 19.9 <= age_at_birth <= 45.1
        elders = [m for m in h.members if m.relationship in ("父", "母")]
        head = h.members[0]
        for elder in elders:
            assert elder.birth_date < head.birth_date


def test_household_shapes_and_history(rows: list[ResidentRow], households: list[SyntheticHousehold]) -> None:
    sizes = Counter(len(h.members) for h in households)
    assert sizes[1] > sizes[4] > 0  # many people live alone; families exist
    relationships = Counter(r.relationship for r in rows)
    assert {"世帯主", "妻", "子"} <= set(relationships)
    reasons = Counter(r.change_reason for r in rows)
    assert {"転入", "出生", "転居"} <= set(reasons)
    removals = Counter(r.removal_reason for r in rows if r.is_removed)
    assert removals["転出"] > 0
    assert removals["死亡"] > 0
    assert 0.01 < sum(removals.values()) / len(rows) < 0.1
    for h in households:
        assert [e.on for e in h.events] == sorted(e.on for e in h.events)
        assert {e.juminhyo_code for e in h.events} == {m.juminhyo_code for m in h.members}


def test_foreign_residents(rows: list[ResidentRow]) -> None:
    foreign = [r for r in rows if r.kind is ResidentKind.FOREIGN]
    assert 0.01 < len(foreign) / len(rows) < 0.05
    for r in foreign:
        assert r.nationality
        assert r.residence_status
        assert r.honseki is None
        assert r.hittosha is None
    japanese = [r for r in rows if r.kind is ResidentKind.JAPANESE]
    assert all(r.nationality is None and r.honseki and r.hittosha for r in japanese)


def test_some_spouses_have_a_former_surname(rows: list[ResidentRow]) -> None:
    """旧氏 of Japanese spouses (a few per cent of them), another 氏 than their present one."""
    former = [r for r in rows if r.former_surname]
    spouses = [r for r in rows if r.relationship in ("妻", "夫") and r.kind is ResidentKind.JAPANESE]
    assert 0.01 < len(former) / len(spouses) < 0.1
    for r in former:
        assert r.kind is ResidentKind.JAPANESE and r.relationship in ("妻", "夫")
        assert r.former_surname != r.name.split("\u3000")[0] and r.former_surname_kana
        assert check_name_characters(r.former_surname or "") is None
        assert check_katakana(r.former_surname_kana or "") is None


def test_names_and_kana_are_well_formed(rows: list[ResidentRow]) -> None:
    by_household: dict[str, list[ResidentRow]] = defaultdict(list)
    for r in rows:
        assert check_name_characters(r.name) is None
        assert check_katakana(r.name_kana) is None
        assert r.name.count("\u3000") >= 1
        by_household[r.household_number].append(r)
    # members of a family share the head's surname (同居人 excepted)
    for members in by_household.values():
        surname = members[0].name.split("\u3000")[0]
        for m in members:
            if m.relationship != "同居人":
                assert m.name.split("\u3000")[0] == surname


def test_written_file_parses_back_without_errors() -> None:
    out = io.StringIO()
    assert write_population(out, 1500, 5, "141003", "横浜市", as_of=AS_OF) == 1500
    ctx = ParseContext(today=AS_OF, known_cities=("横浜市",), municipality_prefix="神奈川県横浜市")
    expected = [r for h in generate_population(1500, 5, "141003", "横浜市", as_of=AS_OF) for r in h.members]
    parsed = []
    for line, record in iter_csv(io.StringIO(out.getvalue())):
        assert isinstance(record, dict)
        result = parse_row(record, line, ctx)
        assert isinstance(result, ResidentRow), result
        parsed.append(result)
    assert parsed == expected


def test_jsonl_output() -> None:
    out = io.StringIO()
    assert write_population(out, 200, 5, "141003", "横浜市", fmt="jsonl", as_of=AS_OF) == 200
    items = list(iter_jsonl(io.StringIO(out.getvalue())))
    assert len(items) == 200
    assert all(isinstance(record, dict) for _, record in items)


def test_prefecture_follows_the_tenant_code() -> None:
    rows = [r for h in generate_population(50, 1, "011002", "札幌市", wards=("中央区",)) for r in h.members]
    assert {r.address.prefecture for r in rows} == {"北海道"}
    assert {r.address.city for r in rows} == {"札幌市中央区"}
