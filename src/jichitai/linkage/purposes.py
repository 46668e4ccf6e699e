"""Purposes of use (利用目的) of the linkage server."""

from __future__ import annotations

from jichitai.platform.context import PURPOSES, Purpose

LINKAGE_TRANSFER = Purpose(
    "linkage.transfer",
    "特定通信による系間の業務データ連携",
    "番号法第9条、個人情報保護法第66条(安全管理措置)",
)
LINKAGE_MONITOR = Purpose(
    "linkage.monitor",
    "連携状況の監視",
    "個人情報保護法第66条(安全管理措置)",
    allowed_when_disabled=True,
)
PURPOSES.register(LINKAGE_TRANSFER, LINKAGE_MONITOR)
