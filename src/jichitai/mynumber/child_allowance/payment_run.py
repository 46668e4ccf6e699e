"""Payment runs (支払処理): freeze, compute, review, approve, and the files for the bank.

A run belongs to one payment month (2, 4, 6, 8, 10, 12). Starting it computes one frozen item per
recipient with anything to pay: the months from the first unpaid month to the month before the
payment month, within the entitlement, at the amounts stored by the decisions, grouped by
:func:`~.rules.payments` (which flags arrears and the final payment of an ended entitlement). The
item also freezes the account it goes to. The clerk reviews totals and exceptions (no account,
公金受取口座 not yet confirmed, an account the bank would refuse, arrears, final payments), may
re-run while the run is not approved, and approves it: the months paid are recorded on the
recipients, and from then on the run, its Zengin transfer file, payment list PDF and CSV never
change, whatever is edited later. A second run for the same month is refused.

Speed: one streamed join of recipients and amount periods ordered by recipient, rules applied in
process, items written with executemany in chunks; no ORM object per row.
"""

from __future__ import annotations

import csv
import functools
import hashlib
import io
import itertools
import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, cast
from zoneinfo import ZoneInfo

from sqlalchemy import Table, delete, func, or_, select, update
from sqlalchemy.orm import Session

from jichitai.mynumber.child_allowance import purposes, zengin
from jichitai.mynumber.child_allowance.calendar import PaymentDayRule, Shift, payment_date
from jichitai.mynumber.child_allowance.claims import zengin_name
from jichitai.mynumber.child_allowance.errors import PaymentRunRefused
from jichitai.mynumber.child_allowance.models import (
    AmountPeriod,
    PaymentItem,
    PaymentRun,
    PaymentSettings,
    Recipient,
    RunStatus,
    month_no,
    month_of,
)
from jichitai.mynumber.child_allowance.notices import wareki_month
from jichitai.mynumber.child_allowance.rules import (
    MonthlyAmount,
    Payment,
    YearMonth,
    check_run_month,
    payments,
)
from jichitai.platform.context import TenantContext
from jichitai.platform.errors import ConfigurationError, NotFound, PermissionDenied, ValidationError
from jichitai.platform.storage import Storage, UnitOfWork
from jichitai.platform.zones import Zone

CHUNK = 10_000


class ExceptionKind:
    NO_ACCOUNT = "no_account"  # 振込先口座なし (held)
    PUBLIC_FUND_PENDING = "public_fund_pending"  # 公金受取口座の口座情報未確認 (held)
    BAD_ACCOUNT = "bad_account"  # 口座情報が全銀形式に合わない (held)
    ARREARS = "arrears"  # 前期以前の未払分を含む (paid, to review)
    FINAL = "final"  # 消滅による最終支払 (paid, to review)


EXCEPTION_LABELS = {
    ExceptionKind.NO_ACCOUNT: "振込先口座が未登録（支払保留）",
    ExceptionKind.PUBLIC_FUND_PENDING: "公金受取口座の口座情報が未確認（支払保留）",
    ExceptionKind.BAD_ACCOUNT: "口座情報が全銀形式に適合しない（支払保留）",
    ExceptionKind.ARREARS: "前期以前の未払分を含む（要確認）",
    ExceptionKind.FINAL: "受給資格消滅による最終支払（要確認）",
}
HELD = {ExceptionKind.NO_ACCOUNT, ExceptionKind.PUBLIC_FUND_PENDING, ExceptionKind.BAD_ACCOUNT}


