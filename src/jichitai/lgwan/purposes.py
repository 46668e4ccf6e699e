"""Purposes of use (利用目的) of application management in the LGWAN zone."""

from __future__ import annotations

from jichitai.platform.context import PURPOSES, Purpose

# デジタル手続法 (情報通信技術を活用した行政の推進等に関する法律) 第6条: online applications
_ONLINE_APPLICATIONS = "情報通信技術を活用した行政の推進等に関する法律第6条"

APPLICATION_PULL = Purpose("lgwan.applications.pull", "電子申請の取込み・検証", _ONLINE_APPLICATIONS)
APPLICATION_REVIEW = Purpose(
    "lgwan.applications.review",
    "電子申請の審査(受理・補正依頼・却下)",
    "行政手続法第7条、" + _ONLINE_APPLICATIONS,
)
APPLICATION_HANDOVER = Purpose(
    "lgwan.applications.handover", "電子申請の担当業務(基幹システム)への引継ぎ", _ONLINE_APPLICATIONS
)
APPLICATION_STATUS = Purpose("lgwan.applications.status", "処理状況の申請者への通知", _ONLINE_APPLICATIONS)
APPLICANT_IDENTIFY = Purpose(
    "lgwan.applicant.identify",
    "申請者の特定(シリアル番号紐付情報による)",
    "公的個人認証法(電子署名等に係る地方公共団体情報システム機構の認証業務に関する法律)",
)
LINK_TABLE_REFRESH = Purpose(
    "lgwan.link_table.refresh",
    "シリアル番号紐付情報の更新(住民記録からの提供)",
    "公的個人認証法、住民基本台帳法",
)
PORTAL_CONFIGURE = Purpose(
    "lgwan.portal.configure", "受付APIへの接続設定", "個人情報保護法第66条(安全管理措置)", True
)

PURPOSES.register(
    APPLICATION_PULL,
    APPLICATION_REVIEW,
    APPLICATION_HANDOVER,
    APPLICATION_STATUS,
    APPLICANT_IDENTIFY,
    LINK_TABLE_REFRESH,
    PORTAL_CONFIGURE,
)
