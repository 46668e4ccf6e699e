"""Payment runs: start, exceptions, re-run before approval, approval freezes, Zengin lines, refusals."""

from __future__ import annotations

import csv
import io
from datetime import date

import pytest

from jichitai.mynumber.child_allowance import purposes, zengin
from jichitai.mynumber.child_allowance.claims import Account
from jichitai.mynumber.child_allowance.errors import PaymentRunRefused
from jichitai.mynumber.child_allowance.payment_run import PaymentRunService, TransferSettings
from jichitai.mynumber.child_allowance.rules import (
    FIRST_SIX_PERIOD_PAYMENT,
    REFORM_FIRST_MONTH,
    YearMonth,
    check_run_month,
    regular_payment_month,
)
from jichitai.mynumber.child_allowance.service import AmountChange, ChildAllowanceService, NewChild
from jichitai.mynumber.registry.service import RegistryService
from jichitai.platform.context import TenantContext
from jichitai.platform.errors import ValidationError
from jichitai.platform.storage import Storage
from tests.conftest import ctx, staff
from tests.mynumber.child_allowance.support import (
    NOW,
    add_birth,
    application,
    case_id_of,
    claim_form,
    clerk_ctx,
    deliver_application,
    move_in_family,
)

SETTINGS = TransferSettings(
    requester_code="1234567890",
    requester_name="ﾁﾖﾀﾞｸ",
    bank_code="0005",
    bank_name="ﾐﾂﾋﾞｼUFJ",
    branch_code="123",
    branch_name="ｺｳｼﾞﾏﾁ",
    account_type=1,
    account_number="7654321",
    payment_day=10,
)


def run_ctx() -> TenantContext:
    return ctx(purposes.PAYMENT_RUN.code, actor=staff("ca-clerk", "child_allowance_clerk"))


def certified(
    ca_storage: Storage, registry: RegistryService, ca: ChildAllowanceService, **form: object
) -> str:
    family = move_in_family(registry)
    app = application(claim_form(family, **form), family.head)  # type: ignore[arg-type]
    deliver_application(ca_storage, app)
    decision = ca.certify(clerk_ctx(), case_id_of(ca_storage, app.receipt_number))
    assert decision.recipient_id is not None
    return decision.recipient_id


def test_run_freeze_rerun_approve_and_transfer_file(
    ca_storage: Storage, registry: RegistryService, ca: ChildAllowanceService
) -> None:
    runs = PaymentRunService(ca_storage, clock=lambda: NOW)
    runs.configure(run_ctx(), SETTINGS)
    paid = certified(ca_storage, registry, ca)  # from July 2025, one child aged 10: 10,000 a month
    held = certified(ca_storage, registry, ca, public_fund=True)

    august = YearMonth(2025, 8)
    summary = runs.start(run_ctx(), august)
    assert summary.status == "computed"
    assert summary.transfer_date == date(2025, 8, 8)  # 10 August 2025 is a Sunday, 11 August a holiday
    (item,) = runs.items(run_ctx(), summary.id, recipient_id=paid)
    assert (item.amount, item.months, item.transfer) == (10_000, "令和7年7月", True)
    (pending,) = runs.items(run_ctx(), summary.id, recipient_id=held)
    assert pending.transfer is False and pending.exception == "public_fund_pending"
    assert summary.exceptions.get("public_fund_pending", 0) >= 1

    with pytest.raises(PaymentRunRefused) as twice:
        runs.start(run_ctx(), august)
    assert "既に開始されています" in (twice.value.message_ja or "")
    with pytest.raises(PaymentRunRefused):
        runs.transfer_file(run_ctx(), summary.id)  # not before approval

    # the 公金受取口座 is confirmed; a re-run before approval takes it in
    account = Account("0009", "", "456", "", 1, "7777777", "ﾔﾏﾀﾞ ﾊﾅｺ")
    ca.change_account(clerk_ctx(), held, account, public_fund=True)
    rerun = runs.rerun(run_ctx(), summary.id)
    assert rerun.runs == 2 and rerun.transfer_count == summary.transfer_count + 1
    approved = runs.approve(run_ctx(), summary.id)
    assert approved.status == "approved" and approved.file_sha256

    data = runs.transfer_file(run_ctx(), summary.id)
    number = ca.recipient(clerk_ctx(), paid).recipient_number
    fields = zengin.read_fields(data)
    header, trailer = fields[0], fields[-2]
    assert header["kind"] == "21" and header["requester_code"] == "1234567890"
    assert header["transfer_date"] == "0808" and header["bank_code"] == "0005"
    line = next(f for f in fields if f["record_type"] == "2" and f["customer_code_1"] == number)
    assert line["bank_code"] == "0001" and line["branch_code"] == "001"
    assert line["account_type"] == "1" and line["account_number"] == "1234567"
    assert line["payee_name"] == "ﾔﾏﾀﾞ ﾀﾛｳ".ljust(30)
    assert line["amount"] == "0000010000" and line["transfer_class"] == "7"
    parsed = zengin.parse_transfer_file(data, year=2025)
    assert parsed.total_count == approved.transfer_count == int(trailer["total_count"])
    assert parsed.total_amount == approved.transfer_amount

    # after approval: edits do not change the run; it cannot be re-run or approved again
    ca.change_account(clerk_ctx(), paid, Account("0001", "", "002", "", 1, "1111111", "ﾔﾏﾀﾞ ﾀﾛｳ"))
    assert runs.transfer_file(run_ctx(), summary.id) == data
    with pytest.raises(PaymentRunRefused):
        runs.rerun(run_ctx(), summary.id)
    with pytest.raises(PaymentRunRefused):
        runs.approve(run_ctx(), summary.id)
    assert ca.recipient(clerk_ctx(), paid).paid_through == "令和7年7月"

    # the next run pays August and September, to the new account
    october = runs.start(run_ctx(), YearMonth(2025, 10))
    (next_item,) = runs.items(run_ctx(), october.id, recipient_id=paid)
    assert (next_item.amount, next_item.months) == (20_000, "令和7年8月〜令和7年9月")

    listing = runs.payment_list_csv(run_ctx(), summary.id).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(listing)))
    assert rows[0][0] == "受給者番号" and any(r[0] == number and r[2] == "10000" for r in rows[1:])
    pdf = runs.payment_list_pdf(run_ctx(), summary.id)
    assert pdf.startswith(b"%PDF")