@dataclass(frozen=True)
class TransferSettings:
    """依頼人 (委託者コード・名義 in kana) and 仕向銀行 account, and the municipality's payment day."""

    requester_code: str
    requester_name: str
    bank_code: str
    bank_name: str
    branch_code: str
    branch_name: str
    account_type: int
    account_number: str
    payment_day: int = 10
    shift: str = Shift.PREVIOUS.value

    def header(self, transfer_date: date) -> zengin.Header:
        return zengin.Header(
            requester_code=self.requester_code,
            requester_name=self.requester_name,
            transfer_date=transfer_date,
            bank_code=self.bank_code,
            branch_code=self.branch_code,
            account_type=zengin.AccountType(self.account_type),
            account_number=self.account_number,
            bank_name=self.bank_name,
            branch_name=self.branch_name,
        )


@dataclass(frozen=True)
class RunSummary:
    id: str
    payment_month: YearMonth
    payment_month_ja: str
    status: str
    transfer_date: date
    runs: int
    item_count: int
    total_amount: int
    transfer_count: int
    transfer_amount: int
    exception_count: int
    exceptions: dict[str, int]
    computed_at: datetime
    computed_by: str
    approved_at: datetime | None
    approved_by: str | None
    file_sha256: str | None


@dataclass(frozen=True)
class ItemRow:
    recipient_id: str
    recipient_number: str
    name: str
    amount: int
    months: str
    exception: str | None
    exception_ja: str | None
    transfer: bool


JST = ZoneInfo("Asia/Tokyo")


def _system_clock() -> datetime:
    return datetime.now(UTC)


