"""Helpers of the issuance and screen tests: registering households through the registry service."""

from __future__ import annotations

import secrets
import uuid
from datetime import UTC, date, datetime

from jichitai.mynumber.registry.service import ChangeResult, MoveIn, NewPerson, RegistryService
from jichitai.platform.identifiers import individual_number_check_digit
from tests.conftest import ctx

NOW = datetime(2026, 11, 26, 1, 0, tzinfo=UTC)  # 2026-11-26 10:00 JST: 令和8年11月26日
ISSUE_DAY_JA = "令和8年11月26日"
ADDRESS = "東京都千代田区一番町"


def my_number() -> str:
    body = f"{secrets.randbelow(10**11):011d}"
    return body + str(individual_number_check_digit(body))


def register_family(
    svc: RegistryService, surname: str, kana: str, *, children: int = 1, on: date = date(2020, 4, 1)
) -> tuple[ChangeResult, list[str]]:
    """A household moving in: head, wife and ``children`` children; returns the result and 個人番号."""
    numbers = [my_number() for _ in range(2 + children)]
    given = [("太郎", "タロウ", "1"), ("花子", "ハナコ", "2")] + [
        (
            f"{'一二三四五六七八'[i]}郎",
            f"{('イチ', 'ジ', 'サブ', 'シ', 'ゴ', 'ロク', 'シチ', 'ハチ')[i]}ロウ",
            "1",
        )
        for i in range(children)
    ]
    persons = tuple(
        NewPerson(
            name=f"{surname}　{g}",
            name_kana=f"{kana}　{gk}",
            birth_date=date(1980, 5, 1) if i == 0 else date(1982, 7, 7) if i == 1 else date(2010 + i, 3, 3),
            sex=sex,
            relationship="世帯主" if i == 0 else "妻" if i == 1 else "子",
            individual_number=numbers[i],
            honseki="東京都千代田区千代田1番",
            hittosha=f"{surname}　太郎",
        )
        for i, (g, gk, sex) in enumerate(given)
    )
    result = svc.submit(
        ctx("registry.change.record"),
        MoveIn(
            idempotency_key=uuid.uuid4().hex,
            event_date=on,
            notified_on=on,
            persons=persons,
            address=f"{ADDRESS}{secrets.randbelow(9000) + 100}番地",
            previous_address="大阪府大阪市北区梅田1-1-1",
        ),
    )
    return result, numbers
