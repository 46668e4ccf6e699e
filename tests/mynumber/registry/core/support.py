"""Helpers of the registry service tests (the fixtures are in conftest.py)."""

from __future__ import annotations

import secrets
import uuid
from datetime import UTC, date, datetime
from typing import Any

from jichitai.mynumber.registry.service import ChangeResult, Correction, MoveIn, NewPerson, RegistryService
from jichitai.platform.context import TenantContext
from jichitai.platform.identifiers import individual_number_check_digit
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
