"""Purposes of use (利用目的) of the messaging endpoints the linkage server calls."""

from __future__ import annotations

from jichitai.platform.context import PURPOSES, Purpose

MESSAGING_TRANSFER = Purpose(
    "platform.messaging.transfer",
    "連携サーバによる業務データの受渡し(特定通信)",
    "番号法第9条、個人情報保護法第66条(安全管理措置)",
)
PURPOSES.register(MESSAGING_TRANSFER)
