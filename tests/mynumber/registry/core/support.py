"""Helpers of the registry service tests (the fixtures are in conftest.py)."""

from __future__ import annotations

import csv
import secrets
import uuid
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from jichitai.mynumber.registry.errors import RegistryRefusal
from jichitai.mynumber.registry.interchange import ParseContext, ResidentRow, parse_row
from jichitai.mynumber.registry.migration.exporter import ExportOptions, export_file
from jichitai.mynumber.registry.service import (
    ChangeRequest,
    ChangeResult,
    Correction,
    MoveIn,
    NewPerson,
    RegistryService,
)
from jichitai.platform.context import TenantContext
from jichitai.platform.identifiers import individual_number_check_digit
from jichitai.platform.storage import Storage
from tests.conftest import ctx

NOW = datetime(2025, 6, 2, 3, 0, tzinfo=UTC)  # 2025-06-02 12:00 JST
TODAY = date(2025, 6, 2)
ADDRESS = "東京都千代田区一番町"


def change_ctx() -> TenantContext:
    return ctx("registry.change.record")


def read_ctx() -> TenantContext:
    return ctx("registry.person.read")


def key() -> str:
    return uuid.uuid4().hex


def submit(
    svc: RegistryService, kind: type[ChangeRequest], on: date, notified: date | None, **fields: Any
) -> ChangeResult:
    """Record a change of ``kind`` (異動日 ``on``, 届出日 ``notified``) under a fresh key."""
    return svc.submit(
        change_ctx(), kind(idempotency_key=key(), event_date=on, notified_on=notified, **fields)
    )


def refusal(
    svc: RegistryService, kind: type[ChangeRequest], on: date, notified: date | None, **fields: Any
) -> tuple[str, ...]:
    """The reasons the registry gives for refusing a change of ``kind`` (it must refuse it)."""
    with pytest.raises(RegistryRefusal) as exc:
        submit(svc, kind, on, notified, **fields)
    return exc.value.reasons


def correct(svc: RegistryService, atena_number: str, on: date, **fields: Any) -> ChangeResult:
    """A 職権修正 of ``fields`` from ``on`` (reason 誤記)."""
    return svc.submit(
        change_ctx(),
        Correction(
            idempotency_key=key(),
            event_date=on,
            notified_on=None,
            atena_number=atena_number,
            fields=fields,
            reason="誤記",
        ),
    )


def my_number() -> str:
    body = f"{secrets.randbelow(10**11):011d}"
    return body + str(individual_number_check_digit(body))


def block() -> str:
    """A fresh 番地 so that each test's households live at their own address."""
    return f"{secrets.randbelow(9000) + 100}番地"


def person(
    name: str, kana: str, birth: date, rel: str, sex: str = "1", *, individual_number: str | None = None
) -> NewPerson:
    return NewPerson(
        name=name,
        name_kana=kana,
        birth_date=birth,
        sex=sex,
        relationship=rel,
        individual_number=individual_number,
    )


def move_in_family(
    svc: RegistryService,
    surname: str = "山田",
    kana: str = "ヤマダ",
    *,
    on: date = date(2020, 4, 1),
    with_child: bool = True,
    address: str | None = None,
) -> tuple[ChangeResult, str]:
    """A household moving in (head, wife, a child); returns the result and the address."""
    address = address or f"{ADDRESS}{block()}"
    persons = [
        person(
            f"{surname}　太郎", f"{kana}　タロウ", date(1980, 5, 1), "世帯主", individual_number=my_number()
        ),
        person(
            f"{surname}　花子",
            f"{kana}　ハナコ",
            date(1982, 7, 7),
            "妻",
            sex="2",
            individual_number=my_number(),
        ),
    ]
    if with_child:
        persons.append(person(f"{surname}　一郎", f"{kana}　イチロウ", date(2015, 3, 3), "子"))
    result = svc.submit(
        change_ctx(),
        MoveIn(
            idempotency_key=key(), event_date=on, notified_on=on, persons=tuple(persons),
            address=address, previous_address="大阪府大阪市北区梅田1-1-1",
        ),
    )  # fmt: skip
    return result, address


def move_in_one(svc: RegistryService, person: NewPerson, **fields: Any) -> str:
    """``person`` moves in alone on 2024-04-01 (``fields`` overlay the 転入届); their 統合宛名番号."""
    result = svc.submit(
        change_ctx(),
        MoveIn(
            idempotency_key=key(),
            event_date=date(2024, 4, 1),
            notified_on=date(2024, 4, 1),
            persons=(person,),
            address=f"{ADDRESS}{block()}",
            **{"previous_address": "大阪府堺市堺区1-1", **fields},
        ),
    )
    return result.atena_numbers[0]


def japanese_head(name: str, kana: str, **fields: Any) -> NewPerson:
    """A Japanese 世帯主, man, born 1970-01-01."""
    return NewPerson(
        name=name, name_kana=kana, birth_date=date(1970, 1, 1), sex="1", relationship="世帯主", **fields
    )


def foreign_head(name: str, kana: str, sex: str, **fields: Any) -> NewPerson:
    """A foreign 世帯主 born 1990-01-01, 永住者 unless ``fields`` say otherwise."""
    return NewPerson(
        name=name,
        name_kana=kana,
        birth_date=date(1990, 1, 1),
        sex=sex,
        relationship="世帯主",
        kind="外国人",
        **{"residence_status": "永住者", **fields},
    )


def exported_row(storage: Storage, atena: str, out: Path) -> ResidentRow:
    """The person's row of the export (with 除票), read back as the import reads it."""
    export_file(storage, ctx("platform.data.export"), out, ExportOptions(today=TODAY, include_removed=True))
    with out.open(encoding="utf-8", newline="") as f:
        record = next(r for r in csv.DictReader(f) if r["統合宛名番号"] == atena)
    parsed = parse_row(
        record, 2, ParseContext(today=TODAY, known_cities=("千代田区",), municipality_prefix="東京都千代田区")
    )
    assert isinstance(parsed, ResidentRow), parsed
    return parsed
