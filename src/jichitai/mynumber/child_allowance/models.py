"""Tables of the child allowance system (児童手当).

- ``ca_recipients``: one row per certification (認定) of a recipient (受給者), with the claim it
  rests on, the start and end month, the payee account and the months already paid;
- ``ca_children``: the children counted for that recipient (支給対象児童 and, with a 確認書, the
  university-age children counted for birth order);
- ``ca_amounts``: the monthly amount (月額) by period, with the per-child lines and reasons the rules
  gave; replaced whenever a decision changes it (the history keeps every earlier state);
- ``ca_recipient_versions``: append-only history, one full snapshot per change;
- ``ca_cases``: one per incoming application or paper claim, with its status;
- ``ca_notices``: the sealed notices (認定通知書, 額改定通知書, 消滅通知書);
- ``ca_tasks``: clerk tasks raised by registry events; ``ca_event_cursor``: the last event read;
- ``ca_payment_runs`` / ``ca_payment_items``: payment runs (支払処理) with their frozen items;
- ``ca_settings``: the municipality's transfer settings (依頼人, 仕向銀行, payment day);
  ``ca_counters``: number sequences (受給者番号, paper receipt numbers).

Months are stored as a month number (``year * 12 + month - 1``, see :func:`month_no`) so that the
payment run can do month arithmetic in SQL on both SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Boolean, Date, Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from jichitai.mynumber.child_allowance.rules import YearMonth
from jichitai.platform.storage.base import Base, utcnow

SEQ = BigInteger().with_variant(Integer(), "sqlite")


def month_no(month: YearMonth) -> int:
    """The stored form of a month: ``2026-05`` → ``2026 * 12 + 4``."""
    return month.year * 12 + month.month - 1


def month_of(number: int) -> YearMonth:
    return YearMonth(number // 12, number % 12 + 1)


class RecipientStatus:
    CERTIFIED = "certified"  # 認定中
    ENDED = "ended"  # 消滅


class Recipient(Base):
    """受給者: one certification (認定) of a claimant, linked to the registry by 統合宛名番号."""

    __tablename__ = "ca_recipients"
    # every approved payment run updates paid_through in place: leave room in each page so that
    # PostgreSQL can update without touching the five indexes (HOT updates)
    __table_args__ = ({"postgresql_with": {"fillfactor": 70}},)
    __audited__ = True

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    recipient_number: Mapped[str] = mapped_column(String(10), unique=True)  # 受給者番号
    atena_number: Mapped[str] = mapped_column(String(15), index=True)  # 統合宛名番号
    household_number: Mapped[str | None] = mapped_column(String(15), index=True)  # 世帯番号
    name: Mapped[str] = mapped_column(Text)
    name_kana: Mapped[str] = mapped_column(Text)
    birth_date: Mapped[date] = mapped_column(Date)
    address: Mapped[str] = mapped_column(Text)
    spouse_atena_number: Mapped[str | None] = mapped_column(String(15))  # 配偶者
    spouse_name: Mapped[str | None] = mapped_column(Text)
    civil_servant: Mapped[bool] = mapped_column(Boolean, default=False)  # 公務員 (第17条)
    status: Mapped[str] = mapped_column(String(12), index=True)
    claim_filed_on: Mapped[date] = mapped_column(Date)  # 認定請求日
    claim_event_kind: Mapped[str | None] = mapped_column(String(20))  # 15日特例の事由
    claim_event_date: Mapped[date | None] = mapped_column(Date)
    start_month: Mapped[int] = mapped_column(Integer)  # 支給開始月 (month number)
    end_month: Mapped[int | None] = mapped_column(Integer)  # 支給終了月 (month number)
    end_reason: Mapped[str | None] = mapped_column(String(20))
    moved_out_on: Mapped[date | None] = mapped_column(Date)
    died_on: Mapped[date | None] = mapped_column(Date)
    civil_servant_from: Mapped[date | None] = mapped_column(Date)
    paid_through: Mapped[int | None] = mapped_column(Integer)  # last month paid (month number)
    public_fund_account: Mapped[bool] = mapped_column(Boolean, default=False)  # 公金受取口座
    bank_code: Mapped[str | None] = mapped_column(String(4))
    bank_name: Mapped[str | None] = mapped_column(Text)
    branch_code: Mapped[str | None] = mapped_column(String(3))
    branch_name: Mapped[str | None] = mapped_column(Text)
    account_type: Mapped[int | None] = mapped_column(Integer)  # 1 普通 / 2 当座 / 4 貯蓄
    account_number: Mapped[str | None] = mapped_column(String(7))
    account_holder_kana: Mapped[str | None] = mapped_column(Text)
    case_id: Mapped[str] = mapped_column(String(32))  # the 認定請求
    version_no: Mapped[int] = mapped_column(Integer, default=1)
    certified_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    def audit_person(self) -> str:
        return self.atena_number


class Child(Base):
    """A child counted for a recipient (支給対象児童, or a university-age child with a 確認書)."""

    __tablename__ = "ca_children"
    __audited__ = True

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    recipient_id: Mapped[str] = mapped_column(String(32), index=True)
    atena_number: Mapped[str] = mapped_column(String(15), index=True)  # 統合宛名番号 of the child
    name: Mapped[str] = mapped_column(Text)
    name_kana: Mapped[str] = mapped_column(Text)
    birth_date: Mapped[date] = mapped_column(Date)
    relationship: Mapped[str] = mapped_column(String(20))  # 続柄 to the recipient (子, 孫 …)
    lives_apart: Mapped[bool] = mapped_column(Boolean, default=False)  # 別居
    apart_statement_filed: Mapped[bool] = mapped_column(Boolean, default=False)  # 別居監護申立書
    support_confirmation_filed: Mapped[bool] = mapped_column(Boolean, default=False)  # 確認書
    lives_in_japan: Mapped[bool] = mapped_column(Boolean, default=True)
    added_filed_on: Mapped[date | None] = mapped_column(Date)  # 額改定請求 that added the child
    added_event_kind: Mapped[str | None] = mapped_column(String(20))
    added_event_date: Mapped[date | None] = mapped_column(Date)
    left_care_on: Mapped[date | None] = mapped_column(Date)  # 監護・生計同一の終了
    died_on: Mapped[date | None] = mapped_column(Date)
    active: Mapped[bool] = mapped_column(Boolean, default=True, index=True)  # still in care

    def audit_person(self) -> str:
        return self.atena_number


class AmountPeriod(Base):
    """The monthly amount (月額) from ``from_month`` to ``to_month`` with its per-child lines."""

    __tablename__ = "ca_amounts"

    id: Mapped[int] = mapped_column(SEQ, primary_key=True, autoincrement=True)
    recipient_id: Mapped[str] = mapped_column(String(32), index=True)
    from_month: Mapped[int] = mapped_column(Integer)
    to_month: Mapped[int] = mapped_column(Integer)
    amount: Mapped[int] = mapped_column(Integer)  # yen per month
    lines: Mapped[str] = mapped_column(Text)  # JSON: [{child_id, birth_order, amount, reason}]


class RecipientVersion(Base):
    """One state of a recipient after a change (history, append-only)."""

    __tablename__ = "ca_recipient_versions"
    __table_args__ = (
        UniqueConstraint("recipient_id", "version_no", name="uq_ca_recipient_versions_version"),
    )
    __audited__ = True

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    recipient_id: Mapped[str] = mapped_column(String(32), index=True)
    atena_number: Mapped[str] = mapped_column(String(15))
    version_no: Mapped[int] = mapped_column(Integer)
    change: Mapped[str] = mapped_column(String(30))  # certified / amount_changed / ended / account_changed
    case_id: Mapped[str | None] = mapped_column(String(32))
    task_id: Mapped[str | None] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(100))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)
    snapshot: Mapped[str] = mapped_column(Text)  # JSON: recipient, children, amounts

    def audit_person(self) -> str:
        return self.atena_number


class CaseStatus:
    OPEN = "open"  # 未処理
    DECIDED = "decided"  # 決定済み (認定・額改定・消滅)
    REJECTED = "rejected"  # 却下
    CLOSED = "closed"  # 処理済み (届出の受理など)


class Case(Base):
    """案件: one incoming application (by its 受付番号) or paper claim."""

    __tablename__ = "ca_cases"
    __audited__ = True

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    receipt_number: Mapped[str] = mapped_column(String(40), unique=True)  # 受付番号
    procedure_id: Mapped[str] = mapped_column(String(60))
    procedure_version: Mapped[str] = mapped_column(String(10))
    kind: Mapped[str] = mapped_column(String(30), index=True)
    source: Mapped[str] = mapped_column(String(10))  # online / paper
    applicant_atena_number: Mapped[str | None] = mapped_column(String(15), index=True)
    applicant_name: Mapped[str] = mapped_column(Text)
    form: Mapped[bytes] = mapped_column(LargeBinary)  # field-encrypted JSON (holds 個人番号)
    status: Mapped[str] = mapped_column(String(12), index=True)
    recipient_id: Mapped[str | None] = mapped_column(String(32), index=True)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    filed_on: Mapped[date] = mapped_column(Date)  # 請求日 (the day the application was made)
    accepted_by: Mapped[str | None] = mapped_column(String(100))
    decided_at: Mapped[datetime | None] = mapped_column()
    decided_by: Mapped[str | None] = mapped_column(String(100))
    decision: Mapped[str | None] = mapped_column(String(30))
    decision_message: Mapped[str | None] = mapped_column(Text)

    def audit_person(self) -> str:
        return self.applicant_atena_number or ""


class NoticeKind:
    CERTIFICATION = "certification"  # 認定通知書
    AMOUNT_CHANGE = "amount_change"  # 額改定通知書
    EXTINCTION = "extinction"  # 消滅通知書
    REJECTION = "rejection"  # 却下通知書


class Notice(Base):
    """A sealed notice PDF sent to a recipient (or claimant)."""

    __tablename__ = "ca_notices"
    __audited__ = True

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    recipient_id: Mapped[str | None] = mapped_column(String(32), index=True)
    case_id: Mapped[str | None] = mapped_column(String(32), index=True)
    atena_number: Mapped[str] = mapped_column(String(15))
    kind: Mapped[str] = mapped_column(String(20))
    issued_at: Mapped[datetime] = mapped_column(default=utcnow)
    pdf: Mapped[bytes] = mapped_column(LargeBinary)
    sha256: Mapped[str] = mapped_column(String(64))

    def audit_person(self) -> str:
        return self.atena_number


class TaskStatus:
    OPEN = "open"  # 未確認
    APPLIED = "applied"  # 確認して反映
    DISMISSED = "dismissed"  # 確認の上、対応不要


class Task(Base):
    """A clerk task raised by a registry event concerning a recipient or one of the children."""

    __tablename__ = "ca_tasks"
    __table_args__ = (UniqueConstraint("event_seq", "recipient_id", "kind", name="uq_ca_tasks_event"),)
    __audited__ = True

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    recipient_id: Mapped[str] = mapped_column(String(32), index=True)
    kind: Mapped[str] = mapped_column(String(30))
    event_seq: Mapped[int] = mapped_column(SEQ)
    event_type: Mapped[str] = mapped_column(String(20))
    atena_number: Mapped[str] = mapped_column(String(15))  # the person the event concerns
    event_date: Mapped[date] = mapped_column(Date)
    detail: Mapped[str] = mapped_column(Text)  # JSON
    status: Mapped[str] = mapped_column(String(12), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column()
    resolved_by: Mapped[str | None] = mapped_column(String(100))
    resolution: Mapped[str | None] = mapped_column(Text)

    def audit_person(self) -> str:
        return self.atena_number


class EventCursor(Base):
    """The last registry event seq the consumer has processed (one row)."""

    __tablename__ = "ca_event_cursor"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_seq: Mapped[int] = mapped_column(SEQ)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class Counter(Base):
    """Number sequences of the business (受給者番号, paper receipt numbers)."""

    __tablename__ = "ca_counters"

    name: Mapped[str] = mapped_column(String(30), primary_key=True)
    value: Mapped[int] = mapped_column(SEQ)


class PaymentSettings(Base):
    """The municipality's transfer settings: 依頼人 (委託者コード), 仕向銀行, payment day."""

    __tablename__ = "ca_settings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    requester_code: Mapped[str] = mapped_column(String(10))
    requester_name: Mapped[str] = mapped_column(Text)  # kana
    bank_code: Mapped[str] = mapped_column(String(4))
    bank_name: Mapped[str] = mapped_column(Text)
    branch_code: Mapped[str] = mapped_column(String(3))
    branch_name: Mapped[str] = mapped_column(Text)
    account_type: Mapped[int] = mapped_column(Integer)
    account_number: Mapped[str] = mapped_column(String(7))
    payment_day: Mapped[int] = mapped_column(Integer)
    shift: Mapped[str] = mapped_column(String(10))  # previous / next
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class RunStatus:
    COMPUTED = "computed"  # 計算済み・確認中 (may be re-run)
    APPROVED = "approved"  # 承認済み (frozen)


