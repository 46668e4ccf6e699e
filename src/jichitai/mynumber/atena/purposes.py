"""Purposes of use (利用目的) of the addressee-number system, registered at import."""

from __future__ import annotations

from jichitai.platform.context import PURPOSES, Purpose

ATENA_MANAGE = Purpose(
    "atena.person.manage",
    "統合宛名の登録・更新",
    "番号法第9条第1項・別表、住民基本台帳法第1条",
)
ATENA_READ = Purpose(
    "atena.person.read",
    "統合宛名の照会",
    "番号法第9条第1項・別表",
)
SERIAL_LINK_MANAGE = Purpose(
    "atena.serial_link.manage",
    "シリアル番号紐付情報の登録・更新",
    "公的個人認証法第17条、デジタル手続法",
)
LINK_TABLE_EXPORT = Purpose(
    "atena.link_table.export",
    "シリアル番号紐付情報の申請管理システムへの提供",
    "公的個人認証法第17条、デジタル手続法第6条",
)

PURPOSES.register(ATENA_MANAGE, ATENA_READ, SERIAL_LINK_MANAGE, LINK_TABLE_EXPORT)