class PaymentRunService:
    """支払処理 for one installation's storage."""

    def __init__(self, storage: Storage, *, clock: Callable[[], datetime] = _system_clock) -> None:
        self.storage = storage
        self.clock = clock

    def _uow(self, ctx: TenantContext) -> Any:
        if ctx.purpose.code != purposes.PAYMENT_RUN.code:
            raise PermissionDenied(
                f"purpose {ctx.purpose.code} does not allow payment runs",
                message_ja=f"利用目的「{ctx.purpose.label_ja}」では支払処理は行えません",
            )
        return self.storage.unit_of_work(ctx, Zone.MYNUMBER)

    # -- settings --------------------------------------------------------------------------------
    def configure(self, ctx: TenantContext, settings: TransferSettings) -> None:
        settings.header(date(2000, 1, 1))  # refuses codes and names the bank would not take
        PaymentDayRule(settings.payment_day, Shift(settings.shift))
        with self._uow(ctx) as uow:
            row = uow.session.get(PaymentSettings, 1) or PaymentSettings(id=1)
            for name, value in settings.__dict__.items():
                setattr(row, name, value)
            row.updated_at = self.clock()
            uow.session.add(row)
            uow.record("update", "ca_settings", "1")

    def settings(self, ctx: TenantContext) -> TransferSettings | None:
        with self._uow(ctx) as uow:
            return _settings(uow)

    # -- runs ------------------------------------------------------------------------------------
    def start(self, ctx: TenantContext, month: YearMonth) -> RunSummary:
        """Start the run for ``month``; refused when one exists (approved or not)."""
        problems = check_run_month(month, this_month=YearMonth.of(self.clock().astimezone(JST).date()))
        if problems:
            raise ValidationError(f"{month} is not a month a run can be started for", message_ja=problems[0])
        with self._uow(ctx) as uow:
            existing = uow.session.scalar(
                select(PaymentRun).where(PaymentRun.payment_month == month_no(month))
            )
            if existing is not None:
                state = "承認済み" if existing.status == RunStatus.APPROVED else "確認中"
                raise PaymentRunRefused(
                    f"a payment run for {month} already exists ({existing.status})",
                    message_ja=(
                        f"{wareki_month(month)}期の支払処理は既に開始されています（状態: {state}）。"
                        "承認前であれば再計算してください。"
                    ),
                )
            settings = _settings(uow)
            if settings is None:
                raise ConfigurationError(
                    "transfer settings are missing", message_ja="振込の依頼人・仕向銀行が設定されていません"
                )
            transfer_date = payment_date(month, PaymentDayRule(settings.payment_day, Shift(settings.shift)))
            header = settings.__dict__
            run = PaymentRun(
                id=uuid.uuid4().hex,
                payment_month=month_no(month),
                status=RunStatus.COMPUTED,
                transfer_date=transfer_date,
                header=json.dumps(header, ensure_ascii=False),
                computed_at=self.clock(),
                computed_by=str(ctx.actor)[:100],
                runs=1,
            )
            uow.session.add(run)
            uow.session.flush()
            _compute(uow, run)
            return _summary(uow, run)

    def rerun(self, ctx: TenantContext, run_id: str) -> RunSummary:
        """Compute again (amounts and accounts as they are now); refused once approved."""
        with self._uow(ctx) as uow:
            run = _run(uow, run_id, lock=True)
            _require_open(run)
            uow.session.execute(delete(PaymentItem).where(PaymentItem.run_id == run.id))
            settings = _settings(uow)
            if settings is not None:
                run.header = json.dumps(settings.__dict__, ensure_ascii=False)
            run.runs += 1
            run.computed_at = self.clock()
            run.computed_by = str(ctx.actor)[:100]
            _compute(uow, run)
            return _summary(uow, run)

    def approve(self, ctx: TenantContext, run_id: str) -> RunSummary:
        """Approve: record the months paid and fix the transfer file's hash; nothing changes after."""
        with self._uow(ctx) as uow:
            run = _run(uow, run_id, lock=True)
            _require_open(run)
            if run.transfer_count == 0:
                raise PaymentRunRefused(
                    f"run {run_id} has nothing to transfer", message_ja="振込対象がないため承認できません"
                )
            data = _transfer_file(uow, run)
            item = PaymentItem.__table__
            # UPDATE … FROM: one pass over the run's items on both SQLite (3.33+) and PostgreSQL
            uow.session.execute(
                update(Recipient)
                .where(
                    Recipient.id == item.c.recipient_id, item.c.run_id == run.id, item.c.transfer.is_(True)
                )
                .values(paid_through=item.c.last_month),
                execution_options={"synchronize_session": False},
            )
            run.status = RunStatus.APPROVED
            run.approved_at = self.clock()
            run.approved_by = str(ctx.actor)[:100]
            run.file_sha256 = hashlib.sha256(data).hexdigest()
            run.transfer_file = data  # the file as approved is what goes to the bank
            uow.record(
                "approve", "ca_payment_runs", run.id, count=run.transfer_count, total=run.transfer_amount
            )
            return _summary(uow, run)

    def runs(self, ctx: TenantContext) -> list[RunSummary]:
        with self._uow(ctx) as uow:
            rows = uow.session.scalars(select(PaymentRun).order_by(PaymentRun.payment_month.desc())).all()
            return [_summary(uow, r) for r in rows]

    def summary(self, ctx: TenantContext, run_id: str) -> RunSummary:
        with self._uow(ctx) as uow:
            return _summary(uow, _run(uow, run_id))

    def exceptions(self, ctx: TenantContext, run_id: str, *, limit: int = 200) -> list[ItemRow]:
        with self._uow(ctx) as uow:
            rows = uow.session.scalars(
                select(PaymentItem)
                .where(PaymentItem.run_id == run_id, PaymentItem.exception.is_not(None))
                .order_by(PaymentItem.recipient_number)
                .limit(limit)
            ).all()
            return [_item_row(r) for r in rows]

    def items(self, ctx: TenantContext, run_id: str, *, recipient_id: str | None = None) -> list[ItemRow]:
        with self._uow(ctx) as uow:
            stmt = select(PaymentItem).where(PaymentItem.run_id == run_id)
            if recipient_id:
                stmt = stmt.where(PaymentItem.recipient_id == recipient_id)
            return [
                _item_row(r)
                for r in uow.session.scalars(stmt.order_by(PaymentItem.recipient_number).limit(1000))
            ]

    def transfer_file(self, ctx: TenantContext, run_id: str) -> bytes:
        """The Zengin file written at approval (checked against its hash)."""
        with self._uow(ctx) as uow:
            run = _run(uow, run_id)
            if run.status != RunStatus.APPROVED:
                raise PaymentRunRefused(
                    "the transfer file exists once the run is approved",
                    message_ja="振込データは支払処理の承認後に作成できます",
                )
            data = run.transfer_file or b""
            if hashlib.sha256(data).hexdigest() != run.file_sha256:
                raise ConfigurationError(
                    f"run {run_id}: transfer file differs from the one approved",
                    message_ja="振込データが承認時の内容と一致しません。システム管理者に連絡してください",
                )
            uow.record("export", "ca_payment_items", run.id, file="zengin", count=run.transfer_count)
            return data

    def payment_list_csv(self, ctx: TenantContext, run_id: str) -> bytes:
        with self._uow(ctx) as uow:
            run = _run(uow, run_id)
            uow.record("export", "ca_payment_items", run.id, file="csv", count=run.item_count)
            return _csv(uow, run)

    def payment_list_pdf(self, ctx: TenantContext, run_id: str) -> bytes:
        with self._uow(ctx) as uow:
            run = _run(uow, run_id)
            summary = _summary(uow, run)
            items = list(_stream_items(uow, run.id, limit=PDF_ITEM_LIMIT + 1))
            uow.record(
                "export", "ca_payment_items", run.id, file="pdf", count=min(len(items), PDF_ITEM_LIMIT)
            )
            from jichitai.mynumber.child_allowance.payment_list import render_payment_list

            return render_payment_list(uow.tenant.name, summary, items, PDF_ITEM_LIMIT)


