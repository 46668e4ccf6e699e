"""What an application form says, read into plain values (no I/O).

The forms of procedures 1–7 and 10 (``procedures/definitions/child_allowance_*.yaml``) arrive as
JSON. This module names the case kind of each procedure, reads the claimant, the children and the
payee account out of a form, and checks an account against the Zengin format so that a claim with
a bad account is refused before anything is written.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from jichitai.mynumber.child_allowance import zengin
from jichitai.mynumber.child_allowance.rules import EventKind
from jichitai.platform.errors import ValidationError

# procedure id → case kind (案件種別) and its label
CASE_KINDS: dict[str, tuple[str, str]] = {
    "child_allowance_claim": ("claim", "認定請求"),
    "child_allowance_revision": ("revision", "額改定請求・届"),
    "child_allowance_change_notification": ("change_notification", "氏名・住所変更等の届出"),
    "child_allowance_extinction": ("extinction", "受給事由消滅の届出"),
    "child_allowance_unpaid_claim": ("unpaid_claim", "未支払の児童手当の請求"),
    "child_allowance_donation": ("donation", "寄附の申出"),
    "child_allowance_donation_change": ("donation_change", "寄附変更等の申出"),
    "child_allowance_status_report": ("status_report", "現況届"),
}
KIND_LABELS = dict(CASE_KINDS.values())

ACCOUNT_TYPES = {"普通": 1, "当座": 2, "貯蓄": 4}
ACCOUNT_TYPE_LABELS = {v: k for k, v in ACCOUNT_TYPES.items()}


def zengin_name(name: str | None, max_length: int) -> str:
    """A bank or branch name for the transfer file when it converts to Zengin kana, else blank."""
    if not name:
        return ""
    try:
        return zengin.to_zengin_text(name, field_ja="名称", max_length=max_length)
    except ValidationError:
        return ""


def case_kind(procedure_id: str) -> str:
    try:
        return CASE_KINDS[procedure_id][0]
    except KeyError:
        raise ValidationError(
            f"{procedure_id} is not a child allowance procedure",
            message_ja=f"手続 {procedure_id} は児童手当の手続ではありません",
        ) from None


def normalize_name(name: str) -> str:
    """Names compared across the form and the registry: NFKC, no spaces."""
    return "".join(unicodedata.normalize("NFKC", name).split())


def parse_date(value: object) -> date | None:
    if isinstance(value, date):
        return value
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        from jichitai.platform.wareki import parse_wareki

        return parse_wareki(value)


@dataclass(frozen=True)
class ClaimedChild:
    """A child as the form names it; ``university_age`` children are counted with a 確認書."""

    index: int
    name: str
    kana: str
    birth_date: date
    relationship: str
    lives_apart: bool
    university_age: bool = False
    supported: bool = False  # 確認書: 監護相当・生計費の負担
    change: str | None = None  # 追加 / 削除 (額改定)


@dataclass(frozen=True)
class Account:
    """A payee account (振込先口座) in the claimant's name."""

    bank_code: str
    bank_name: str
    branch_code: str
    branch_name: str
    account_type: int
    account_number: str
    holder_kana: str

    def check(self) -> list[str]:
        """Reasons the account cannot be used in a Zengin transfer file (empty when fine)."""
        try:
            zengin.TransferRecord(
                bank_code=self.bank_code,
                branch_code=self.branch_code,
                account_type=self.account_type,  # type: ignore[arg-type]  # the record validates it
                account_number=self.account_number,
                payee_name=self.holder_kana,
                amount=1,
                # bank and branch names in kanji are kept for screens; the file needs only the codes
            )
        except ValidationError as error:
            return [f"振込先口座: {error.message_ja or error.message}"]
        return []


@dataclass(frozen=True)
class Payee:
    public_fund_account: bool  # 公金受取口座を利用
    account: Account | None


@dataclass(frozen=True)
class ClaimForm:
    """The parts of a claim (認定請求) the decision needs."""

    name: str
    kana: str
    birth_date: date | None
    address: str
    civil_servant: bool
    spouse_name: str | None
    event: tuple[EventKind, date] | None  # 出生 / 転入 with its date (15日特例)
    children: tuple[ClaimedChild, ...]
    payee: Payee


def _text(data: Mapping[str, Any], key: str) -> str:
    value = data.get(key)
    return str(value).strip() if value is not None else ""


def person_part(form: Mapping[str, Any]) -> Mapping[str, Any]:
    """The claimant or recipient block of any of the forms."""
    for key in ("claimant", "recipient"):
        part = form.get(key)
        if isinstance(part, Mapping):
            return part
    return {}


def applicant_name(form: Mapping[str, Any]) -> str:
    return _text(person_part(form), "name") or "（氏名なし）"


def read_children(form: Mapping[str, Any]) -> tuple[ClaimedChild, ...]:
    children: list[ClaimedChild] = []
    for key, university in (("children", False), ("university_age_children", True)):
        for raw in form.get(key) or []:
            if not isinstance(raw, Mapping):
                continue
            born = parse_date(raw.get("birth_date"))
            if born is None:
                raise ValidationError(
                    "a child without a birth date", message_ja="生年月日のない児童があります"
                )
            children.append(
                ClaimedChild(
                    index=len(children),
                    name=_text(raw, "name"),
                    kana=_text(raw, "kana"),
                    birth_date=born,
                    relationship=_text(raw, "relationship") or "子",
                    lives_apart=_text(raw, "living_arrangement") == "別居",
                    university_age=university,
                    supported=bool(raw.get("supported", False)),
                    change=_text(raw, "change") or None,
                )
            )
    return tuple(children)


def read_payee(form: Mapping[str, Any]) -> Payee:
    payee = form.get("payee")
    if not isinstance(payee, Mapping):
        return Payee(False, None)
    raw = payee.get("bank_account")
    account = None
    if isinstance(raw, Mapping) and raw.get("account_number"):
        account = Account(
            bank_code=_text(raw, "bank_code"),
            bank_name=_text(raw, "bank_name"),
            branch_code=_text(raw, "branch_code"),
            branch_name=_text(raw, "branch_name"),
            account_type=ACCOUNT_TYPES.get(_text(raw, "account_type"), 0),
            account_number=_text(raw, "account_number"),
            holder_kana=_text(raw, "account_holder_kana"),
        )
    return Payee(bool(payee.get("use_public_fund_account", False)), account)


_EVENTS = {"出生": EventKind.BIRTH, "転入": EventKind.MOVE_IN}


def read_claim(form: Mapping[str, Any]) -> ClaimForm:
    claimant = person_part(form)
    spouse = form.get("spouse") if isinstance(form.get("spouse"), Mapping) else {}
    assert isinstance(spouse, Mapping)
    claim = form.get("claim") if isinstance(form.get("claim"), Mapping) else {}
    assert isinstance(claim, Mapping)
    kind = _EVENTS.get(_text(claim, "reason"))
    event_date = parse_date(claim.get("event_date"))
    return ClaimForm(
        name=_text(claimant, "name"),
        kana=_text(claimant, "kana"),
        birth_date=parse_date(claimant.get("birth_date")),
        address=_text(claimant, "address"),
        civil_servant=bool(claimant.get("is_public_servant", False)),
        spouse_name=_text(spouse, "name") or None if spouse.get("has_spouse", True) else None,
        event=(kind, event_date) if kind is not None and event_date is not None else None,
        children=read_children(form),
        payee=read_payee(form),
    )
