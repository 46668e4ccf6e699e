"""A claim through intake → case → certify → amounts → CaseResult; and the refusals."""

from __future__ import annotations

from datetime import date

import pytest

from jichitai.mynumber.child_allowance.errors import CaseAlreadyDecided, CertificationRefused
from jichitai.mynumber.child_allowance.service import CertifyOptions, ChildAllowanceService
from jichitai.mynumber.registry.service import MoveOut, RegistryService
from jichitai.platform.errors import Conflict
from jichitai.platform.messaging.inbox import ReceiveOutcome
from jichitai.platform.storage import Storage
from tests.mynumber.child_allowance.support import (
    add_birth,
    application,
    case_id_of,
    case_results,
    change_ctx,
    claim_form,
    clerk_ctx,
    deliver_application,
    key,
    move_in_family,
)


def test_claim_through_intake_is_certified_with_amounts_and_result(
    ca_storage: Storage, registry: RegistryService, ca: ChildAllowanceService
) -> None:
    family = move_in_family(registry, children=(date(2015, 3, 3), date(2024, 1, 10)))
    app = application(claim_form(family), family.head)
    assert deliver_application(ca_storage, app) is ReceiveOutcome.RECEIVED
    assert deliver_application(ca_storage, app) is ReceiveOutcome.DUPLICATE  # same message id again: nothing
    with pytest.raises(Conflict):  # the same 受付番号 under another message id
        deliver_application(ca_storage, app, message_id="another-id")
    case_id = case_id_of(ca_storage, app.receipt_number)

    inbox = ca.inbox(clerk_ctx())
    assert any(r.receipt_number == app.receipt_number for r in inbox.rows)
    assert inbox.by_kind.get("claim", 0) >= 1
    facts = ca.registry_facts(clerk_ctx(), case_id)
    assert facts.claimant is not None and facts.claimant.atena_number == family.head
    assert [m.record.atena_number for m in facts.children if m.record] == list(family.children)

    decision = ca.certify(clerk_ctx(), case_id)
    assert decision.outcome == "certified"
    # claimed 2025-06-02 → paid from July 2025 (令和7年7月)
    assert "令和7年7月分から" in decision.message_ja
    detail = ca.recipient(clerk_ctx(), decision.recipient_id or "")
    assert detail.start_month == "令和7年7月"
    # born 2024-01-10: under 3 until January 2027 → 15,000; the 10-year-old 10,000
    first = detail.amounts[0]
    assert (first.first, first.amount) == ("令和7年7月", 25_000)
    reasons = {line["name"]: line["reason"] for line in first.lines}
    assert set(reasons.values()) == {"under_three", "from_three"}
    # the next period starts when the younger child turns 3: February 2027, 20,000
    assert detail.amounts[1].first == "令和9年2月" and detail.amounts[1].amount == 20_000
    assert detail.versions and detail.versions[0][1] == "certified"

    results = case_results(ca_storage, app.receipt_number)
    assert len(results) == 1
    assert results[0].status == "decided" and results[0].outcome == "certified"
    assert results[0].message_ja.startswith("認定しました。支給開始月: 令和7年7月分から")
    assert results[0].details["monthly_amount"] == 25_000

    with pytest.raises(CaseAlreadyDecided):
        ca.certify(clerk_ctx(), case_id)


def test_fifteen_day_rule_for_a_birth(
    ca_storage: Storage, registry: RegistryService, ca: ChildAllowanceService
) -> None:
    born = date(2025, 5, 25)
    family = move_in_family(registry, children=(date(2019, 9, 9),))
    born_atena = add_birth(registry, family, born)
    assert born_atena
    kids = (*family.child_names, (f"{family.surname}　五郎", "ヤマダ　ゴロウ", born))
    app = application(claim_form(family, children=kids, reason="出生", event_date=born), family.head)
    deliver_application(ca_storage, app)
    decision = ca.certify(clerk_ctx(), case_id_of(ca_storage, app.receipt_number))
    # claimed on 2 June, within 15 days of the birth on 25 May → from June
    assert "令和7年6月分から" in decision.message_ja