PDF_ITEM_LIMIT = 5000


def _settings(uow: UnitOfWork) -> TransferSettings | None:
    row = uow.session.get(PaymentSettings, 1)
    if row is None:
        return None
    return TransferSettings(
        requester_code=row.requester_code,
        requester_name=row.requester_name,
        bank_code=row.bank_code,
        bank_name=row.bank_name,
        branch_code=row.branch_code,
        branch_name=row.branch_name,
        account_type=row.account_type,
        account_number=row.account_number,
        payment_day=row.payment_day,
        shift=row.shift,
    )


def _run(uow: UnitOfWork, run_id: str, *, lock: bool = False) -> PaymentRun:
    stmt = select(PaymentRun).where(PaymentRun.id == run_id)
    if lock:
        stmt = stmt.with_for_update()
    run = uow.session.scalar(stmt)
    if run is None:
        raise NotFound(f"no payment run {run_id}", message_ja="該当する支払処理がありません")
    return run


def _require_open(run: PaymentRun) -> None:
    if run.status == RunStatus.APPROVED:
        raise PaymentRunRefused(
            f"run {run.id} is approved and frozen",
            message_ja="承認済みの支払処理は再計算・再承認できません",
        )


# -- computing ---------------------------------------------------------------------------------------


def _candidates(run: PaymentRun) -> Any:
    """Recipients and their amount periods with months to pay up to the month before the run."""
    last = run.payment_month - 1
    r, a = Recipient.__table__.c, AmountPeriod.__table__.c
    first_unpaid = func.coalesce(r.paid_through + 1, r.start_month)
    return (
        select(
            r.id,
            r.recipient_number,
            r.name,
            r.account_holder_kana,
            r.bank_code,
            r.bank_name,
            r.branch_code,
            r.branch_name,
            r.account_type,
            r.account_number,
            r.public_fund_account,
            r.start_month,
            r.end_month,
            r.paid_through,
            a.from_month,
            a.to_month,
            a.amount,
        )
        .join_from(Recipient.__table__, AmountPeriod.__table__, a.recipient_id == r.id)
        .where(
            r.start_month <= last,
            or_(r.paid_through.is_(None), r.paid_through < last),
            or_(r.end_month.is_(None), r.paid_through.is_(None), r.paid_through < r.end_month),
            a.from_month <= last,
            a.to_month >= first_unpaid,
        )
        .order_by(r.id, a.from_month)
    )


