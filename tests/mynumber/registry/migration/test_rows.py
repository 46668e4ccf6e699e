"""An imported person's value lists put each fact in its table's column, and a worker reads packed
CSV records by column name whatever the file's column order."""

from __future__ import annotations

import os
from datetime import UTC, date, datetime
from typing import Any

import pytest

from jichitai.mynumber.atena.models import KIND_NON_RESIDENT, KIND_RESIDENT
from jichitai.mynumber.registry.interchange import COLUMN_NAMES, ParseContext, ResidentRow, parse_row
from jichitai.mynumber.registry.migration import parsing
from jichitai.mynumber.registry.migration.parsing import PACK_SEP, ParseSetup
from jichitai.mynumber.registry.migration.rows import (
    ATENA_COLUMNS,
    PERSON_COLUMNS,
    VERSION_COLUMNS,
    MemberValues,
    member_values,
    person_facts,
)
from jichitai.mynumber.registry.models import FACT_FIELDS
from jichitai.mynumber.registry.names import GaijiMap, name_keys, other_name
from jichitai.mynumber.registry.service.state import address_facts
from jichitai.platform.crypto.fields import BlindIndexer, FieldCipher
from tests.mynumber.registry.migration.test_fastrow import _records

TODAY = date(2025, 6, 2)
NOW = datetime(2025, 6, 2, 1, 2, 3, tzinfo=UTC)
CTX = ParseContext(today=TODAY, gaiji=GaijiMap.empty(), known_cities=("横浜市",), municipality_prefix="")
BASE = {
    "住民票コード": "12345678901", "個人番号": "123456789018", "世帯番号": "100", "続柄": "世帯主",
    "氏名": "髙橋　太郎", "氏名カナ": "タカハシ　タロウ", "生年月日": "1980-04-01", "性別": "1",
    "住民種別": "日本人", "住民となった年月日": "2005-10-01",
    "住所": "神奈川県横浜市中区本町1丁目2番3号 サンハイツ101", "方書": "田中方",
    "住所を定めた年月日": "2010-03-15", "前住所": "東京都千代田区一番町5", "本籍": "東京都千代田区一番町5",
    "筆頭者": "髙橋　一郎", "異動事由": "転居", "異動日": "2010-03-15", "届出日": "2010-03-20",
    "旧氏": "鈴木", "旧氏カナ": "スズキ",
}  # fmt: skip
FOREIGN = BASE | {
    "住民種別": "外国人", "氏名": "NGUYEN VAN AN", "氏名カナ": "グエン　ヴァン　アン", "通称": "山田　安",
    "通称カナ": "ヤマダ　ヤス", "本籍": "", "筆頭者": "", "国籍": "ベトナム", "在留資格": "留学",
    "在留期間満了日": "2026-03-31", "在留カード等番号": "AB12345678CD", "旧氏": "", "旧氏カナ": "",
}  # fmt: skip
MOVED_OUT = BASE | {"消除事由": "転出", "消除日": "2024-08-31", "転出先住所": "大阪府大阪市北区梅田3-1-1"}


def _row(record: dict[str, str]) -> ResidentRow:
    row = parse_row(record, 2, CTX)
    assert isinstance(row, ResidentRow), row
    return row


def _values(row: ResidentRow) -> MemberValues:
    return member_values(
        row, person_facts(row, today=TODAY), person_id="P", atena_id="A", household_id="H",
        person_enc=b"enc-p", atena_enc=b"enc-a", bidx=b"bidx", version_ids=["V1", "V2"], now=NOW,
    )  # fmt: skip


def _expected_facts(row: ResidentRow) -> dict[str, Any]:
    return {
        "household_id": "H", "relationship": row.relationship, "name": row.name,
        "name_kana": row.name_kana, "alias": row.alias, "alias_kana": row.alias_kana,
        "birth_date": row.birth_date, "sex": row.sex.value, "kind": row.kind.value,
        "became_resident_on": row.became_resident_on, **address_facts(row.address, row.address_note),
        "address_since": row.address_since, "previous_address": row.previous_address,
        "address_before_move_in": row.address_before_move_in, "honseki": row.honseki,
        "hittosha": row.hittosha, "nationality": row.nationality,
        "residence_status": row.residence_status, "stay_expires_on": row.stay_expires_on,
        "residence_card_number": row.residence_card_number, "removal_reason": row.removal_reason,
        "removed_on": row.removed_on, "moved_out_to": row.moved_out_to,
        "last_notified_on": row.notified_on, "former_surname": row.former_surname,
        "former_surname_kana": row.former_surname_kana,
    }  # fmt: skip


