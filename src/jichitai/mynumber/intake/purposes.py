"""Purposes of use (利用目的) of the My Number zone's intake, registered at import."""

from __future__ import annotations

from jichitai.platform.context import PURPOSES, Purpose

GENERIC_CASE = Purpose(
    "intake.generic_case.process",
    "電子申請の受付と処理結果の登録（汎用案件）",
    "デジタル手続法第6条、番号法第9条第1項・別表",
)

PURPOSES.register(GENERIC_CASE)