_DIGITS = {"bank_code": 4, "branch_code": 3, "account_number": 7}


@functools.lru_cache(maxsize=65_536)
def _zengin_kana(name: str) -> str:
    return zengin.to_zengin_text(name, field_ja="受取人名", max_length=30)


def check_account(row: Any) -> tuple[str | None, str | None]:
    """(exception, payee name in Zengin kana): the same checks as :class:`zengin.TransferRecord`."""
    if row.account_number is None:
        held = ExceptionKind.PUBLIC_FUND_PENDING if row.public_fund_account else ExceptionKind.NO_ACCOUNT
        return held, None
    for name, length in _DIGITS.items():
        value = getattr(row, name) or ""
        if len(value) != length or not (value.isascii() and value.isdigit()):
            return ExceptionKind.BAD_ACCOUNT, None
    if row.account_type not in (1, 2, 4):
        return ExceptionKind.BAD_ACCOUNT, None
    try:
        payee = _zengin_kana(row.account_holder_kana or "")
    except ValidationError:
        return ExceptionKind.BAD_ACCOUNT, None
    return (None, payee) if payee else (ExceptionKind.BAD_ACCOUNT, None)


def compute_items(rows: Iterator[Any], run: PaymentRun) -> Iterator[dict[str, Any]]:
    """One item per recipient with something to pay, from rows ordered by recipient.

    :func:`~.rules.payments` is pure, so its answer is kept per distinct schedule (months, amounts,
    ended): a city has a few hundred distinct schedules among hundreds of thousands of recipients.
    """
    payment_month = month_of(run.payment_month)
    last = run.payment_month - 1
    cache: dict[tuple[Any, ...], Payment | None] = {}
    for recipient_id, group in itertools.groupby(rows, key=lambda row: row[0]):
        periods = list(group)
        head = periods[0]
        first = (
            head.start_month if head.paid_through is None else max(head.start_month, head.paid_through + 1)
        )
        until = last if head.end_month is None else min(last, head.end_month)
        months = tuple(
            (m, p.amount)
            for p in periods
            for m in range(max(first, p.from_month), min(until, p.to_month) + 1)
        )
        if not months:
            continue
        ended = head.end_month is not None and head.end_month <= last
        key = (months, ended)
        if key not in cache:
            schedule = [MonthlyAmount(month_of(m), amount, ()) for m, amount in months]
            paid = payments(schedule, first_open_payment_month=payment_month, entitlement_ended=ended)
            cache[key] = paid[-1] if paid else None
        payment = cache[key]
        if payment is None:
            continue
        covered = [month_no(m) for m in payment.months_covered]
        problem, payee = check_account(head)
        exception = problem or (
            ExceptionKind.FINAL
            if payment.final
            else ExceptionKind.ARREARS
            if payment.includes_arrears
            else None
        )
        yield {
            "run_id": run.id,
            "recipient_id": recipient_id,
            "recipient_number": head.recipient_number,
            "name": head.name,
            "payee_kana": payee or head.account_holder_kana,
            "bank_code": head.bank_code,
            "bank_name": head.bank_name,
            "branch_code": head.branch_code,
            "branch_name": head.branch_name,
            "account_type": head.account_type,
            "account_number": head.account_number,
            "amount": payment.amount,
            "first_month": min(covered),
            "last_month": max(covered),
            "months": len(covered),
            "arrears": payment.includes_arrears,
            "final": payment.final,
            "exception": exception,
            "transfer": problem is None,
        }


