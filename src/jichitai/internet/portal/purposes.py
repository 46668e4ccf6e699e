"""Purposes of use (利用目的) of the resident portal: the login state and saved drafts."""

from __future__ import annotations

from jichitai.platform.context import PURPOSES, Purpose

# デジタル手続法 (情報通信技術を活用した行政の推進等に関する法律) 第6条: online applications
_ONLINE_APPLICATIONS = "情報通信技術を活用した行政の推進等に関する法律第6条"

PORTAL_LOGIN = Purpose(
    "internet.portal.login", "電子申請サービスへのログイン(利用者証明用電子証明書)", _ONLINE_APPLICATIONS
)
PORTAL_DRAFT = Purpose("internet.portal.draft", "申請書の作成・一時保存(申請者本人)", _ONLINE_APPLICATIONS)
PORTAL_RECEIPT = Purpose(
    "internet.portal.receipt", "申請受付票の交付(申請者本人)", "個人情報保護法第69条第1項(本人への提供)"
)

PURPOSES.register(PORTAL_LOGIN, PORTAL_DRAFT, PORTAL_RECEIPT)

__all__ = ["PORTAL_DRAFT", "PORTAL_LOGIN", "PORTAL_RECEIPT"]
