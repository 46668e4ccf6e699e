"""Purposes of use (利用目的) of the internet zone: receiving, handing over and showing applications."""

from __future__ import annotations

from jichitai.platform.context import PURPOSES, Purpose

# デジタル手続法 (情報通信技術を活用した行政の推進等に関する法律) 第6条: online applications
_ONLINE_APPLICATIONS = "情報通信技術を活用した行政の推進等に関する法律第6条"

SUBMISSION_RECEIVE = Purpose("internet.submission.receive", "電子申請の受付", _ONLINE_APPLICATIONS)
SUBMISSION_PULL = Purpose(
    "internet.submission.pull", "申請データの引渡し(申請管理システムへ)", _ONLINE_APPLICATIONS
)
STATUS_POST = Purpose("internet.status.post", "処理状況・連絡の掲示", _ONLINE_APPLICATIONS)
RESIDENT_VIEW = Purpose(
    "internet.resident.view", "申請者本人による申請状況の確認", "個人情報保護法第69条第1項(本人への提供)"
)
RESIDENT_REPLY = Purpose("internet.resident.reply", "補正依頼等への申請者の回答", _ONLINE_APPLICATIONS)
RETENTION_PURGE = Purpose(
    "internet.retention.purge",
    "引渡し済み申請データの消去(保存期間経過)",
    "個人情報保護法第66条(安全管理措置)",
    allowed_when_disabled=True,
)
KEY_PUBLICATION = Purpose(
    "internet.keys.publish", "処理状況署名用公開鍵の掲示", "個人情報保護法第66条(安全管理措置)", True
)

PURPOSES.register(
    SUBMISSION_RECEIVE,
    SUBMISSION_PULL,
    STATUS_POST,
    RESIDENT_VIEW,
    RESIDENT_REPLY,
    RETENTION_PURGE,
    KEY_PUBLICATION,
)
