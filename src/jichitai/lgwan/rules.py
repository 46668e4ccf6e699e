"""The rules of application management as pure functions: statuses, transitions, due dates, names.

No I/O here. The status of an application in the back office (処理状況) follows the resident-facing
:class:`~jichitai.contracts.submission.SubmissionStatus`; its *verification* (検証結果) is apart:
an application that failed a check is kept and shown, and may only be rejected or sent back for
correction, never accepted.
"""

from __future__ import annotations

import unicodedata
from datetime import date, datetime, timedelta, timezone
from enum import StrEnum

from jichitai.contracts.submission import SubmissionStatus
from jichitai.platform.identity.roles import Business

JST = timezone(timedelta(hours=9), "JST")


class Verification(StrEnum):
    """Outcome of checking a pulled application again (it never trusts the portal)."""

    VERIFIED = "verified"  # 検証済み
    FLAGGED = "flagged"  # 要確認: valid, but staff must look (e.g. revoked after submission)
    FAILED = "failed"  # 検証エラー: kept and shown, never accepted

    @property
    def label_ja(self) -> str:
        return {"verified": "検証済み", "flagged": "要確認", "failed": "検証エラー"}[self.value]


class Match(StrEnum):
    """How the applicant was identified (申請者の特定)."""

    SERIAL = "serial"  # シリアル番号で一致
    CHOSEN = "chosen"  # 職員が候補から選択
    NO_MATCH = "no_match"  # 該当なし

    @property
    def label_ja(self) -> str:
        return {"serial": "シリアル番号で特定", "chosen": "職員が候補から選択", "no_match": "該当なし"}[
            self.value
        ]


S = SubmissionStatus

# What each staff action may start from. Everything after the hand-over is the core system's.
_ACTION_FROM: dict[str, frozenset[SubmissionStatus]] = {
    "assign": frozenset({S.DELIVERED, S.UNDER_REVIEW, S.CORRECTION_REQUESTED, S.ACCEPTED}),
    "accept": frozenset({S.DELIVERED, S.UNDER_REVIEW, S.CORRECTION_REQUESTED}),
    "correction": frozenset({S.DELIVERED, S.UNDER_REVIEW, S.CORRECTION_REQUESTED}),
    "reject": frozenset({S.DELIVERED, S.UNDER_REVIEW, S.CORRECTION_REQUESTED, S.ACCEPTED}),
    "handover": frozenset({S.ACCEPTED}),
    "choose_resident": frozenset({S.DELIVERED, S.UNDER_REVIEW, S.CORRECTION_REQUESTED, S.ACCEPTED}),
}
ACTION_LABELS: dict[str, str] = {
    "assign": "担当者の割当て",
    "accept": "受理",
    "correction": "補正依頼",
    "reject": "却下",
    "handover": "担当業務への引継ぎ",
    "choose_resident": "申請者の選択",
}
# Statuses in which the application still waits for the back office (due dates apply).
OPEN_STATUSES: frozenset[SubmissionStatus] = frozenset(
    {S.DELIVERED, S.UNDER_REVIEW, S.CORRECTION_REQUESTED, S.ACCEPTED}
)


def refusal(action: str, status: SubmissionStatus, verification: Verification) -> str | None:
    """Why ``action`` may not be done now (Japanese), or None when it may."""
    allowed = _ACTION_FROM[action]
    if status not in allowed:
        return f"処理状況が「{status.label_ja}」の申請には「{ACTION_LABELS[action]}」はできません"
    if verification is Verification.FAILED and action in {"accept", "handover", "choose_resident"}:
        return "検証エラーのある申請は受理・引継ぎできません(補正依頼又は却下してください)"
    return None


# 標準処理期間 (行政手続法第6条) in calendar days, by the business that receives the procedure; a
# procedure listed by id overrides its business. Municipalities set their own: this is the default.
STANDARD_DAYS_BY_SYSTEM: dict[str, int] = {
    "child_allowance": 30,
    "childcare": 30,
    "child_rearing_allowance": 14,
    "maternal_health": 7,
    "care_insurance": 30,
    "disaster": 14,
    "vehicle_tax": 14,
    "parking_certificate": 7,
}
STANDARD_DAYS_BY_PROCEDURE: dict[str, int] = {
    "child_allowance_claim": 15,  # the 15-day rule makes a slow claim cost the family a month
    "pregnancy_notification": 3,
    "care_certification_new": 30,  # 介護保険法第27条第11項: within 30 days
    "disaster_victim_certificate": 10,
}
DEFAULT_STANDARD_DAYS = 14


def standard_days(procedure_id: str, receiving_system: str) -> int:
    return STANDARD_DAYS_BY_PROCEDURE.get(
        procedure_id, STANDARD_DAYS_BY_SYSTEM.get(receiving_system, DEFAULT_STANDARD_DAYS)
    )


def due_date(received_at: datetime, days: int) -> date:
    """The day by which the back office should have decided (received day in JST + ``days``)."""
    return received_at.astimezone(JST).date() + timedelta(days=days)


def is_overdue(due: date, status: SubmissionStatus, today: date) -> bool:
    return status in OPEN_STATUSES and today > due


def business_of(receiving_system: str) -> Business:
    """The business (業務) whose clerks see a procedure: its receiving system, or 汎用."""
    try:
        return Business(receiving_system)
    except ValueError:
        return Business.GENERAL


def normalize_name(name: str) -> str:
    """A name for matching: NFKC (widths), no spaces of any width, katakana/hiragana kept apart."""
    text = unicodedata.normalize("NFKC", name)
    return "".join(ch for ch in text if not ch.isspace())


def name_birth_key(name: str, birth_date: date) -> str:
    """What the candidate search compares: the normalized name and the birth date."""
    return f"{normalize_name(name)}|{birth_date.isoformat()}"


def today_jst(now: datetime) -> date:
    return now.astimezone(JST).date()
