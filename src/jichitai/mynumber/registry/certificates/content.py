"""What a certificate says, decided before anything is drawn (pure).

The renderer draws a :class:`CertificateContent`; its canonical form is hashed into the content
digest the QR code and the issuance record carry. Optional items outside the policy's decision are
shown as 省略 and never reach the content at all.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import date

from jichitai.mynumber.registry.certificates.layout import household_block_height, household_room
from jichitai.mynumber.registry.certificates.model import (
    CertificateKind,
    CertifiedItem,
    HouseholdFacts,
    IssueOptions,
    Layout,
    OptionalItem,
    PersonFacts,
)
from jichitai.mynumber.registry.certificates.policy import ItemDecision, check_request, decide_items
from jichitai.platform.pdf.qr import content_digest
from jichitai.platform.wareki import format_wareki

OMITTED = "省略"
PEOPLE_PER_SHEET = 4  # 世帯連記式: up to four people a sheet, fewer when their items need the room

CERTIFICATION = {
    CertificateKind.JUMINHYO: "この写しは、住民票の原本と相違ないことを証明する。",
    CertificateKind.JOHYO: "この写しは、住民票の除票の原本と相違ないことを証明する。",
    CertificateKind.KISAI_JIKOU: "上記のとおり住民票に記載されていることを証明する。",
}


@dataclass(frozen=True)
class Row:
    label: str
    value: str
    is_name: bool = False  # drawn with IPAmj明朝
    kana: str = ""  # printed above a name


@dataclass(frozen=True)
class PersonBlock:
    rows: tuple[Row, ...]


@dataclass(frozen=True)
class Sheet:
    header: tuple[Row, ...]  # household address and head on a household sheet
    people: tuple[PersonBlock, ...]


@dataclass(frozen=True)
class CertificateContent:
    title: str
    kind: str
    layout: str
    serial: str
    municipality_name: str
    mayor_title: str
    mayor_name: str
    issue_date: str  # 和暦
    certification: str
    sheets: tuple[Sheet, ...]

    def canonical(self) -> bytes:
        return json.dumps(asdict(self), ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()

    def digest(self) -> str:
        return content_digest(self.canonical())


def _w(d: date | None) -> str:
    return format_wareki(d) if d else ""


def _person_rows(
    p: PersonFacts, options: IssueOptions, printed: frozenset[OptionalItem], *, with_address: bool
) -> tuple[Row, ...]:
    kisai = options.kind is CertificateKind.KISAI_JIKOU
    wanted = options.certified_items

    def basic(item: CertifiedItem) -> bool:
        return not kisai or item in wanted

    def optional(item: OptionalItem) -> bool:
        return item in printed

    def opt_value(item: OptionalItem, value: str) -> str:
        return value if optional(item) else OMITTED

    rows: list[Row] = []
    if basic(CertifiedItem.NAME):
        rows.append(Row("氏名", p.name, is_name=True, kana=p.kana))
        if p.alias:
            # a household sheet's lines have no room for a reading above the name
            rows.append(Row("通称", p.alias, is_name=True, kana=p.alias_kana if with_address else ""))
        if p.former_surname:  # 旧氏 (施行令第30条の13), printed with the 氏名 like a 通称
            kana = p.former_surname_kana if with_address else ""
            rows.append(Row("旧氏", p.former_surname, is_name=True, kana=kana))
    if basic(CertifiedItem.BIRTH_DATE):
        rows.append(Row("生年月日", _w(p.birth_date)))
    if basic(CertifiedItem.SEX):
        rows.append(Row("性別", p.sex.value))
    if not kisai or optional(OptionalItem.RELATIONSHIP):
        if with_address:
            rows.append(
                Row(
                    "世帯主",
                    opt_value(OptionalItem.RELATIONSHIP, p.household_head),
                    is_name=optional(OptionalItem.RELATIONSHIP),
                )
            )
        rows.append(Row("続柄", opt_value(OptionalItem.RELATIONSHIP, p.relationship)))
    if with_address and basic(CertifiedItem.ADDRESS):
        rows.append(Row("住所", p.address))
    if basic(CertifiedItem.ADDRESS_SINCE):
        rows.append(Row("住所を定めた日", _w(p.address_since)))
    if basic(CertifiedItem.BECAME_RESIDENT):
        rows.append(Row("住民となった日", _w(p.became_resident_on)))
    if basic(CertifiedItem.PREVIOUS_ADDRESS):
        rows.append(Row("前住所", p.previous_address or "　"))
        if p.address_before_move_in and not kisai:
            rows.append(Row("転入前住所", p.address_before_move_in))
    if p.foreign is None:
        if not kisai or optional(OptionalItem.HONSEKI):
            rows.append(Row("本籍", opt_value(OptionalItem.HONSEKI, p.honseki)))
            rows.append(
                Row(
                    "筆頭者",
                    opt_value(OptionalItem.HONSEKI, p.hittousha),
                    is_name=optional(OptionalItem.HONSEKI),
                )
            )
    elif not kisai or optional(OptionalItem.FOREIGN_STATUS):
        f = p.foreign
        show = optional(OptionalItem.FOREIGN_STATUS)
        rows.append(Row("国籍・地域", f.nationality if show else OMITTED))
        rows.append(Row("法第30条の45に規定する区分", f.category if show else OMITTED))
        if show and f.residence_status:
            rows.append(Row("在留資格", f.residence_status))
            rows.append(Row("在留期間等", f"{f.period_of_stay}　満了日 {_w(f.period_ends_on)}".strip()))
        if show and f.card_number:
            rows.append(Row("在留カード等の番号", f.card_number))
    if not kisai or optional(OptionalItem.INDIVIDUAL_NUMBER):
        rows.append(Row("個人番号", opt_value(OptionalItem.INDIVIDUAL_NUMBER, p.individual_number)))
    if not kisai or optional(OptionalItem.RESIDENT_CODE):
        rows.append(Row("住民票コード", opt_value(OptionalItem.RESIDENT_CODE, p.resident_code)))
    if p.last_change is not None and not kisai:
        c = p.last_change
        notified = f"（{_w(c.notified_on)}届出）" if c.notified_on else ""
        rows.append(Row("記載事由", f"{_w(c.occurred_on)}　{c.reason}{notified}"))
    if p.removal is not None:
        r = p.removal
        dest = f"　転出先 {r.destination}" if r.destination else ""
        rows.append(Row("消除", f"{_w(r.removed_on)}　{r.reason}{dest}"))
    return tuple(rows)


def _household_sheets(header: tuple[Row, ...], blocks: Sequence[PersonBlock]) -> list[list[PersonBlock]]:
    """People in order, up to four a sheet and no more than the sheet has room for (a household of
    foreign residents with every item asked for takes more than a sheet a four)."""
    room = household_room(header)
    sheets: list[list[PersonBlock]] = []
    used = room  # no sheet yet
    for block in blocks:
        height = household_block_height(block.rows)
        if not sheets or len(sheets[-1]) == PEOPLE_PER_SHEET or used + height > room:
            sheets.append([])
            used = 0.0
        sheets[-1].append(block)
        used += height
    return sheets


def build_content(
    subject: PersonFacts | HouseholdFacts, options: IssueOptions
) -> tuple[CertificateContent, ItemDecision]:
    """The content of one certificate and the optional-item decision behind it."""
    people: Sequence[PersonFacts] = subject.members if isinstance(subject, HouseholdFacts) else (subject,)
    removed = any(p.removal is not None for p in people)
    check_request(options, removed=removed, people=len(people))
    decision = decide_items(options)
    sheets: list[Sheet]
    if options.layout is Layout.HOUSEHOLD:
        household = (
            subject
            if isinstance(subject, HouseholdFacts)
            else HouseholdFacts(subject.household_head, subject.address, (subject,))
        )
        show_head = OptionalItem.RELATIONSHIP in decision.printed
        header = (
            Row("住所", household.address),
            Row("世帯主", household.head_name if show_head else OMITTED, is_name=show_head),
        )
        blocks = [PersonBlock(_person_rows(p, options, decision.printed, with_address=False)) for p in people]
        sheets = [Sheet(header, tuple(group)) for group in _household_sheets(header, blocks)]
    else:
        sheets = [
            Sheet((), (PersonBlock(_person_rows(p, options, decision.printed, with_address=True)),))
            for p in people
        ]
    content = CertificateContent(
        title=options.kind.value,
        kind=options.kind.name,
        layout=options.layout.name,
        serial=options.serial,
        municipality_name=options.municipality_name,
        mayor_title=options.mayor_title,
        mayor_name=options.mayor_name,
        issue_date=format_wareki(options.issue_date),
        certification=CERTIFICATION[options.kind],
        sheets=tuple(sheets),
    )
    return content, decision