def bulk_insert(session: Session, table: Table, rows: list[dict[str, Any]]) -> None:
    """Insert many rows fast: COPY on PostgreSQL, the driver's executemany on SQLite.

    SQLAlchemy's per-row parameter processing costs more than the database at 400,000 rows; the
    values here are plain ints, strings, booleans and dates the drivers take as they are.
    """
    if not rows:
        return
    columns = list(rows[0])
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        raw: Any = connection.connection.dbapi_connection
        names = ", ".join(columns)
        with raw.cursor() as cursor, cursor.copy(f"COPY {table.name} ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row([row[c] for c in columns])
        return
    sql = f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({', '.join('?' for _ in columns)})"
    connection.exec_driver_sql(sql, [tuple(row[c] for c in columns) for row in rows])


_ITEMS = cast(Table, PaymentItem.__table__)


def _compute(uow: UnitOfWork, run: PaymentRun) -> None:
    session = uow.session
    result = session.execute(_candidates(run), execution_options={"stream_results": True, "yield_per": CHUNK})
    items = compute_items(iter(result), run)
    written = 0
    while True:
        chunk = list(itertools.islice(items, CHUNK))
        if not chunk:
            break
        bulk_insert(session, _ITEMS, chunk)
        written += len(chunk)
    result.close()
    # one audit entry for the batch: the items are personal data written without ORM objects
    uow.record(
        "create", "ca_payment_items", run.id, count=written, payment_month=str(month_of(run.payment_month))
    )
    i = PaymentItem.__table__.c
    totals = session.execute(
        select(
            func.count(),
            func.coalesce(func.sum(i.amount), 0),
            func.count().filter(i.transfer.is_(True)),
            func.coalesce(func.sum(i.amount).filter(i.transfer.is_(True)), 0),
            func.count(i.exception),
        ).where(i.run_id == run.id)
    ).one()
    run.item_count, run.total_amount = int(totals[0]), int(totals[1])
    run.transfer_count, run.transfer_amount = int(totals[2]), int(totals[3])
    run.exception_count = int(totals[4])


def _summary(uow: UnitOfWork, run: PaymentRun) -> RunSummary:
    i = PaymentItem.__table__.c
    by_kind = {
        str(kind): int(n)
        for kind, n in uow.session.execute(
            select(i.exception, func.count())
            .where(i.run_id == run.id, i.exception.is_not(None))
            .group_by(i.exception)
        )
    }
    month = month_of(run.payment_month)
    return RunSummary(
        id=run.id,
        payment_month=month,
        payment_month_ja=wareki_month(month),
        status=run.status,
        transfer_date=run.transfer_date,
        runs=run.runs,
        item_count=run.item_count,
        total_amount=run.total_amount,
        transfer_count=run.transfer_count,
        transfer_amount=run.transfer_amount,
        exception_count=run.exception_count,
        exceptions=by_kind,
        computed_at=run.computed_at,
        computed_by=run.computed_by,
        approved_at=run.approved_at,
        approved_by=run.approved_by,
        file_sha256=run.file_sha256,
    )


@functools.lru_cache(maxsize=1024)
def _months_text(first: int, last: int) -> str:
    if first == last:
        return wareki_month(month_of(first))
    return f"{wareki_month(month_of(first))}〜{wareki_month(month_of(last))}"


def _item_row(r: PaymentItem) -> ItemRow:
    return ItemRow(
        recipient_id=r.recipient_id,
        recipient_number=r.recipient_number,
        name=r.name,
        amount=r.amount,
        months=_months_text(r.first_month, r.last_month),
        exception=r.exception,
        exception_ja=EXCEPTION_LABELS.get(r.exception) if r.exception else None,
        transfer=r.transfer,
    )


def _stream_items(
    uow: UnitOfWork, run_id: str, *, transfer_only: bool = False, limit: int | None = None
) -> Iterator[Any]:
    i = PaymentItem.__table__.c
    stmt = select(
        i.recipient_number,
        i.name,
        i.payee_kana,
        i.bank_code,
        i.bank_name,
        i.branch_code,
        i.branch_name,
        i.account_type,
        i.account_number,
        i.amount,
        i.first_month,
        i.last_month,
        i.exception,
        i.transfer,
    ).where(i.run_id == run_id)
    if transfer_only:
        stmt = stmt.where(i.transfer.is_(True))
    stmt = stmt.order_by(i.recipient_number)
    if limit is not None:
        stmt = stmt.limit(limit)
    result = uow.session.execute(stmt, execution_options={"stream_results": True, "yield_per": CHUNK})
    try:
        yield from result
    finally:
        result.close()


@functools.lru_cache(maxsize=4096)
def _bank_name(name: str | None, length: int) -> str:
    return zengin_name(name, length)


def render_data_record(row: Any) -> bytes:
    """One 総合振込 data record, laid out as :func:`zengin.data_record` does (checked against it).

    The items were checked when the run was computed (digits, account type, payee kana), so the
    per-row validation of :class:`zengin.TransferRecord` is not repeated 400,000 times here;
    :func:`_transfer_file` compares the first records with the reference writer every time.
    """
    line = (
        f"2{row.bank_code}{_bank_name(row.bank_name, 15):<15}"
        f"{row.branch_code}{_bank_name(row.branch_name, 15):<15}"
        f"0000{row.account_type}{row.account_number}{row.payee_kana:<30}{row.amount:010d}0"
        f"{row.recipient_number:0>10}{'':<10}7{'':<8}"
    )
    return line.encode(zengin.ENCODING)


def reference_record(row: Any) -> bytes:
    return zengin.data_record(
        zengin.TransferRecord(
            bank_code=row.bank_code,
            branch_code=row.branch_code,
            account_type=row.account_type,
            account_number=row.account_number,
            payee_name=row.payee_kana,
            amount=row.amount,
            bank_name=_bank_name(row.bank_name, 15),
            branch_name=_bank_name(row.branch_name, 15),
            customer_code_1=row.recipient_number,  # 受給者番号: matches a returned transfer (組戻し)
        )
    )


GUARD_RECORDS = 50


def _transfer_file(uow: UnitOfWork, run: PaymentRun) -> bytes:
    settings = TransferSettings(**json.loads(run.header))
    header = settings.header(run.transfer_date)
    eol = zengin.LineEnding.CRLF.value.encode("ascii")
    parts = [zengin.header_record(header), eol]
    count = total = 0
    for row in _stream_items(uow, run.id, transfer_only=True):
        record = render_data_record(row)
        if count < GUARD_RECORDS and record != reference_record(row):
            raise ConfigurationError(
                f"run {run.id}: fast record writer differs from zengin.data_record ({row.recipient_number})",
                message_ja="振込データの作成で不整合が見つかりました。システム管理者に連絡してください",
            )
        parts += (record, eol)
        count += 1
        total += row.amount
    if count == 0:
        raise ValidationError(
            "a transfer file needs at least one record", message_ja="振込データがありません"
        )
    parts += (zengin.trailer_record(count, total), eol, zengin.end_record(), eol)
    return b"".join(parts)


CSV_HEADER = [
    "受給者番号",
    "氏名",
    "支払額",
    "対象月",
    "銀行コード",
    "支店コード",
    "預金種目",
    "口座番号",
    "口座名義",
    "振込",
    "確認事項",
]


def _csv(uow: UnitOfWork, run: PaymentRun) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    for row in _stream_items(uow, run.id):
        writer.writerow(
            [
                row.recipient_number,
                row.name,
                row.amount,
                _months_text(row.first_month, row.last_month),
                row.bank_code or "",
                row.branch_code or "",
                row.account_type or "",
                row.account_number or "",
                row.payee_kana or "",
                "する" if row.transfer else "保留",
                EXCEPTION_LABELS.get(row.exception, "") if row.exception else "",
            ]
        )
    # UTF-8 with BOM: opens correctly in the spreadsheet software municipalities use
    return ("\ufeff" + out.getvalue()).encode("utf-8")
