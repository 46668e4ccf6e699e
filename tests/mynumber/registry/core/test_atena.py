"""Addressee numbers (統合宛名): numbering, non-residents, business numbers, serial links, link table."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from jichitai.mynumber.atena.service import (
    AtenaConflict,
    AtenaService,
    BasicFacts,
    atena_check_digit,
    format_atena_number,
    format_atena_numbers,
    is_valid_atena_number,
)
from jichitai.mynumber.registry.service import MoveIn, NameChange, RegistryService
from jichitai.platform.audit.log import AuditFilter, list_entries
from jichitai.platform.storage import Storage
from jichitai.platform.zones import Zone
from tests.conftest import ctx
from tests.mynumber.registry.core.support import (
    ADDRESS,
    block,
    move_in_family,
    my_number,
    person,
    read_ctx,
    submit,
)

MANAGE = "atena.person.manage"


@pytest.fixture
def atena(reg_storage: Storage) -> AtenaService:
    return AtenaService(reg_storage)


def test_number_format_and_check_digit() -> None:
    assert atena_check_digit("7992739871") == 3  # the classic Luhn example
    assert is_valid_atena_number("000000000000018")
    assert not is_valid_atena_number("000000000000019")  # wrong check digit
    assert not is_valid_atena_number("00000000000001")  # 14 digits


@pytest.mark.parametrize(
    ("first", "count"), [(1, 12_000), (9_990, 25), (123_456_789, 30_000), (10**14 - 3, 3)]
)
def test_numbers_drawn_in_bulk_are_the_numbers_drawn_one_by_one(first: int, count: int) -> None:
    numbers = format_atena_numbers(first, count)
    assert numbers == [format_atena_number(n) for n in range(first, first + count)]
    assert all(is_valid_atena_number(n) for n in numbers[:: max(1, count // 500)])
    with pytest.raises(ValueError, match="exhausted"):
        format_atena_numbers(10**14 - 1, 2)


def test_assigned_on_first_registration_and_unique(svc: RegistryService) -> None:
    result, _ = move_in_family(svc, "番号", "バンゴウ")
    assert all(is_valid_atena_number(a) for a in result.atena_numbers)
    assert len(set(result.atena_numbers)) == 3


def test_non_resident_keeps_number_when_moving_in(atena: AtenaService, svc: RegistryService) -> None:
    number = my_number()
    facts = BasicFacts(
        "住登外　納税", "ジュウトウガイ　ノウゼイ", date(1975, 5, 5), "大阪府大阪市北区梅田1-1", "1"
    )
    outsider = atena.register_non_resident(ctx(MANAGE), facts, individual_number=number)
    assert atena.get(ctx("atena.person.read"), outsider).kind == "non_resident"
    assert atena.resolve_individual_number(ctx("atena.person.read"), number) == outsider
    with pytest.raises(AtenaConflict):
        atena.register_non_resident(ctx(MANAGE), facts, individual_number=number)
    moved = submit(
        svc,
        MoveIn,
        date(2024, 4, 1),
        date(2024, 4, 1),
        persons=(
            person(
                "住登外　納税",
                "ジュウトウガイ　ノウゼイ",
                date(1975, 5, 5),
                "世帯主",
                individual_number=number,
            ),
        ),
        address=f"{ADDRESS}{block()}",
        previous_address="大阪府大阪市北区梅田1-1",
    )
    assert moved.atena_numbers == (outsider,)
    view = atena.get(ctx("atena.person.read"), outsider)
    assert view.kind == "resident" and view.address.startswith("東京都千代田区")


def test_business_numbers(atena: AtenaService) -> None:
    facts = BasicFacts("業務　宛名", "ギョウム　アテナ", date(1980, 1, 1), "大阪府堺市堺区1-1")
    a = atena.register_non_resident(ctx(MANAGE), facts)
    b = atena.register_non_resident(ctx(MANAGE), facts)
    atena.link_business_number(ctx(MANAGE), a, "resident_tax", "RT-0001")
    atena.link_business_number(ctx(MANAGE), a, "child_allowance", "CA-9")
    assert atena.business_numbers(ctx("atena.person.read"), a) == {
        "resident_tax": "RT-0001",
        "child_allowance": "CA-9",
    }
    assert atena.resolve_business_number(ctx("atena.person.read"), "resident_tax", "RT-0001") == a
    with pytest.raises(AtenaConflict):
        atena.link_business_number(ctx(MANAGE), b, "resident_tax", "RT-0001")
    atena.link_business_number(ctx(MANAGE), a, "resident_tax", "RT-0002")  # renumbered: the old one ends
    assert atena.business_numbers(ctx("atena.person.read"), a)["resident_tax"] == "RT-0002"
    assert atena.resolve_business_number(ctx("atena.person.read"), "resident_tax", "RT-0001") is None


def test_serial_link_history_on_renewal(atena: AtenaService, svc: RegistryService) -> None:
    result, _ = move_in_family(svc, "証明", "ショウメイ", with_child=False)
    head = result.atena_numbers[0]
    link = "atena.serial_link.manage"
    atena.link_serial(ctx(link), head, "0a1b2c", "signing", date(2021, 4, 1))
    atena.link_serial(ctx(link), head, "3D4E", "authentication", date(2021, 4, 1))
    atena.link_serial(ctx(link), head, "ff01", "signing", date(2026, 4, 1))  # renewed card
    history = atena.serial_history(ctx("atena.person.read"), head)
    signing = [(s, f, t) for s, u, f, t in history if u == "signing"]
    assert signing == [("A1B2C", date(2021, 4, 1), date(2026, 4, 1)), ("FF01", date(2026, 4, 1), None)]
    read = ctx("atena.person.read")
    assert atena.identify_by_serial(read, "a1b2c", on=date(2022, 1, 1)) == head
    assert atena.identify_by_serial(read, "A1B2C") is None  # no longer current
    assert atena.identify_by_serial(read, "FF01", use="signing") == head
    other, _ = move_in_family(svc, "他人", "タニン", with_child=False)
    with pytest.raises(AtenaConflict):
        atena.link_serial(ctx(link), other.atena_numbers[0], "FF01", "signing", date(2026, 5, 1))


def test_link_table_export_has_no_individual_number(
    atena: AtenaService, svc: RegistryService, reg_storage: Storage
) -> None:
    number = my_number()
    result = submit(
        svc,
        MoveIn,
        date(2023, 4, 1),
        date(2023, 4, 1),
        persons=(
            person("紐付　太郎", "ヒモヅケ　タロウ", date(1985, 1, 1), "世帯主", individual_number=number),
        ),
        address=f"{ADDRESS}{block()}",
        previous_address="大阪府堺市堺区1-1",
    )
    who = result.atena_numbers[0]
    atena.link_serial(ctx("atena.serial_link.manage"), who, "C0FFEE", "signing", date(2023, 5, 1))
    table = atena.export_link_table(ctx("atena.link_table.export"))
    assert table.full and table.tenant == "131016"
    row = next(r for r in table.rows if r.serial == "C0FFEE")
    assert row.integrated_atena_number == who and row.name == "紐付　太郎" and row.valid_to is None
    text = table.model_dump_json()
    assert number not in text and "individual" not in text
    # a change of the person's facts brings the row into the next delta export
    mark = datetime.now(UTC)
    assert all(
        r.serial != "C0FFEE" for r in atena.export_link_table(ctx("atena.link_table.export"), since=mark).rows
    )
    submit(
        svc,
        NameChange,
        date(2024, 1, 1),
        None,
        atena_number=who,
        name="紐付　太朗",
        name_kana="ヒモヅケ　タロウ",
    )
    delta = atena.export_link_table(ctx("atena.link_table.export"), since=mark)
    assert not delta.full and [(r.serial, r.name) for r in delta.rows] == [("C0FFEE", "紐付　太朗")]
    with reg_storage.unit_of_work(ctx("platform.audit.review"), Zone.MYNUMBER) as uow:
        exports = list_entries(uow.session, AuditFilter(object_type="atena.link_table")).entries
    # the explicit exports carry their purpose; the deltas queued with each change carry the change's
    assert len([e for e in exports if e.purpose == "atena.link_table.export"]) >= 2
    assert {e.purpose for e in exports} <= {"atena.link_table.export", "atena.serial_link.manage",
                                            "registry.change.record"}  # fmt: skip
    assert svc.person(read_ctx(), who).name == "紐付　太朗"
