"""Which portal (receiving API) each tenant pulls from, and with which client credentials.

Kept in the tenant's LGWAN database, the client secret field-encrypted. The operator sets it with
``jichitai lgwan configure --tenant CODE --portal URL --client-id ID --client-secret-stdin``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

from jichitai.lgwan.models import PortalConnectionRow
from jichitai.lgwan.purposes import PORTAL_CONFIGURE
from jichitai.platform.context import Actor, TenantContext, operator
from jichitai.platform.errors import ConfigurationError, ValidationError
from jichitai.platform.storage import Storage, UnitOfWork
from jichitai.platform.tenants import TenantCode
from jichitai.platform.zones import Zone

DEFAULT_INTERVAL = 60


@dataclass(frozen=True)
class PortalConnection:
    """How one tenant reaches its portal's receiving API."""

    tenant: str
    portal_url: str
    client_id: str
    client_secret: str
    interval_seconds: int = DEFAULT_INTERVAL

    def __repr__(self) -> str:  # never print the secret
        return f"PortalConnection({self.tenant}, {self.portal_url}, client {self.client_id})"


def check_portal_url(url: str) -> str:
    parts = urlsplit(url.strip())
    if parts.scheme not in {"https", "http"} or not parts.hostname:
        raise ValidationError(
            f"portal URL {url!r} must be an http(s) URL", message_ja="受付APIのURLが正しくありません"
        )
    if (
        parts.scheme == "http"
        and parts.hostname not in {"127.0.0.1", "localhost", "::1"}
        and not parts.hostname.startswith("10.")
    ):
        raise ValidationError(
            "plain http is allowed only on loopback or a closed network; use https",
            message_ja="受付APIにはhttpsで接続してください",
        )
    return url.strip().rstrip("/")


def configure(
    storage: Storage,
    tenant: str,
    *,
    portal_url: str,
    client_id: str,
    client_secret: str,
    interval_seconds: int = DEFAULT_INTERVAL,
    actor: Actor | None = None,
) -> PortalConnection:
    """Store (or replace) the tenant's portal connection."""
    url = check_portal_url(portal_url)
    if not client_id.strip() or not client_secret:
        raise ValidationError(
            "client id and secret are required", message_ja="クライアントIDとシークレットが必要です"
        )
    if not 5 <= interval_seconds <= 86400:
        raise ValidationError(
            "the interval must be 5 s – 1 day", message_ja="取込み間隔は5秒〜1日で指定してください"
        )
    ctx = TenantContext(TenantCode(tenant), actor or operator(), PORTAL_CONFIGURE)
    with storage.unit_of_work(ctx, Zone.LGWAN) as uow:
        row = uow.session.get(PortalConnectionRow, 1)
        secret = uow.keyring.field_encrypt("lgwan_portal_connection", "client_secret", 1, client_secret)
        if row is None:
            row = PortalConnectionRow(id=1, portal_url=url, client_id=client_id.strip(), client_secret=secret)
            uow.session.add(row)
        row.portal_url, row.client_id, row.client_secret = url, client_id.strip(), secret
        row.interval_seconds = interval_seconds
        row.updated_at = datetime.now(UTC)
        if row.last_result is None:
            row.last_result = ""
        uow.record(
            "portal_configured", "lgwan_portal_connection", "1", portal_url=url, client_id=client_id.strip()
        )
    return PortalConnection(str(TenantCode(tenant)), url, client_id.strip(), client_secret, interval_seconds)


def connection_of(uow: UnitOfWork) -> PortalConnection:
    row = uow.session.get(PortalConnectionRow, 1)
    if row is None:
        raise ConfigurationError(
            f"tenant {uow.tenant.code} has no portal connection",
            hint=f"jichitai lgwan configure --tenant {uow.tenant.code} --portal URL --client-id ID "
            "--client-secret-stdin",
            message_ja="受付APIへの接続設定がありません",
        )
    secret = uow.keyring.field_decrypt("lgwan_portal_connection", "client_secret", 1, row.client_secret)
    return PortalConnection(uow.tenant.code, row.portal_url, row.client_id, secret, row.interval_seconds)


def load(storage: Storage, tenant: str, actor: Actor | None = None) -> PortalConnection:
    ctx = TenantContext(TenantCode(tenant), actor or operator(), PORTAL_CONFIGURE)
    with storage.unit_of_work(ctx, Zone.LGWAN) as uow:
        return connection_of(uow)


def record_result(uow: UnitOfWork, text: str, at: datetime) -> None:
    row = uow.session.get(PortalConnectionRow, 1)
    if row is not None:
        row.last_pull_at = at
        row.last_result = text[:2000]