class PaymentRun(Base):
    """支払処理 for one payment month."""

    __tablename__ = "ca_payment_runs"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    payment_month: Mapped[int] = mapped_column(Integer, unique=True)  # month number
    status: Mapped[str] = mapped_column(String(12))
    transfer_date: Mapped[date] = mapped_column(Date)  # 振込指定日
    header: Mapped[str] = mapped_column(Text)  # JSON: the Zengin header frozen with the run
    computed_at: Mapped[datetime] = mapped_column(default=utcnow)
    computed_by: Mapped[str] = mapped_column(String(100))
    runs: Mapped[int] = mapped_column(Integer, default=1)  # how many times computed
    approved_at: Mapped[datetime | None] = mapped_column()
    approved_by: Mapped[str | None] = mapped_column(String(100))
    item_count: Mapped[int] = mapped_column(Integer, default=0)
    total_amount: Mapped[int] = mapped_column(BigInteger, default=0)
    transfer_count: Mapped[int] = mapped_column(Integer, default=0)
    transfer_amount: Mapped[int] = mapped_column(BigInteger, default=0)
    exception_count: Mapped[int] = mapped_column(Integer, default=0)
    file_sha256: Mapped[str | None] = mapped_column(String(64))
    transfer_file: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)  # as approved


class PaymentItem(Base):
    """One recipient's payment in a run, frozen: amount, months and the account it goes to."""

    __tablename__ = "ca_payment_items"
    __table_args__ = (Index("ix_ca_payment_items_run", "run_id", "recipient_id"),)

    id: Mapped[int] = mapped_column(SEQ, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(String(32))
    recipient_id: Mapped[str] = mapped_column(String(32))
    recipient_number: Mapped[str] = mapped_column(String(10))
    name: Mapped[str] = mapped_column(Text)
    payee_kana: Mapped[str | None] = mapped_column(Text)
    bank_code: Mapped[str | None] = mapped_column(String(4))
    bank_name: Mapped[str | None] = mapped_column(Text)
    branch_code: Mapped[str | None] = mapped_column(String(3))
    branch_name: Mapped[str | None] = mapped_column(Text)
    account_type: Mapped[int | None] = mapped_column(Integer)
    account_number: Mapped[str | None] = mapped_column(String(7))
    amount: Mapped[int] = mapped_column(Integer)
    first_month: Mapped[int] = mapped_column(Integer)
    last_month: Mapped[int] = mapped_column(Integer)
    months: Mapped[int] = mapped_column(Integer)
    arrears: Mapped[bool] = mapped_column(Boolean, default=False)  # 前期までの未払分を含む
    final: Mapped[bool] = mapped_column(Boolean, default=False)  # 消滅による最終支払
    exception: Mapped[str | None] = mapped_column(String(30))  # why it is held or to be reviewed
    transfer: Mapped[bool] = mapped_column(Boolean, default=True)  # goes into the transfer file
