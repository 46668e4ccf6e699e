"""Purposes of use (利用目的) of the child allowance system, registered at import.

Each purpose is also allowed to read the resident registry (the household, the children's birth
dates, residence) and its event feed: 番号法第9条第2項 and 児童手当法 let the municipality use the
registry for this business (庁内連携).
"""

from __future__ import annotations

from jichitai.mynumber.registry import purposes as registry_purposes
from jichitai.platform.context import PURPOSES, Purpose

CASE_PROCESS = Purpose(
    "child_allowance.case.process",
    "児童手当の認定・額改定・消滅の事務",
    "児童手当法第7条・第8条・第9条、番号法第9条第1項・別表",
)
EVENTS_CONSUME = Purpose(
    "child_allowance.events.consume",
    "住民異動情報による児童手当の受給状況の確認",
    "児童手当法第26条、番号法第9条第2項（庁内連携）",
)
PAYMENT_RUN = Purpose(
    "child_allowance.payment.run",
    "児童手当の支払処理（支払額の確定・口座振込）",
    "児童手当法第8条第4項",
)

PURPOSES.register(CASE_PROCESS, EVENTS_CONSUME, PAYMENT_RUN)
registry_purposes.permit_inquiry(CASE_PROCESS.code, EVENTS_CONSUME.code)
registry_purposes.permit_events(EVENTS_CONSUME.code)
