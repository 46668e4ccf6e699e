"""Issuing and verifying certificates of the resident registry (住民票の写し等の交付).

``issue(storage, ctx, request)`` is one transaction in the My Number zone: it reads the person(s)
or the household from the register under the purpose ``registry.certificate.issue`` (each read
audited), maps the records to the certificate model, applies the optional-item policy (an item is
printed only when requested AND allowed for the requester kind, 住基法第12条第5項), allocates the
next serial of the tenant for the year (``R8-000123``), renders and seals the PDF with the
tenant's 電子公印 (PAdES, key in the keystore), stores the issuance record and an audit entry per
person (purpose, who, whose data, which items). The PDF goes back to the caller only.

``verify(storage, tenant, pdf)`` checks a presented PDF: the seal is intact, covers the whole file
and chains to the configured trust root, and the serial exists in the tenant's issuance records
with the same content digest. ``check_serial`` answers the QR code's question (does this serial
with this digest prefix exist?) without any personal data.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from jichitai.mynumber.registry import purposes
from jichitai.mynumber.registry.certificates import (
    CertificateCheck,
    CertificateKind,
    CertifiedItem,
    ChangeNote,
    ForeignResidentFacts,
    HouseholdFacts,
    IssueOptions,
    Layout,
    OptionalItem,
    PersonFacts,
    Removal,
    RequesterKind,
    Sex,
    issue_certificate,
    verify_certificate,
)
from jichitai.mynumber.registry.certificates.policy import decide_items
from jichitai.mynumber.registry.issuance_models import CertificateIssuance
from jichitai.mynumber.registry.models import STATUS_RESIDENT, Household, Person, RegistryCounter
from jichitai.mynumber.registry.seal import tenant_sealer, trust_roots
from jichitai.mynumber.registry.service.queries import PersonRecord, current_household, current_person
from jichitai.platform.context import PURPOSES, Purpose, TenantContext, system
from jichitai.platform.errors import PermissionDenied, ValidationError
from jichitai.platform.pdf.qr import HASH_PREFIX_HEX
from jichitai.platform.storage import Storage, UnitOfWork
from jichitai.platform.tenants import Tenant
from jichitai.platform.wareki import format_wareki
from jichitai.platform.zones import Zone

ISSUE = Purpose(
    "registry.certificate.issue",
    "住民票の写し等の交付",
    "住民基本台帳法第12条・第12条の2・第12条の3、同法施行令第15条の4",
)
VERIFY = Purpose(
    "registry.certificate.verify",
    "交付した証明書の真正性の確認",
    "住民基本台帳法第12条（交付事務）、個人情報保護法第66条（安全管理措置）",
)
PURPOSES.register(ISSUE, VERIFY)
purposes.permit_inquiry(ISSUE.code)

JST = ZoneInfo("Asia/Tokyo")
VERIFY_URL_ENV = "JICHITAI_CERTIFICATE_VERIFY_URL"
_REIWA = date(2019, 5, 1)
_HEISEI = date(1989, 1, 8)
_FOREIGN = "外国人"
_SPECIAL_PERMANENT = "特別永住者"


@dataclass(frozen=True)
class IssueRequest:
    """One request at the counter (交付請求).

    Per person (``Layout.PERSON``): ``atena_numbers`` (one sheet each), or every resident of
    ``household_number``. Household-listed (``Layout.HOUSEHOLD``, 世帯連記式): the residents of
    ``household_number`` (or of the first person's household), narrowed to ``atena_numbers``
    when given (世帯の一部).
    """

    kind: CertificateKind
    layout: Layout = Layout.PERSON
    atena_numbers: tuple[str, ...] = ()  # 統合宛名番号
    household_number: str | None = None  # 世帯番号
    requester: RequesterKind = RequesterKind.SELF
    requested_items: frozenset[OptionalItem] = field(default_factory=frozenset)
    certified_items: frozenset[CertifiedItem] = field(default_factory=frozenset)  # 記載事項証明書
    deliver_to_registered_address: bool = False  # a proxy's numbers go by mail to the address
    mayor_name: str = ""  # 市区町村長の氏名 as printed next to the title


@dataclass(frozen=True)
class IssuedDocument:
    """A sealed certificate and what was recorded about it."""

    serial: str
    pdf: bytes
    filename: str
    kind: CertificateKind
    layout: Layout
    pages: int
    content_digest: str
    pdf_sha256: str
    subjects: tuple[str, ...]  # 統合宛名番号 on the certificate, in print order
    printed: frozenset[OptionalItem]
    refused: dict[OptionalItem, str]  # requested but not allowed, with the Japanese reason
    issue_date: date
    issued_at: datetime


@dataclass(frozen=True)
class SerialCheck:
    """The public answer for a QR code: no personal data, only whether the record exists."""

    found: bool
    serial: str
    kind_label: str = ""
    issue_date: str = ""  # 和暦
    municipality_name: str = ""


# -- serials --------------------------------------------------------------------------------------


def era_year(day: date) -> str:
    """``R8`` for a day in 令和8年 (the prefix of the year's serials)."""
    if day >= _REIWA:
        return f"R{day.year - 2018}"
    if day >= _HEISEI:
        return f"H{day.year - 1988}"
    return f"S{day.year - 1925}"


def allocate_serial(uow: UnitOfWork, issue_date: date) -> str:
    """The next serial of the tenant for the issue date's year (no gaps: rolled back with the tx)."""
    prefix = era_year(issue_date)
    name = f"certificate_serial_{prefix}"
    dialect = uow.session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    uow.session.execute(
        insert(RegistryCounter)
        .values(name=name, next_value=1)
        .on_conflict_do_nothing(index_elements=["name"])
    )
    counter = uow.session.execute(
        select(RegistryCounter).where(RegistryCounter.name == name).with_for_update()
    ).scalar_one()
    value = counter.next_value
    counter.next_value = value + 1
    return f"{prefix}-{value:06d}"


# -- mapping records to the certificate model -----------------------------------------------------


def _sex(code: str) -> Sex:
    return Sex.FEMALE if code == "2" else Sex.MALE


def _address(record: PersonRecord) -> str:
    return f"{record.address}　{record.address_note}" if record.address_note else record.address


def person_facts(record: PersonRecord, household_head: str) -> PersonFacts:
    """The certificate model of one register record (pure)."""
    foreign = None
    if record.kind == _FOREIGN:
        status = record.residence_status or ""
        foreign = ForeignResidentFacts(
            nationality=record.nationality or "",
            category=_SPECIAL_PERMANENT if status == _SPECIAL_PERMANENT else "中長期在留者",
            residence_status="" if status == _SPECIAL_PERMANENT else status,
            period_ends_on=record.stay_expires_on,
            card_number=record.residence_card_number or "",
        )
    removal = None
    if record.is_removed and record.removed_on is not None:
        removal = Removal(record.removal_reason or "消除", record.removed_on, record.moved_out_to or "")
    return PersonFacts(
        name=record.name,
        kana=record.name_kana,
        birth_date=record.birth_date,
        sex=_sex(record.sex),
        relationship=record.relationship,
        became_resident_on=record.became_resident_on,
        address_since=record.address_since,
        address=_address(record),
        resident_code=record.juminhyo_code,
        individual_number=record.individual_number or "",
        household_head=household_head,
        previous_address=record.previous_address or "",
        address_before_move_in=record.address_before_move_in or "",
        honseki=record.honseki or "",
        hittousha=record.hittosha or "",
        foreign=foreign,
        alias=record.alias or "",
        alias_kana=record.alias_kana or "",
        former_surname=record.former_surname or "",
        former_surname_kana=record.former_surname_kana or "",
        last_change=ChangeNote(record.last_change, record.last_change_on, record.last_notified_on),
        removal=removal,
    )


def _head_name(uow: UnitOfWork, household_number: str) -> str:
    """The current 世帯主's name (not a read of that person's record beyond the name on the sheet)."""
    stmt = (
        select(Person.name)
        .join(Household, Household.id == Person.household_id)
        .where(
            Household.household_number == household_number,
            Person.relationship == "世帯主",
            Person.status == STATUS_RESIDENT,
        )
    )
    return uow.session.scalar(stmt) or ""


def _load_records(uow: UnitOfWork, request: IssueRequest) -> tuple[list[PersonRecord], str | None]:
    atena = tuple(dict.fromkeys(a.strip() for a in request.atena_numbers if a.strip()))
    number = (request.household_number or "").strip() or None
    if request.layout is Layout.HOUSEHOLD:
        if number is None:
            if not atena:
                raise ValidationError(
                    "a household certificate needs a household or a person",
                    message_ja="世帯番号又は統合宛名番号を指定してください",
                )
            number = current_person(uow, atena[0]).household_number
        members = list(current_household(uow, number).members)
        if atena:
            by_number = {m.atena_number: m for m in members}
            missing = [a for a in atena if a not in by_number]
            if missing:
                raise ValidationError(
                    f"not residents of household {number}: {missing}",
                    message_ja=f"統合宛名番号 {'、'.join(missing)} は世帯{number}の世帯員ではありません",
                )
            members = [m for m in members if m.atena_number in atena]
        return members, number
    if atena:
        return [current_person(uow, a) for a in atena], None
    if number is not None:
        return list(current_household(uow, number).members), number
    raise ValidationError("nobody to certify", message_ja="証明する住民を指定してください")


def _with_numbers(uow: UnitOfWork, records: Sequence[PersonRecord]) -> list[PersonRecord]:
    # decrypting 個人番号 is its own audited read, done only when it will be printed
    return [current_person(uow, r.atena_number, with_individual_number=True) for r in records]


# -- issue ----------------------------------------------------------------------------------------


def default_verify_base_url(storage: Storage, tenant: str) -> str:
    """Where the QR code points: the verification page for the tenant.

    In production this is the internet-side copy of the verification endpoint (see
    :mod:`jichitai.mynumber.web`), set with ``JICHITAI_CERTIFICATE_VERIFY_URL``.
    """
    base = os.environ.get(VERIFY_URL_ENV, "").strip()
    if not base:
        settings = storage.settings
        base = f"http://{settings.bind_host}:{settings.ports.get('mynumber', 8300)}/verify"
    sep = "&" if "?" in base else "?"
    return f"{base}{sep}t={tenant}"


def _system_clock() -> datetime:
    return datetime.now(UTC)


def _names(items: Sequence[OptionalItem] | frozenset[OptionalItem]) -> str:
    return json.dumps(sorted(i.name for i in items))


def issue(
    storage: Storage,
    ctx: TenantContext,
    request: IssueRequest,
    *,
    clock: Callable[[], datetime] = _system_clock,
    verify_base_url: str | None = None,
) -> IssuedDocument:
    """Issue one sealed certificate (see the module docstring)."""
    if ctx.purpose.code != ISSUE.code:
        raise PermissionDenied(
            f"purpose {ctx.purpose.code} does not allow issuing certificates",
            message_ja=f"利用目的「{ctx.purpose.label_ja}」では証明書を交付できません",
        )
    tenant: Tenant = storage.catalog.get(ctx.tenant)
    seal = tenant_sealer(storage, tenant)
    now = clock()
    issue_date = now.astimezone(JST).date()
    base_url = verify_base_url or default_verify_base_url(storage, tenant.code)
    with storage.unit_of_work(ctx, Zone.MYNUMBER) as uow:
        purposes.require(ctx, "read")
        records, household_number = _load_records(uow, request)
        options = IssueOptions(
            serial="PENDING",
            municipality_name=tenant.name,
            mayor_title=f"{tenant.name}長",
            mayor_name=request.mayor_name,
            issue_date=issue_date,
            verify_base_url=base_url,
            kind=request.kind,
            layout=request.layout,
            requester=request.requester,
            requested_items=request.requested_items,
            certified_items=request.certified_items,
            deliver_to_registered_address=request.deliver_to_registered_address,
        )
        decision = decide_items(options)
        if OptionalItem.INDIVIDUAL_NUMBER in decision.printed:
            records = _with_numbers(uow, records)
        heads: dict[str, str] = {}
        facts: list[PersonFacts] = []
        for r in records:
            if r.household_number not in heads:
                heads[r.household_number] = _head_name(uow, r.household_number)
            facts.append(person_facts(r, heads[r.household_number]))
        subject: PersonFacts | HouseholdFacts
        if len(facts) == 1 and request.layout is Layout.PERSON:
            subject = facts[0]
        else:
            head = heads.get(household_number or records[0].household_number, "") if records else ""
            address = facts[0].address if facts else ""
            subject = HouseholdFacts(head_name=head, address=address, members=tuple(facts))
        serial = allocate_serial(uow, issue_date)
        issued = issue_certificate(subject, replace(options, serial=serial), seal.sealer)
        pdf_sha256 = hashlib.sha256(issued.pdf).hexdigest()
        subjects = tuple(r.atena_number for r in records)
        printed = issued.decision.printed
        refused = dict(issued.decision.refused)
        uow.session.add(
            CertificateIssuance(
                id=uuid.uuid4().hex,
                serial=serial,
                kind=request.kind.name,
                layout=request.layout.name,
                subject_atena_numbers=json.dumps(list(subjects)),
                household_number=household_number,
                items_printed=_names(printed),
                items_refused=_names(frozenset(refused)),
                certified_items=json.dumps(sorted(i.name for i in request.certified_items)),
                requester_kind=request.requester.name,
                content_digest=issued.content_digest,
                pdf_sha256=pdf_sha256,
                pages=issued.pages,
                seal_key_version=seal.key_version,
                issue_date=issue_date,
                issued_by=ctx.actor.id[:100],
                issued_at=now,
            )
        )
        for atena_number in subjects:
            uow.record(
                "issue",
                "registry.certificate",
                serial,
                person=atena_number,
                kind=request.kind.value,
                layout=request.layout.value,
                requester=request.requester.value,
                items=sorted(i.value for i in printed),
                refused=sorted(i.value for i in refused),
                certified=sorted(i.value for i in request.certified_items),
                content_digest=issued.content_digest,
            )
    return IssuedDocument(
        serial=serial,
        pdf=issued.pdf,
        filename=f"{serial}.pdf",
        kind=request.kind,
        layout=request.layout,
        pages=issued.pages,
        content_digest=issued.content_digest,
        pdf_sha256=pdf_sha256,
        subjects=subjects,
        printed=printed,
        refused=refused,
        issue_date=issue_date,
        issued_at=now,
    )


# -- verify ---------------------------------------------------------------------------------------


def _verify_ctx(tenant: str) -> TenantContext:
    return TenantContext.of(tenant, system("certificate-verify"), VERIFY.code)


def _record(uow: UnitOfWork, serial: str) -> CertificateIssuance | None:
    return uow.session.scalar(select(CertificateIssuance).where(CertificateIssuance.serial == serial))


def verify(storage: Storage, tenant: str, pdf: bytes) -> CertificateCheck:
    """Check a presented certificate PDF against its seal and the tenant's issuance records."""
    ctx = _verify_ctx(tenant)
    roots = trust_roots(storage.settings)
    found: dict[str, CertificateIssuance | None] = {}
    with storage.unit_of_work(ctx, Zone.MYNUMBER) as uow:

        def lookup(serial: str) -> str | None:
            row = found[serial] = _record(uow, serial)
            return row.content_digest if row else None

        check = verify_certificate(pdf, roots, lookup_digest=lookup)
        problems = list(check.problems)
        row = found.get(check.serial or "")
        if row is not None and check.matches_record and hashlib.sha256(pdf).hexdigest() != row.pdf_sha256:
            problems.append("交付したファイルと一致しません")
        organization = check.signature.signer_organization
        if check.signature.intact and organization and organization != uow.tenant.name:
            problems.append(f"{uow.tenant.name}の電子公印ではありません（署名者: {organization}）")
        valid = check.valid and not problems
        uow.record(
            "verify",
            "registry.certificate",
            check.serial or "",
            valid=valid,
            problems=problems,
        )
    return replace(check, valid=valid, problems=tuple(problems))


def check_serial(storage: Storage, tenant: str, serial: str, digest_prefix: str) -> SerialCheck:
    """Whether a serial with this content-digest prefix was issued (the QR code's target)."""
    serial = serial.strip()
    prefix = digest_prefix.strip().lower()
    if not serial or len(serial) > 32 or len(prefix) < HASH_PREFIX_HEX:
        return SerialCheck(False, serial[:32])
    ctx = _verify_ctx(tenant)
    with storage.unit_of_work(ctx, Zone.MYNUMBER) as uow:
        row = _record(uow, serial)
        ok = row is not None and row.content_digest.startswith(prefix)
        uow.record("verify_serial", "registry.certificate", serial, found=ok)
        if row is None or not ok:
            return SerialCheck(False, serial)
        return SerialCheck(
            True,
            serial,
            kind_label=CertificateKind[row.kind].value,
            issue_date=format_wareki(row.issue_date),
            municipality_name=uow.tenant.name,
        )


def issuances_for(storage: Storage, ctx: TenantContext, atena_number: str) -> list[CertificateIssuance]:
    """The certificates issued about one person, newest first (for the person view)."""
    purposes.require(ctx, "read")
    with storage.unit_of_work(ctx, Zone.MYNUMBER) as uow:
        like = f'%"{atena_number}"%'
        rows = list(
            uow.session.scalars(
                select(CertificateIssuance)
                .where(CertificateIssuance.subject_atena_numbers.like(like))
                .order_by(CertificateIssuance.issued_at.desc())
                .limit(50)
            )
        )
        uow.record("read", "registry.certificate", atena_number, person=atena_number, view="issuances")
        return rows


__all__ = [
    "ISSUE",
    "VERIFY",
    "IssueRequest",
    "IssuedDocument",
    "SerialCheck",
    "allocate_serial",
    "check_serial",
    "era_year",
    "issuances_for",
    "issue",
    "person_facts",
    "verify",
]