@pytest.mark.parametrize("record", [BASE, FOREIGN], ids=["japanese", "foreign"])
def test_each_value_is_in_its_column(record: dict[str, str]) -> None:
    row = _row(record)
    values = _values(row)
    person = dict(zip(PERSON_COLUMNS, values.person, strict=True))
    keys, kana = name_keys(row.name), name_keys(row.name_kana)
    # the other name: the 通称, or the 旧氏 with the 名
    other, other_kana = other_name(
        row.name, row.name_kana, row.alias, row.alias_kana, row.former_surname, row.former_surname_kana
    )
    assert (other, other_kana) == (
        ("鈴木　太郎", "スズキ　タロウ") if record is BASE else ("山田　安", "ヤマダ　ヤス")
    )
    alias, alias_kana = name_keys(other), name_keys(other_kana)
    expected = _expected_facts(row) | {
        "status": "resident", "move_out_confirmed": None, "last_change": row.change_reason,
        "last_change_on": row.change_date,
    }  # fmt: skip
    assert {f: person[f] for f in FACT_FIELDS} == expected
    assert person["honseki" if row.honseki else "nationality"] is not None
    assert {k: v for k, v in person.items() if k not in FACT_FIELDS} == {
        "atena_number": None, "id": "P", "juminhyo_code": row.juminhyo_code,
        "individual_number_enc": b"enc-p", "individual_number_bidx": b"bidx",
        "name_key_exact": keys.exact, "name_key_width": keys.width, "name_key_folded": keys.folded,
        "kana_key_width": kana.width, "kana_key_folded": kana.folded,
        "other_name_key_exact": alias and alias.exact, "other_name_key_width": alias and alias.width,
        "other_name_key_folded": alias and alias.folded,
        "other_kana_key_width": alias_kana and alias_kana.width,
        "other_kana_key_folded": alias_kana and alias_kana.folded, "address_key": row.address.text,
        "version_no": 1, "updated_at": NOW,
    }  # fmt: skip
    [version] = [dict(zip(VERSION_COLUMNS, v, strict=True)) for v in values.versions]
    assert {f: version[f] for f in FACT_FIELDS} == expected
    assert (version["id"], version["person_id"], version["valid_from"], version["valid_to"]) == (
        "V1", "P", row.address_since, None,
    )  # fmt: skip
    assert dict(zip(ATENA_COLUMNS, values.atena, strict=True)) == {
        "atena_number": None, "id": "A", "kind": KIND_RESIDENT, "individual_number_enc": b"enc-a",
        "individual_number_bidx": b"bidx", "name": row.name, "name_kana": row.name_kana,
        "birth_date": row.birth_date, "sex": row.sex.value, "address": row.address.text,
        "registered_at": NOW, "updated_at": NOW,
    }  # fmt: skip


def test_a_removed_person_has_a_resident_version_then_a_removed_one() -> None:
    row = _row(MOVED_OUT)
    values = _values(row)
    person = dict(zip(PERSON_COLUMNS, values.person, strict=True))
    assert (person["status"], person["removed_on"], person["move_out_confirmed"]) == (
        "removed", date(2024, 8, 31), True,
    )  # fmt: skip
    before, after = (dict(zip(VERSION_COLUMNS, v, strict=True)) for v in values.versions)
    assert (before["id"], before["valid_from"], before["valid_to"]) == (
        "V1",
        row.address_since,
        row.removed_on,
    )
    assert (before["status"], before["removed_on"], before["moved_out_to"], before["last_change"]) == (
        "resident", None, None, "移行",
    )  # fmt: skip
    assert (before["last_change_on"], before["last_notified_on"]) == (row.address_since, None)
    assert {f: after[f] for f in FACT_FIELDS} == {f: person[f] for f in FACT_FIELDS}
    assert (after["id"], after["valid_from"], after["valid_to"]) == ("V2", row.removed_on, None)
    atena = dict(zip(ATENA_COLUMNS, values.atena, strict=True))
    assert (atena["kind"], atena["address"]) == (KIND_NON_RESIDENT, row.moved_out_to)


def _packed(records: list[dict[str, str]], header: list[str]) -> list[parsing.Item]:
    return [
        (line, PACK_SEP.join((r["世帯番号"].strip(), *[r[c] for c in header])))
        for line, r in enumerate(records, start=2)
    ]


def _comparable(result: parsing.ChunkResult) -> list[Any]:
    """The chunk's rows without what is random (ids, ciphertexts)."""
    out: list[Any] = [sorted(result.rejected.items())]
    for h in result.households:
        out.append((h.number, h.first_line, h.household[1:]))
        for m in h.members:
            assert isinstance(m, MemberValues)
            person = dict(zip(PERSON_COLUMNS, m.person, strict=True))
            for random_value in ("id", "household_id", "individual_number_enc"):
                del person[random_value]
            facts = slice(3, 2 + len(FACT_FIELDS))  # after the household (random), with the dates
            versions = [v[facts] + v[2 + len(FACT_FIELDS) + 2 :] for v in m.versions]
            out.append((m.line, m.bidx, person, versions))
    return out


def test_packed_records_are_read_by_column_name_in_any_column_order() -> None:
    """A file's columns in another order, optional ones left out, give the same rows; a damaged
    row is refused with the same reasons."""
    records = _records(400, 3)
    for r in records:  # the columns the second file leaves out
        r["通称"] = r["通称カナ"] = r["在留カード等番号"] = ""
    records[5]["生年月日"] = "1980-02-30"
    records[9]["性別"] = "男性"
    parsing.install(
        ParseSetup(
            parse=CTX, cipher=FieldCipher("141003", (1, os.urandom(32))),
            indexer=BlindIndexer("141003", os.urandom(32)), now=NOW,
        )
    )  # fmt: skip
    standard = list(COLUMN_NAMES)
    other = [c for c in reversed(COLUMN_NAMES) if c not in ("通称", "通称カナ", "在留カード等番号")]
    first = parsing.parse_chunk(_packed(records, standard), "C" * 32, standard)
    second = parsing.parse_chunk(_packed(records, other), "C" * 32, other)
    assert len(first.households) > 100
    assert {7, 11} <= set(first.rejected)
    assert _comparable(first) == _comparable(second)
