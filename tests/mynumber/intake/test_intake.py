"""Intake routing and the generic case inbox: outcome recorded by hand → CaseResult in the outbox."""

from __future__ import annotations

import pytest

from jichitai.contracts.transfer import MessageType
from jichitai.mynumber.intake import purposes
from jichitai.mynumber.intake.service import IntakeService, handle_accepted_application, handlers
from jichitai.platform.context import TenantContext
from jichitai.platform.errors import Conflict, PermissionDenied, ValidationError
from jichitai.platform.messaging.envelope import new_envelope
from jichitai.platform.messaging.inbox import ReceiveOutcome, deliver
from jichitai.platform.storage import Storage
from jichitai.platform.zones import Zone
from tests.conftest import ctx, staff
from tests.mynumber.child_allowance.support import (
    TENANT,
    application,
    case_results,
    deliver_application,
    linkage_ctx,
)

FORM = {
    "applicant": {"name": "佐藤　一郎", "kana": "サトウ　イチロウ"},
    "damage": {"level": "半壊", "address": "東京都千代田区一番町1番地"},
}


def generic_ctx() -> TenantContext:
    return ctx(purposes.GENERIC_CASE.code, actor=staff("gen-clerk", "generic_clerk"))


def test_generic_case_outcome_flows_back(intake_storage: Storage) -> None:
    app = application(
        FORM,
        "000000000000017",
        procedure_id="disaster_victim_certificate",
        receiving_system="disaster_support",
    )
    assert deliver_application(intake_storage, app) is ReceiveOutcome.RECEIVED
    svc = IntakeService(intake_storage)
    inbox = svc.inbox(generic_ctx())
    (row,) = [r for r in inbox.rows if r.receipt_number == app.receipt_number]
    assert row.applicant_name == "佐藤　一郎" and row.procedure_name == "罹災証明書の発行申請"
    assert inbox.by_procedure["disaster_victim_certificate"][1] >= 1
    detail = svc.case(generic_ctx(), row.id)
    assert detail.form["damage"]["level"] == "半壊"

    with pytest.raises(ValidationError):
        svc.record_outcome(generic_ctx(), row.id, "completed", "   ")
    done = svc.record_outcome(generic_ctx(), row.id, "completed", "罹災証明書を郵送しました。")
    assert done.status == "done"
    (result,) = case_results(intake_storage, app.receipt_number)
    assert (result.status, result.outcome, result.business) == ("completed", "completed", "disaster_support")
    assert result.message_ja == "罹災証明書を郵送しました。"
    with pytest.raises(Conflict):
        svc.record_outcome(generic_ctx(), row.id, "rejected", "二重")
    assert all(r.id != row.id for r in svc.inbox(generic_ctx()).rows)


def test_child_allowance_goes_to_its_own_inbox_and_purpose_is_checked(intake_storage: Storage) -> None:
    app = application({"claimant": {"name": "鈴木　花子"}, "children": []}, None)
    deliver_application(intake_storage, app)
    svc = IntakeService(intake_storage)
    assert all(r.receipt_number != app.receipt_number for r in svc.inbox(generic_ctx(), status=None).rows)
    with pytest.raises(PermissionDenied):
        svc.inbox(ctx("registry.person.read"))
    assert set(handlers()) == {MessageType.ACCEPTED_APPLICATION}


def test_a_payload_outside_the_contract_is_refused_as_such(intake_storage: Storage) -> None:
    """An accepted_application whose payload is not one (its hash right) used to raise pydantic's own
    error out of the handler, a server error at the intake endpoint; it is refused like the LGWAN
    handlers refuse theirs."""
    envelope = new_envelope(
        MessageType.ACCEPTED_APPLICATION, source=Zone.LGWAN, destination=Zone.MYNUMBER, tenant=TENANT,
        payload={"receipt_number": "x"}, message_id="msg-not-a-contract",
    )  # fmt: skip
    with pytest.raises(ValidationError) as refused:
        deliver(intake_storage, linkage_ctx(), Zone.MYNUMBER, envelope, handle_accepted_application)
    assert refused.value.message_ja == "連携データの形式が正しくありません"
