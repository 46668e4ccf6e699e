"""Helpers of the child allowance tests: families in the registry, claims through intake, the outbox."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from jichitai.contracts.transfer import AcceptedApplication, CaseResult, MessageType
from jichitai.mynumber.child_allowance import purposes
from jichitai.mynumber.intake.service import handle_accepted_application
from jichitai.mynumber.registry.service import Birth, MoveIn, NewPerson, RegistryService
from jichitai.platform.context import TenantContext
from jichitai.platform.messaging import new_envelope, pending
from jichitai.platform.messaging.inbox import ReceiveOutcome, deliver
from jichitai.platform.messaging.purposes import MESSAGING_TRANSFER
from jichitai.platform.storage import Storage
from jichitai.platform.zones import Zone
from tests.conftest import ctx, staff

NOW = datetime(2025, 6, 2, 3, 0, tzinfo=UTC)  # 2025-06-02 12:00 JST
TENANT = "131016"


def clerk_ctx() -> TenantContext:
    return ctx(purposes.CASE_PROCESS.code, actor=staff("ca-clerk", "child_allowance_clerk"))


def change_ctx() -> TenantContext:
    return ctx("registry.change.record")


def key() -> str:
    return uuid.uuid4().hex


_KANJI = "山川田中林森本村井木上下大小石松竹梅桜原野沢島岡橋谷藤池宮"
_KANA = "ヤカタナハモホムイキウシオコセマチメサハノサシオハタフイミ"


@dataclass(frozen=True)
class Family:
    head: str  # 統合宛名番号 of the claimant (世帯主)
    wife: str
    children: tuple[str, ...]
    household: str
    surname: str
    child_names: tuple[tuple[str, str, date], ...]  # name, kana, birth date


def move_in_family(
    registry: RegistryService,
    *,
    children: tuple[date, ...] = (date(2015, 3, 3),),
    on: date | None = None,
) -> Family:
    """A household (head, wife, children) moving in; names unique to the test."""
    on = on or max(date(2020, 4, 1), *children)
    picks = [secrets.randbelow(len(_KANJI)) for _ in range(3)]
    surname = "".join(_KANJI[i] for i in picks)
    kana = "".join(_KANA[i] for i in picks)
    names = tuple(
        (f"{surname}　{given}", f"{kana}　{given_kana}", born)
        for (given, given_kana), born in zip(
            [("一郎", "イチロウ"), ("二郎", "ジロウ"), ("三郎", "サブロウ"), ("四郎", "シロウ")],
            children,
            strict=False,
        )
    )
    persons = [
        NewPerson(f"{surname}　太郎", f"{kana}　タロウ", date(1985, 5, 1), "1", "世帯主"),
        NewPerson(f"{surname}　花子", f"{kana}　ハナコ", date(1987, 7, 7), "2", "妻"),
        *[NewPerson(n, k, b, "1", "子") for n, k, b in names],
    ]
    result = registry.submit(
        change_ctx(),
        MoveIn(
            idempotency_key=key(),
            event_date=on,
            notified_on=on,
            persons=tuple(persons),
            address=f"東京都千代田区一番町{secrets.randbelow(9000) + 100}番地",
            previous_address="大阪府大阪市北区梅田1-1-1",
        ),
    )
    numbers = result.atena_numbers
    return Family(numbers[0], numbers[1], tuple(numbers[2:]), result.household_numbers[0], surname, names)


def add_birth(registry: RegistryService, family: Family, born: date, given: str = "五郎") -> str:
    result = registry.submit(
        change_ctx(),
        Birth(
            idempotency_key=key(),
            event_date=born,
            notified_on=born,
            household_number=family.household,
            child=NewPerson(f"{family.surname}　{given}", "ヤマダ　ゴロウ", born, "1", "子"),
        ),
    )
    return result.atena_numbers[0]


ACCOUNT = {
    "bank_name": "みずほ銀行",
    "bank_code": "0001",
    "branch_name": "東京営業部",
    "branch_code": "001",
    "account_type": "普通",
    "account_number": "1234567",
    "account_holder_kana": "ﾔﾏﾀﾞ ﾀﾛｳ",
}


def claim_form(
    family: Family,
    *,
    children: tuple[tuple[str, str, date], ...] | None = None,
    reason: str = "その他",
    event_date: date | None = None,
    account: dict[str, str] | None = None,
    public_fund: bool = False,
    apart: tuple[int, ...] = (),
) -> dict[str, Any]:
    kids = family.child_names if children is None else children
    claim: dict[str, Any] = {"reason": reason}
    if event_date is not None:
        claim["event_date"] = event_date.isoformat()
    return {
        "claimant": {
            "name": f"{family.surname} 太郎",
            "kana": "ヤマダ タロウ",
            "birth_date": "1985-05-01",
            "individual_number": "123456789018",
            "postal_code": "102-0082",
            "address": "東京都千代田区一番町",
            "phone": "03-1234-5678",
            "pension_type": "厚生年金",
            "is_public_servant": False,
        },
        "spouse": {"has_spouse": True, "name": f"{family.surname} 花子", "living_arrangement": "同居"},
        "claim": claim,
        "children": [
            {
                "name": n,
                "kana": k,
                "birth_date": b.isoformat(),
                "relationship": "子",
                "living_arrangement": "別居" if i in apart else "同居",
            }
            for i, (n, k, b) in enumerate(kids)
        ],
        "payee": {
            "use_public_fund_account": public_fund,
            **({} if public_fund else {"bank_account": account or ACCOUNT}),
        },
        "consent_public_records": True,
        "declaration": True,
    }


def application(
    form: dict[str, Any],
    atena: str | None,
    *,
    procedure_id: str = "child_allowance_claim",
    receiving_system: str = "child_allowance",
    accepted_at: datetime = NOW,
) -> AcceptedApplication:
    return AcceptedApplication(
        receipt_number=f"R{secrets.token_hex(6).upper()}",
        tenant=TENANT,
        procedure_id=procedure_id,
        procedure_version="1",
        receiving_system=receiving_system,
        form=form,
        applicant_atena_number=atena,
        signer_serial="0A1B2C",
        accepted_by="lgwan:clerk",
        accepted_at=accepted_at,
    )


def linkage_ctx() -> TenantContext:
    from jichitai.platform.context import system

    return TenantContext.of(TENANT, system("linkage-server", "linkage"), MESSAGING_TRANSFER.code)


def deliver_application(
    storage: Storage, app: AcceptedApplication, *, message_id: str | None = None
) -> ReceiveOutcome:
    """Deliver as the linkage server would; the message id defaults to one per receipt number."""
    envelope = new_envelope(
        MessageType.ACCEPTED_APPLICATION,
        source=Zone.LGWAN,
        destination=Zone.MYNUMBER,
        tenant=TENANT,
        payload=app,
        message_id=message_id or f"msg-{app.receipt_number}",
    )
    return deliver(storage, linkage_ctx(), Zone.MYNUMBER, envelope, handle_accepted_application)


def case_results(storage: Storage, receipt_number: str) -> list[CaseResult]:
    with storage.unit_of_work(linkage_ctx(), Zone.MYNUMBER) as uow:
        envelopes = pending(uow, limit=500)
    return [
        CaseResult.model_validate(e.payload)
        for e in envelopes
        if e.message_type is MessageType.CASE_RESULT and e.payload.get("receipt_number") == receipt_number
    ]


def case_id_of(storage: Storage, receipt_number: str) -> str:
    from sqlalchemy import select

    from jichitai.mynumber.child_allowance.models import Case

    with storage.unit_of_work(clerk_ctx(), Zone.MYNUMBER) as uow:
        found = uow.session.scalar(select(Case.id).where(Case.receipt_number == receipt_number))
    assert found is not None
    return found