def test_refusals_are_all_reported_and_nothing_is_written(
    ca_storage: Storage, registry: RegistryService, ca: ChildAllowanceService
) -> None:
    family = move_in_family(registry)
    ghost = ("存在　しない子", "ソンザイ　シナイコ", date(2016, 1, 1))
    bad_account = {**claim_form(family)["payee"]["bank_account"], "account_number": "12AB"}
    app = application(
        claim_form(family, children=(*family.child_names, ghost), account=bad_account), family.head
    )
    deliver_application(ca_storage, app)
    case_id = case_id_of(ca_storage, app.receipt_number)
    with pytest.raises(CertificationRefused) as refused:
        ca.certify(clerk_ctx(), case_id)
    text = "／".join(refused.value.reasons)
    assert "住民記録に見つかりません" in text
    assert "口座番号" in text
    assert ca.case(clerk_ctx(), case_id).case.status == "open"
    assert ca.find_recipients(clerk_ctx(), atena_number=family.head) == []
    assert case_results(ca_storage, app.receipt_number) == []


def test_overlapping_certification_for_the_same_child_is_refused(
    ca_storage: Storage, registry: RegistryService, ca: ChildAllowanceService
) -> None:
    family = move_in_family(registry)
    first = application(claim_form(family), family.head)
    deliver_application(ca_storage, first)
    ca.certify(clerk_ctx(), case_id_of(ca_storage, first.receipt_number))
    # the mother claims the same child
    second = application(claim_form(family), family.wife)
    deliver_application(ca_storage, second)
    with pytest.raises(CertificationRefused) as refused:
        ca.certify(clerk_ctx(), case_id_of(ca_storage, second.receipt_number))
    assert any("既に他の受給者" in r for r in refused.value.reasons)


def test_non_resident_claimant_is_refused(
    ca_storage: Storage, registry: RegistryService, ca: ChildAllowanceService
) -> None:
    family = move_in_family(registry)
    registry.submit(
        change_ctx(),
        MoveOut(
            idempotency_key=key(),
            event_date=date(2025, 5, 20),
            notified_on=date(2025, 5, 20),
            persons=(family.head,),
            destination="大阪府大阪市北区梅田1-1-1",
            remaining_head=family.wife,
            remaining_relationships={family.children[0]: "子"},
        ),
    )
    app = application(claim_form(family), family.head)
    deliver_application(ca_storage, app)
    with pytest.raises(CertificationRefused) as refused:
        ca.certify(clerk_ctx(), case_id_of(ca_storage, app.receipt_number))
    assert any("住所が本市区町村にありません" in r for r in refused.value.reasons)


def test_child_living_apart_needs_the_statement(
    ca_storage: Storage, registry: RegistryService, ca: ChildAllowanceService
) -> None:
    family = move_in_family(registry)
    other = move_in_family(registry, children=(date(2018, 8, 8),))
    # the claimant also looks after a child registered in another household, living apart
    app = application(
        claim_form(family, children=(*family.child_names, other.child_names[0]), apart=(1,)), family.head
    )
    deliver_application(ca_storage, app)
    case_id = case_id_of(ca_storage, app.receipt_number)
    with pytest.raises(CertificationRefused) as refused:
        ca.certify(clerk_ctx(), case_id)
    assert any("別居監護申立書" in r for r in refused.value.reasons)
    decision = ca.certify(clerk_ctx(), case_id, CertifyOptions(apart_statements=frozenset({1})))
    detail = ca.recipient(clerk_ctx(), decision.recipient_id or "")
    assert [c.lives_apart for c in detail.children] == [False, True]  # by birth date: 2015, 2018


def test_reject_sends_the_reason(
    ca_storage: Storage, registry: RegistryService, ca: ChildAllowanceService
) -> None:
    family = move_in_family(registry)
    app = application(claim_form(family), family.head)
    deliver_application(ca_storage, app)
    decision = ca.reject(
        clerk_ctx(), case_id_of(ca_storage, app.receipt_number), "同一児童について配偶者が受給中のため"
    )
    assert decision.outcome == "rejected"
    (result,) = case_results(ca_storage, app.receipt_number)
    assert result.status == "rejected" and "配偶者が受給中" in result.message_ja