def test_amount_change_after_approval_leaves_the_run_alone(
    ca_storage: Storage, registry: RegistryService, ca: ChildAllowanceService
) -> None:
    runs = PaymentRunService(ca_storage, clock=lambda: NOW)
    runs.configure(run_ctx(), SETTINGS)
    family = move_in_family(registry)
    app = application(claim_form(family), family.head)
    deliver_application(ca_storage, app)
    recipient = ca.certify(clerk_ctx(), case_id_of(ca_storage, app.receipt_number)).recipient_id or ""
    december = runs.start(run_ctx(), YearMonth(2025, 12))
    before = runs.items(run_ctx(), december.id, recipient_id=recipient)
    runs.approve(run_ctx(), december.id)
    data = runs.transfer_file(run_ctx(), december.id)
    newborn = add_birth(registry, family, date(2025, 6, 1))
    ca.change_amount(
        clerk_ctx(), recipient, AmountChange(filed_on=date(2025, 6, 2), add=[NewChild(newborn)], birth=True)
    )
    assert runs.items(run_ctx(), december.id, recipient_id=recipient) == before
    assert runs.transfer_file(run_ctx(), december.id) == data


def test_fast_record_writer_matches_the_reference_writer() -> None:
    from types import SimpleNamespace

    from jichitai.mynumber.child_allowance.payment_run import reference_record, render_data_record

    for bank_name, holder, amount, account_type in (
        ("ﾐｽﾞﾎ", "ﾔﾏﾀﾞ ﾀﾛｳ", 10_000, 1),
        ("みずほ銀行", "ｻﾄｳ ﾊﾅｺ", 9_999_999_999, 2),
        (None, "ABC (ｶ", 1, 4),
    ):
        row = SimpleNamespace(
            bank_code="0001",
            bank_name=bank_name,
            branch_code="001",
            branch_name="ﾎﾝﾃﾝ",
            account_type=account_type,
            account_number="1234567",
            payee_kana=holder,
            amount=amount,
            recipient_number="0000000042",
        )
        assert render_data_record(row) == reference_record(row)


@pytest.mark.parametrize(
    ("month", "reason"),
    [
        (YearMonth(2025, 9), "支払期月（2・4・6・8・10・12月）を指定してください"),
        (YearMonth(1900, 2), "令和6年12月期より前の支払期"),
        (YearMonth(2024, 10), "令和6年12月期より前の支払期"),
        (YearMonth(2026, 8), "2026年6月までの間で指定してください"),
        (YearMonth(9999, 12), "2026年6月までの間で指定してください"),
    ],
)
def test_a_run_is_refused_for_a_month_not_due(ca_storage: Storage, month: YearMonth, reason: str) -> None:
    """Only payment months from the first six-period payment (令和6年12月期) to a year ahead: a run
    for 9999年12月 was computed, approved and could be downloaded."""
    runs = PaymentRunService(ca_storage, clock=lambda: NOW)  # 2025-06-02
    runs.configure(run_ctx(), SETTINGS)
    with pytest.raises(ValidationError) as refused:
        runs.start(run_ctx(), month)
    assert reason in (refused.value.message_ja or "")
    assert all(r.payment_month != month for r in runs.runs(run_ctx()))


def test_the_first_six_period_payment_pays_the_first_months_of_the_reform() -> None:
    assert regular_payment_month(REFORM_FIRST_MONTH) == FIRST_SIX_PERIOD_PAYMENT
    assert check_run_month(YearMonth(2024, 12), this_month=YearMonth(2025, 6)) == []
    assert check_run_month(YearMonth(2026, 6), this_month=YearMonth(2025, 6)) == []
