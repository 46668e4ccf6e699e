"""The network zones of the three-layer model (三層の対策)."""

from __future__ import annotations

from enum import StrEnum


class Zone(StrEnum):
    """A network zone. Each holds its own databases, keystore and audit log per tenant."""

    INTERNET = "internet"  # インターネット接続系
    LGWAN = "lgwan"  # LGWAN接続系
    MYNUMBER = "mynumber"  # マイナンバー利用事務系
    LINKAGE = "linkage"  # 連携サーバ

    @property
    def label_ja(self) -> str:
        return _LABELS[self]


_LABELS = {
    Zone.INTERNET: "インターネット接続系",
    Zone.LGWAN: "LGWAN接続系",
    Zone.MYNUMBER: "マイナンバー利用事務系",
    Zone.LINKAGE: "連携サーバ",
}

ALL_ZONES: tuple[Zone, ...] = tuple(Zone)
