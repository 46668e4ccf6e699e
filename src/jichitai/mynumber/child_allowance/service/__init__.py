"""The child allowance system's use cases (児童手当): cases, decisions, recipients, notices, tasks.

:class:`ChildAllowanceService` is what the screens call. Every call takes the tenant context; the
purpose must be one of the business's (:mod:`..purposes`). A decision first reads the registry
(its own audited reads), then checks everything (registry facts, the rules' eligibility, the
account, overlapping certifications) and refuses with every reason at once before writing; the
writes (recipient, children, amounts, history, case, notice, case result) are one transaction.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from jichitai.contracts.submission import SubmissionStatus
from jichitai.mynumber.child_allowance import purposes
from jichitai.mynumber.child_allowance.claims import (
    ACCOUNT_TYPE_LABELS,
    Account,
    normalize_name,
    parse_date,
    read_children,
    read_claim,
)
from jichitai.mynumber.child_allowance.errors import CertificationRefused
from jichitai.mynumber.child_allowance.models import (
    AmountPeriod,
    Case,
    CaseStatus,
    Child,
    Notice,
    NoticeKind,
    Recipient,
    RecipientStatus,
    RecipientVersion,
    month_no,
    month_of,
)
from jichitai.mynumber.child_allowance.notices import NoticeContent, seal_notice, wareki_month, yen
from jichitai.mynumber.child_allowance.rules import (
    ChildFacts,
    Claim,
    EndReason,
    EventKind,
    QualifyingEvent,
    RecipientFacts,
    YearMonth,
    check_eligibility,
)
from jichitai.mynumber.child_allowance.service import cases as case_ops
from jichitai.mynumber.child_allowance.service import records
from jichitai.mynumber.child_allowance.service.cases import CaseRow, Inbox
from jichitai.mynumber.child_allowance.service.registry_facts import RegistryFacts, lookup
from jichitai.mynumber.child_allowance.service.types import (
    END_KIND_LABELS,
    NOTICE_TITLES,
    AmountChange,
    AmountRow,
    CaseDetail,
    CertifyOptions,
    ChildRow,
    Decision,
    EndKind,
    EndRequest,
    NewChild,
    RecipientDetail,
    Removal,
)
from jichitai.mynumber.registry.service import RegistryService
from jichitai.platform.context import TenantContext
from jichitai.platform.errors import NotFound, PermissionDenied, ValidationError
from jichitai.platform.pdf.signing import PdfSealer, RawSigner
from jichitai.platform.storage import Storage, UnitOfWork
from jichitai.platform.wareki import format_wareki
from jichitai.platform.zones import Zone

__all__ = [
    "AmountChange",
    "CaseDetail",
    "CaseRow",
    "CertifyOptions",
    "ChildAllowanceService",
    "Decision",
    "EndKind",
    "EndRequest",
    "Inbox",
    "NewChild",
    "RecipientDetail",
    "RegistryFacts",
    "Removal",
]

JST = ZoneInfo("Asia/Tokyo")
SealerFactory = Callable[[UnitOfWork], RawSigner | PdfSealer]


def _default_sealer(storage: Storage) -> SealerFactory:
    def factory(uow: UnitOfWork) -> RawSigner | PdfSealer:
        from jichitai.mynumber.registry.seal import tenant_sealer

        return tenant_sealer(storage, uow.tenant).sealer

    return factory


def _system_clock() -> datetime:
    return datetime.now(UTC)


class ChildAllowanceService:
    """Use cases of the child allowance system for one installation's storage."""

    def __init__(
        self,
        storage: Storage,
        *,
        clock: Callable[[], datetime] = _system_clock,
        registry: RegistryService | None = None,
        sealer: SealerFactory | None = None,
    ) -> None:
        self.storage = storage
        self.clock = clock
        self.registry = registry or RegistryService(storage, clock=clock)
        self.sealer = sealer or _default_sealer(storage)

    def today(self) -> date:
        return self.clock().astimezone(JST).date()

    def _uow(self, ctx: TenantContext, *allowed: str) -> Any:
        codes = allowed or (purposes.CASE_PROCESS.code,)
        if ctx.purpose.code not in codes:
            raise PermissionDenied(
                f"purpose {ctx.purpose.code} does not allow this child allowance use case",
                message_ja=f"利用目的「{ctx.purpose.label_ja}」では児童手当の事務は行えません",
            )
        return self.storage.unit_of_work(ctx, Zone.MYNUMBER)

    # -- cases -----------------------------------------------------------------------------------
    def inbox(
        self,
        ctx: TenantContext,
        *,
        status: str | None = CaseStatus.OPEN,
        kind: str | None = None,
        page: int = 1,
    ) -> Inbox:
        with self._uow(ctx) as uow:
            return case_ops.inbox(uow, status=status, kind=kind, page=page)

    def case(self, ctx: TenantContext, case_id: str) -> CaseDetail:
        with self._uow(ctx) as uow:
            case = case_ops.get_case(uow, case_id)
            body = case_ops.case_body(uow, case)
            uow.record("read", "ca_cases", case.id, person=case.applicant_atena_number or "", view="case")
            recipient = None
            if case.recipient_id:
                recipient = self._detail(uow, self._recipient(uow, case.recipient_id))
            elif case.applicant_atena_number:
                current = self._current_recipient(uow, case.applicant_atena_number)
                recipient = self._detail(uow, current) if current else None
            notices = [
                (n.id, n.kind)
                for n in uow.session.scalars(
                    select(Notice).where(Notice.case_id == case.id).order_by(Notice.issued_at)
                )
            ]
            return CaseDetail(
                case=case_ops.to_row(case),
                form=body.get("form", {}),
                attachments=[
                    {k: v for k, v in a.items() if k != "content_b64"} for a in body.get("attachments", [])
                ],
                procedure_version=case.procedure_version,
                procedure_id=case.procedure_id,
                recipient=recipient,
                notices=notices,
            )

    def registry_facts(self, ctx: TenantContext, case_id: str) -> RegistryFacts:
        """The claimant's record, household and the claimed children as the registry has them."""
        with self._uow(ctx) as uow:
            case = case_ops.get_case(uow, case_id)
            form = case_ops.case_body(uow, case).get("form", {})
            atena = case.applicant_atena_number
        return lookup(self.registry, ctx, atena, read_children(form))

    def enter_paper_claim(
        self,
        ctx: TenantContext,
        *,
        procedure_id: str,
        form: dict[str, Any],
        applicant_atena_number: str,
        filed_on: date,
    ) -> str:
        """A paper claim keyed in by the clerk; returns the new case id."""
        self.registry.person(ctx, applicant_atena_number)  # refuses an unknown 統合宛名番号
        with self._uow(ctx) as uow:
            case = case_ops.open_paper_case(
                uow,
                procedure_id=procedure_id,
                form=form,
                applicant_atena_number=applicant_atena_number,
                filed_on=filed_on,
            )
            return case.id

    def prefill(self, ctx: TenantContext, atena_number: str) -> dict[str, Any]:
        """A claim form filled from the registry: the claimant and the children of the household."""
        person = self.registry.person(ctx, atena_number)
        household = self.registry.household(ctx, person.household_number)
        today = self.today()
        children = []
        spouse: dict[str, Any] = {"has_spouse": False}
        for m in household.members:
            if m.atena_number == atena_number:
                continue
            age = (
                today.year
                - m.birth_date.year
                - ((today.month, today.day) < (m.birth_date.month, m.birth_date.day))
            )
            if m.relationship in {"妻", "夫", "妻（未届）", "夫（未届）"} or (
                person.relationship in {"妻", "夫"} and m.relationship == "世帯主"
            ):
                spouse = {
                    "has_spouse": True,
                    "name": m.name,
                    "kana": m.name_kana,
                    "birth_date": m.birth_date.isoformat(),
                    "living_arrangement": "同居",
                }
            elif age < 19:
                children.append(
                    {
                        "name": m.name,
                        "kana": m.name_kana,
                        "birth_date": m.birth_date.isoformat(),
                        "relationship": "子",
                        "living_arrangement": "同居",
                    }
                )
        return {
            "claimant": {
                "name": person.name,
                "kana": person.name_kana,
                "birth_date": person.birth_date.isoformat(),
                "address": person.address,
                "is_public_servant": False,
            },
            "spouse": spouse,
            "claim": {"reason": "その他"},
            "children": children,
            "payee": {"use_public_fund_account": False},
        }

    # -- decisions -------------------------------------------------------------------------------
    def certify(self, ctx: TenantContext, case_id: str, options: CertifyOptions | None = None) -> Decision:
        """認定: check everything, then create the recipient, children and amounts in one go."""
        options = options or CertifyOptions()
        with self._uow(ctx) as uow:
            case = case_ops.get_case(uow, case_id)
            case_ops.require_open(case)
            if case.kind != "claim":
                raise ValidationError(
                    f"case {case_id} is a {case.kind}, not a claim", message_ja="認定請求の案件ではありません"
                )
            claim = read_claim(case_ops.case_body(uow, case).get("form", {}))
            atena = case.applicant_atena_number
            filed_on = options.filed_on or case.filed_on
        facts = lookup(self.registry, ctx, atena, claim.children)
        reasons: list[str] = []
        if atena is None or facts.claimant is None:
            reasons.append("請求者が住民記録で確認できません（統合宛名番号が未特定です）")
        reasons += [m.problem for m in facts.children if m.problem]
        if not claim.payee.public_fund_account:
            if claim.payee.account is None:
                reasons.append("振込先口座が指定されていません")
            else:
                reasons += claim.payee.account.check()
        child_facts = [
            ChildFacts(
                child_id=str(m.claimed.index),
                birth_date=m.record.birth_date if m.record else m.claimed.birth_date,
                in_care=not m.claimed.university_age,
                lives_apart=m.claimed.lives_apart,
                apart_statement_filed=m.claimed.index in options.apart_statements,
                support_confirmation_filed=m.claimed.university_age and m.claimed.supported,
            )
            for m in facts.children
        ]
        try:
            event = QualifyingEvent(claim.event[0], claim.event[1]) if claim.event else None
            rule_claim = Claim(filed_on, event)
        except ValidationError as error:
            raise CertificationRefused([error.message_ja or error.message]) from None
        removed = facts.claimant is not None and facts.claimant.is_removed
        recipient_facts = RecipientFacts(
            claim=rule_claim,
            resident=facts.resident_on(filed_on),
            civil_servant=claim.civil_servant,
            moved_out_on=facts.claimant.removed_on if removed and facts.claimant else None,
        )
        with self._uow(ctx) as uow:
            matched = [m.record.atena_number for m in facts.children if m.record is not None]
            elsewhere = self._certified_elsewhere(uow, matched, exclude_atena=atena)
            if atena is not None:
                current = self._current_recipient(uow, atena)
                if current is not None:
                    reasons.append(
                        f"請求者は既に児童手当の受給者です（受給者番号 {current.recipient_number}）"
                    )
            index_of = {m.record.atena_number: str(m.claimed.index) for m in facts.children if m.record}
            for problem in check_eligibility(
                recipient_facts,
                child_facts,
                children_certified_elsewhere={index_of[a] for a in elsewhere if a in index_of},
            ):
                label = ""
                if problem.child_id is not None:
                    label = f"児童 {facts.children[int(problem.child_id)].claimed.name}: "
                reasons.append(f"{label}{problem.message_ja}（{problem.legal_basis}）")
            if reasons:
                raise CertificationRefused(list(dict.fromkeys(reasons)))
            case = case_ops.get_case(uow, case_id)
            case_ops.require_open(case)
            assert facts.claimant is not None
            assert atena is not None
            now = self.clock()
            recipient = Recipient(
                id=records.new_id(),
                recipient_number=records.new_recipient_number(uow),
                atena_number=atena,
                household_number=facts.claimant.household_number,
                name=facts.claimant.name,
                name_kana=facts.claimant.name_kana,
                birth_date=facts.claimant.birth_date,
                address=facts.claimant.address,
                spouse_name=claim.spouse_name,
                civil_servant=claim.civil_servant,
                status=RecipientStatus.CERTIFIED,
                claim_filed_on=filed_on,
                claim_event_kind=event.kind.value if event else None,
                claim_event_date=event.occurred_on if event else None,
                start_month=0,
                moved_out_on=recipient_facts.moved_out_on,
                public_fund_account=claim.payee.public_fund_account,
                case_id=case.id,
                certified_at=now,
                updated_at=now,
            )
            self._set_account(recipient, None if claim.payee.public_fund_account else claim.payee.account)
            uow.session.add(recipient)
            children = []
            for m in facts.children:
                assert m.record is not None
                child = Child(
                    id=records.new_id(),
                    recipient_id=recipient.id,
                    atena_number=m.record.atena_number,
                    name=m.record.name,
                    name_kana=m.record.name_kana,
                    birth_date=m.record.birth_date,
                    relationship=m.claimed.relationship,
                    lives_apart=m.claimed.lives_apart,
                    apart_statement_filed=m.claimed.index in options.apart_statements,
                    support_confirmation_filed=m.claimed.university_age and m.claimed.supported,
                    lives_in_japan=True,
                    active=True,
                )
                children.append(child)
                uow.session.add(child)
            computed = records.compute(recipient, children)
            if computed.entitlement is None:
                raise CertificationRefused(["支給対象となる月がありません（支給要件を満たしていません）"])
            records.apply_computed(uow, recipient, computed)
            records.record_version(uow, recipient, "certified", now=now, case_id=case.id)
            start = wareki_month(computed.entitlement.start)
            first_amount = computed.periods[0].amount if computed.periods else 0
            message = f"認定しました。支給開始月: {start}分から（月額 {yen(first_amount)}）"
            notice = self._issue_notice(uow, recipient, NoticeKind.CERTIFICATION, case, now, lead=(
                f"児童手当法第7条の規定により、{start}分から児童手当の受給資格及び手当の額を認定しましたので通知します。"
            ))  # fmt: skip
            self._close_case(uow, case, "certified", message, now, recipient.id)
            case_ops.send_result(
                uow,
                case,
                outcome="certified",
                status=SubmissionStatus.DECIDED,
                message_ja=message,
                decided_at=now,
                details={
                    "recipient_number": recipient.recipient_number,
                    "start_month": str(computed.entitlement.start),
                    "monthly_amount": first_amount,
                },
            )
            return Decision("certified", message, case.id, recipient.id, notice.id)

    def reject(self, ctx: TenantContext, case_id: str, reason: str) -> Decision:
        """却下 with a reason the resident sees."""
        reason = reason.strip()
        if not reason:
            raise ValidationError("a rejection needs a reason", message_ja="却下の理由を入力してください")
        with self._uow(ctx) as uow:
            case = case_ops.get_case(uow, case_id)
            case_ops.require_open(case)
            now = self.clock()
            message = f"却下しました。理由: {reason}"
            case.status = CaseStatus.REJECTED
            case.decision, case.decision_message = "rejected", message
            case.decided_at, case.decided_by = now, str(ctx.actor)[:100]
            case_ops.send_result(
                uow,
                case,
                outcome="rejected",
                status=SubmissionStatus.REJECTED,
                message_ja=message,
                decided_at=now,
            )
            return Decision("rejected", message, case.id)

    def close_case(self, ctx: TenantContext, case_id: str, message: str = "") -> Decision:
        """A notification (届出) handled: the resident is told it is done."""
        with self._uow(ctx) as uow:
            case = case_ops.get_case(uow, case_id)
            case_ops.require_open(case)
            if case.kind == "claim":
                raise ValidationError(
                    "a claim is certified or rejected, not closed",
                    message_ja="認定請求は認定または却下で処理してください",
                )
            now = self.clock()
            text = message.strip() or "届出の内容を確認し、処理を完了しました。"
            self._close_case(uow, case, "completed", text, now, case.recipient_id, status=CaseStatus.CLOSED)
            case_ops.send_result(
                uow,
                case,
                outcome="completed",
                status=SubmissionStatus.COMPLETED,
                message_ja=text,
                decided_at=now,
            )
            return Decision("completed", text, case.id)

    def decide_revision(
        self, ctx: TenantContext, case_id: str, options: CertifyOptions | None = None
    ) -> Decision:
        """額改定 from a 額改定請求・届 case: children 追加 are matched in the registry, 削除 end."""
        options = options or CertifyOptions()
        with self._uow(ctx) as uow:
            case = case_ops.get_case(uow, case_id)
            case_ops.require_open(case)
            body = case_ops.case_body(uow, case).get("form", {})
            atena = case.applicant_atena_number
            recipient = self._current_recipient(uow, atena) if atena else None
            if recipient is None:
                raise CertificationRefused(["申請者は児童手当の受給者ではありません"])
            existing = records.children_of(uow, recipient.id)
            recipient_id = recipient.id
        revision = body.get("revision") or {}
        event_date = parse_date(revision.get("event_date")) or case.filed_on
        claimed = read_children(body)
        adds = [c for c in claimed if c.change != "削除"]
        facts = lookup(self.registry, ctx, atena, adds)
        problems = [m.problem for m in facts.children if m.problem]
        if problems:
            raise CertificationRefused(problems)
        removals: list[Removal] = []
        for c in claimed:
            if c.change != "削除":
                continue
            match = next(
                (e for e in existing if e.active and e.birth_date == c.birth_date and _same(e.name, c.name)),
                None,
            )
            if match is None:
                raise CertificationRefused([f"児童 {c.name} は現在の支給対象児童にありません"])
            removals.append(Removal(match.id, event_date, died=revision.get("reason") == "児童の死亡"))
        change = AmountChange(
            filed_on=options.filed_on or case.filed_on,
            add=[
                NewChild(
                    m.record.atena_number,
                    lives_apart=m.claimed.lives_apart,
                    apart_statement_filed=m.claimed.index in options.apart_statements,
                    support_confirmation_filed=m.claimed.university_age and m.claimed.supported,
                    relationship=m.claimed.relationship,
                )
                for m in facts.children
                if m.record is not None
            ],
            remove=removals,
            birth=revision.get("reason") == "出生",
        )
        return self.change_amount(ctx, recipient_id, change, case_id=case_id)

    def change_amount(
        self,
        ctx: TenantContext,
        recipient_id: str,
        change: AmountChange,
        *,
        case_id: str | None = None,
        task_id: str | None = None,
    ) -> Decision:
        """額改定: add or remove children, recompute, notice; nothing applied when anything is wrong."""
        added = [self.registry.person(ctx, c.atena_number) for c in change.add]
        with self._uow(ctx, purposes.CASE_PROCESS.code, purposes.EVENTS_CONSUME.code) as uow:
            recipient = self._recipient(uow, recipient_id)
            if recipient.status != RecipientStatus.CERTIFIED:
                raise CertificationRefused(["この受給者の受給資格は消滅しています"])
            reasons: list[str] = []
            elsewhere = self._certified_elsewhere(
                uow, [p.atena_number for p in added], exclude_atena=recipient.atena_number
            )
            children = records.children_of(uow, recipient.id)
            held = {c.atena_number for c in children if c.active}
            for person in added:
                if person.atena_number in elsewhere:
                    reasons.append(
                        f"児童 {person.name} は既に他の受給者の児童手当の対象として認定されています"
                    )
                if person.atena_number in held:
                    reasons.append(f"児童 {person.name} は既に支給対象児童です")
                if person.is_removed:
                    reasons.append(f"児童 {person.name} は住民記録上、消除されています")
            by_id = {c.id: c for c in children}
            for removal in change.remove:
                child = by_id.get(removal.child_id)
                if child is None or not child.active:
                    reasons.append("削除する児童が支給対象児童にありません")
            if not change.add and not change.remove:
                reasons.append("追加・削除する児童がありません")
            if reasons:
                raise CertificationRefused(list(dict.fromkeys(reasons)))
            now = self.clock()
            before = records.amount_periods(uow, recipient.id)
            for person, new in zip(added, change.add, strict=True):
                event_kind = EventKind.BIRTH.value if change.birth else None
                child = Child(
                    id=records.new_id(),
                    recipient_id=recipient.id,
                    atena_number=person.atena_number,
                    name=person.name,
                    name_kana=person.name_kana,
                    birth_date=person.birth_date,
                    relationship=new.relationship,
                    lives_apart=new.lives_apart,
                    apart_statement_filed=new.apart_statement_filed,
                    support_confirmation_filed=new.support_confirmation_filed,
                    lives_in_japan=True,
                    added_filed_on=change.filed_on,
                    added_event_kind=event_kind,
                    added_event_date=person.birth_date if event_kind else None,
                    active=True,
                )
                uow.session.add(child)
                children.append(child)
            for removal in change.remove:
                child = by_id[removal.child_id]
                if removal.died:
                    child.died_on = removal.on
                else:
                    child.left_care_on = removal.on
                child.active = False
            try:
                computed = records.compute(recipient, children)
            except ValidationError as error:
                raise CertificationRefused([error.message_ja or error.message]) from None
            records.apply_computed(uow, recipient, computed)
            records.record_version(
                uow, recipient, "amount_changed", now=now, case_id=case_id, task_id=task_id
            )
            changed_from = _first_change(before, records.amount_periods(uow, recipient.id))
            when = wareki_month(changed_from) if changed_from else "（変更なし）"
            new_amount = _amount_at(records.amount_periods(uow, recipient.id), changed_from)
            message = f"手当額を改定しました。改定年月: {when}分から（月額 {yen(new_amount)}）"
            case = case_ops.get_case(uow, case_id) if case_id else None
            notice = self._issue_notice(
                uow,
                recipient,
                NoticeKind.AMOUNT_CHANGE,
                case,
                now,
                lead=f"児童手当法第9条の規定により、{when}分から児童手当の額を改定しましたので通知します。",
            )
            if case is not None:
                case_ops.require_open(case)
                self._close_case(uow, case, "amount_changed", message, now, recipient.id)
                case_ops.send_result(
                    uow,
                    case,
                    outcome="amount_decided",
                    status=SubmissionStatus.DECIDED,
                    message_ja=message,
                    decided_at=now,
                    details={"recipient_number": recipient.recipient_number, "monthly_amount": new_amount},
                )
            return Decision("amount_changed", message, case_id, recipient.id, notice.id)

    def end_from_case(self, ctx: TenantContext, case_id: str) -> Decision:
        """消滅 from a 受給事由消滅の届出 case."""
        with self._uow(ctx) as uow:
            case = case_ops.get_case(uow, case_id)
            case_ops.require_open(case)
            body = case_ops.case_body(uow, case).get("form", {})
            recipient = (
                self._current_recipient(uow, case.applicant_atena_number)
                if case.applicant_atena_number
                else None
            )
            if recipient is None:
                raise CertificationRefused(["届出者は児童手当の受給者ではありません"])
            recipient_id = recipient.id
        ext = body.get("extinction") or {}
        reason = str(ext.get("reason", ""))
        on = parse_date(ext.get("event_date")) or case.filed_on
        kind = {
            "他の市区町村へ転出": EndKind.MOVED_OUT,
            "海外へ転出": EndKind.MOVED_OUT,
            "公務員になった": EndKind.CIVIL_SERVANT,
        }.get(reason, EndKind.NO_CHILD)
        return self.end_entitlement(ctx, recipient_id, EndRequest(kind, on), case_id=case_id)

    def end_entitlement(
        self,
        ctx: TenantContext,
        recipient_id: str,
        request: EndRequest,
        *,
        case_id: str | None = None,
        task_id: str | None = None,
    ) -> Decision:
        """消滅: the entitlement ends in the month of the event (第8条第2項)."""
        if request.kind not in END_KIND_LABELS:
            raise ValidationError(f"unknown end kind {request.kind}", message_ja="消滅事由が正しくありません")
        with self._uow(ctx, purposes.CASE_PROCESS.code, purposes.EVENTS_CONSUME.code) as uow:
            recipient = self._recipient(uow, recipient_id)
            if recipient.status != RecipientStatus.CERTIFIED:
                raise CertificationRefused(["この受給者の受給資格は既に消滅しています"])
            if request.on < recipient.claim_filed_on:
                raise CertificationRefused(["消滅日が認定請求日より前です"])
            now = self.clock()
            children = records.children_of(uow, recipient.id)
            if request.kind == EndKind.MOVED_OUT:
                recipient.moved_out_on = request.on
            elif request.kind == EndKind.DIED:
                recipient.died_on = request.on
            elif request.kind == EndKind.CIVIL_SERVANT:
                recipient.civil_servant_from = request.on
            else:
                for child in children:
                    if child.active:
                        child.left_care_on = request.on
                        child.active = False
            computed = records.compute(recipient, children)
            records.apply_computed(uow, recipient, computed)
            recipient.status = RecipientStatus.ENDED
            if recipient.end_month is None or request.kind == EndKind.NO_CHILD:
                recipient.end_month = min(
                    recipient.end_month or month_no(_ym(request.on)), month_no(_ym(request.on))
                )
            records.record_version(uow, recipient, "ended", now=now, case_id=case_id, task_id=task_id)
            last = wareki_month(month_of(recipient.end_month)) if recipient.end_month is not None else "—"
            message = f"受給資格が消滅しました（{END_KIND_LABELS[request.kind]}）。{last}分まで支給します。"
            case = case_ops.get_case(uow, case_id) if case_id else None
            notice = self._issue_notice(
                uow,
                recipient,
                NoticeKind.EXTINCTION,
                case,
                now,
                lead=(
                    f"{END_KIND_LABELS[request.kind]}（{_wareki_day(request.on)}）により児童手当の支給事由が"
                    f"消滅しましたので通知します。{last}分までの手当を支給します。"
                ),
            )
            if case is not None:
                case_ops.require_open(case)
                self._close_case(uow, case, "ended", message, now, recipient.id)
                case_ops.send_result(
                    uow,
                    case,
                    outcome="ended",
                    status=SubmissionStatus.DECIDED,
                    message_ja=message,
                    decided_at=now,
                )
            return Decision("ended", message, case_id, recipient.id, notice.id)

    def change_account(
        self, ctx: TenantContext, recipient_id: str, account: Account | None, *, public_fund: bool = False
    ) -> None:
        """振込先口座の変更 (or the 公金受取口座 as confirmed by the clerk)."""
        if account is not None:
            problems = account.check()
            if problems:
                raise CertificationRefused(problems)
        elif not public_fund:
            raise CertificationRefused(["振込先口座を入力してください"])
        with self._uow(ctx) as uow:
            recipient = self._recipient(uow, recipient_id)
            recipient.public_fund_account = public_fund
            self._set_account(recipient, account)
            records.record_version(uow, recipient, "account_changed", now=self.clock())

    # -- recipients and notices ------------------------------------------------------------------
    def recipient(self, ctx: TenantContext, recipient_id: str) -> RecipientDetail:
        with self._uow(ctx) as uow:
            r = self._recipient(uow, recipient_id)
            uow.record("read", "ca_recipients", r.id, person=r.atena_number, view="recipient")
            return self._detail(uow, r, history=True)

    def find_recipients(
        self, ctx: TenantContext, *, atena_number: str | None = None, number: str | None = None
    ) -> list[RecipientDetail]:
        with self._uow(ctx) as uow:
            stmt = select(Recipient)
            if atena_number:
                stmt = stmt.where(Recipient.atena_number == atena_number)
            if number:
                stmt = stmt.where(Recipient.recipient_number == number)
            if not atena_number and not number:
                return []
            rows = list(uow.session.scalars(stmt.order_by(Recipient.certified_at)))
            for r in rows:
                uow.record("read", "ca_recipients", r.id, person=r.atena_number, view="search")
            return [self._detail(uow, r) for r in rows]

    def notice_pdf(self, ctx: TenantContext, notice_id: str) -> tuple[str, bytes]:
        with self._uow(ctx) as uow:
            notice = uow.session.get(Notice, notice_id)
            if notice is None:
                raise NotFound(f"no notice {notice_id}", message_ja="該当する通知書がありません")
            uow.record("read", "ca_notices", notice.id, person=notice.atena_number)
            return f"{notice.kind}-{notice.id[:8]}.pdf", notice.pdf

    # -- helpers ---------------------------------------------------------------------------------
    @staticmethod
    def _recipient(uow: UnitOfWork, recipient_id: str) -> Recipient:
        r = uow.session.get(Recipient, recipient_id)
        if r is None:
            raise NotFound(f"no recipient {recipient_id}", message_ja="該当する受給者がありません")
        return r

    @staticmethod
    def _current_recipient(uow: UnitOfWork, atena_number: str) -> Recipient | None:
        return uow.session.scalar(
            select(Recipient).where(
                Recipient.atena_number == atena_number, Recipient.status == RecipientStatus.CERTIFIED
            )
        )

    @staticmethod
    def _certified_elsewhere(
        uow: UnitOfWork, atena_numbers: Sequence[str], *, exclude_atena: str | None
    ) -> set[str]:
        """Children (統合宛名番号) currently counted for another recipient."""
        if not atena_numbers:
            return set()
        stmt = (
            select(Child.atena_number)
            .join(Recipient, Recipient.id == Child.recipient_id)
            .where(
                Child.atena_number.in_(list(atena_numbers)),
                Child.active.is_(True),
                Recipient.status == RecipientStatus.CERTIFIED,
            )
        )
        if exclude_atena:
            stmt = stmt.where(Recipient.atena_number != exclude_atena)
        return set(uow.session.scalars(stmt))

    @staticmethod
    def _set_account(recipient: Recipient, account: Account | None) -> None:
        recipient.bank_code = account.bank_code if account else None
        recipient.bank_name = account.bank_name if account else None
        recipient.branch_code = account.branch_code if account else None
        recipient.branch_name = account.branch_name if account else None
        recipient.account_type = account.account_type if account else None
        recipient.account_number = account.account_number if account else None
        recipient.account_holder_kana = account.holder_kana if account else None

    @staticmethod
    def _close_case(
        uow: UnitOfWork,
        case: Case,
        decision: str,
        message: str,
        now: datetime,
        recipient_id: str | None,
        *,
        status: str = CaseStatus.DECIDED,
    ) -> None:
        case.status = status
        case.decision, case.decision_message = decision, message
        case.decided_at, case.decided_by = now, str(uow.ctx.actor)[:100]
        case.recipient_id = recipient_id

    def _issue_notice(
        self, uow: UnitOfWork, recipient: Recipient, kind: str, case: Case | None, now: datetime, *, lead: str
    ) -> Notice:
        periods = records.amount_periods(uow, recipient.id)
        rows = [
            (
                f"{wareki_month(month_of(p.from_month))}〜{wareki_month(month_of(p.to_month))}",
                yen(p.amount),
                "、".join(
                    f"{line['name']} {yen(line['amount'])}（{line['reason_ja']}）"
                    for line in json.loads(p.lines)
                ),
            )
            for p in periods
        ]
        items = [
            ("受給者番号", recipient.recipient_number),
            ("支給開始月", wareki_month(month_of(recipient.start_month)) + "分"),
        ]
        if recipient.end_month is not None and kind == NoticeKind.EXTINCTION:
            items.append(("支給終了月", wareki_month(month_of(recipient.end_month)) + "分"))
        if recipient.public_fund_account:
            items.append(("振込先", "公金受取口座"))
        elif recipient.account_number:
            items.append(
                (
                    "振込先",
                    f"{recipient.bank_name or recipient.bank_code} "
                    f"{recipient.branch_name or recipient.branch_code} "
                    f"{ACCOUNT_TYPE_LABELS.get(recipient.account_type or 0, '')} {recipient.account_number}",
                )
            )
        serial = f"CA{now.astimezone(JST).year}-{records.next_number(uow, 'notice'):07d}"
        content = NoticeContent(
            kind=kind,
            title=NOTICE_TITLES[kind],
            serial=serial,
            issued_on=now.astimezone(JST).date(),
            municipality=uow.tenant.name,
            addressee_name=recipient.name,
            addressee_address=recipient.address,
            recipient_number=recipient.recipient_number,
            lead=lead,
            items=items,
            amount_rows=rows if kind != NoticeKind.EXTINCTION else rows[-1:],
            notes=(
                "手当は、毎年2月・4月・6月・8月・10月・12月に、それぞれの前月分までを指定の口座に振り込みます。",
            ),
        )
        pdf = seal_notice(content, self.sealer(uow))
        notice = Notice(
            id=records.new_id(),
            recipient_id=recipient.id,
            case_id=case.id if case else None,
            atena_number=recipient.atena_number,
            kind=kind,
            issued_at=now,
            pdf=pdf,
            sha256=hashlib.sha256(pdf).hexdigest(),
        )
        uow.session.add(notice)
        return notice

    def _detail(self, uow: UnitOfWork, r: Recipient, *, history: bool = False) -> RecipientDetail:
        children = records.children_of(uow, r.id)
        periods = records.amount_periods(uow, r.id)
        account = None
        if r.account_number:
            account = (
                f"{r.bank_name or ''}（{r.bank_code}） {r.branch_name or ''}（{r.branch_code}） "
                f"{ACCOUNT_TYPE_LABELS.get(r.account_type or 0, '')} {r.account_number} "
                f"{r.account_holder_kana or ''}"
            )
        versions: list[tuple[int, str, datetime, str]] = []
        notices: list[tuple[str, str, datetime]] = []
        if history:
            versions = [
                (v.version_no, v.change, v.recorded_at, v.actor)
                for v in uow.session.scalars(
                    select(RecipientVersion)
                    .where(RecipientVersion.recipient_id == r.id)
                    .order_by(RecipientVersion.version_no)
                )
            ]
            notices = [
                (n.id, n.kind, n.issued_at)
                for n in uow.session.scalars(
                    select(Notice).where(Notice.recipient_id == r.id).order_by(Notice.issued_at)
                )
            ]
        return RecipientDetail(
            id=r.id,
            recipient_number=r.recipient_number,
            atena_number=r.atena_number,
            name=r.name,
            name_kana=r.name_kana,
            address=r.address,
            status=r.status,
            start_month=wareki_month(month_of(r.start_month)),
            end_month=wareki_month(month_of(r.end_month)) if r.end_month is not None else None,
            end_reason=EndReason(r.end_reason).label_ja if r.end_reason else None,
            paid_through=wareki_month(month_of(r.paid_through)) if r.paid_through is not None else None,
            public_fund_account=r.public_fund_account,
            account=account,
            children=[
                ChildRow(
                    c.id,
                    c.atena_number,
                    c.name,
                    c.birth_date,
                    c.relationship,
                    c.lives_apart,
                    c.support_confirmation_filed,
                    c.active,
                    c.left_care_on,
                    c.died_on,
                )
                for c in children
            ],
            amounts=[
                AmountRow(
                    wareki_month(month_of(p.from_month)),
                    wareki_month(month_of(p.to_month)),
                    p.amount,
                    json.loads(p.lines),
                )
                for p in periods
            ],
            versions=versions,
            notices=notices,
        )


def _same(a: str, b: str) -> bool:
    return normalize_name(a) == normalize_name(b)


def _ym(day: date) -> YearMonth:
    return YearMonth.of(day)


def _wareki_day(day: date) -> str:
    return format_wareki(day)


def _first_change(before: Sequence[AmountPeriod], after: Sequence[AmountPeriod]) -> YearMonth | None:
    """The first month whose amount differs between two sets of periods (None when none does)."""

    def by_month(periods: Sequence[AmountPeriod]) -> dict[int, tuple[int, str]]:
        out: dict[int, tuple[int, str]] = {}
        for p in periods:
            for m in range(p.from_month, p.to_month + 1):
                out[m] = (p.amount, p.lines)
        return out

    a, b = by_month(before), by_month(after)
    months = sorted(set(a) | set(b))
    for m in months:
        if a.get(m, (0, ""))[0] != b.get(m, (0, ""))[0]:
            return month_of(m)
    return None


def _amount_at(periods: Sequence[AmountPeriod], month: YearMonth | None) -> int:
    if month is None:
        return periods[-1].amount if periods else 0
    n = month_no(month)
    return next((p.amount for p in periods if p.from_month <= n <= p.to_month), 0)
