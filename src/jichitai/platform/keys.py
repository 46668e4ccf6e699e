"""Operator-level key management across zones: rotation and the published submission key."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from jichitai.platform.context import KEY_MANAGEMENT, PLATFORM_ADMIN, TenantContext, operator
from jichitai.platform.crypto.keystore import KeyKind
from jichitai.platform.crypto.models import PublicKey
from jichitai.platform.errors import NotFound
from jichitai.platform.storage.engine import Storage
from jichitai.platform.tenants import TenantCode
from jichitai.platform.zones import Zone


def rotate_tenant_keys(
    storage: Storage, code: str, *, zones: Sequence[Zone], signing: bool = False, submission: bool = False
) -> Iterator[str]:
    """Rotate the tenant's keys zone by zone; yields one line per zone. Runs while the tenant works."""
    ctx = TenantContext(TenantCode(code), operator(), KEY_MANAGEMENT)
    storage.catalog.get(code)
    for zone in zones:
        with storage.unit_of_work(ctx, zone) as uow:
            report = uow.keyring.rotate()
            line = (
                f"{zone.value}: KEK v{report.old_kek_version} → v{report.new_kek_version}, "
                f"{report.rewrapped} data keys re-wrapped, new field key v{report.new_field_key_version}"
            )
            if signing:
                line += f", signing key v{uow.keyring.rotate_signing_key()}"
            new_submission: int | None = None
            if submission and zone is Zone.LGWAN:
                new_submission = uow.keystore.add_version(code, KeyKind.SUBMISSION)
                line += f", submission key v{new_submission}"
            uow.record(
                "keys_rotated",
                "platform.keys",
                code,
                kek=report.new_kek_version,
                field_key=report.new_field_key_version,
                signing=signing,
                submission=new_submission,
            )
        if new_submission is not None:
            _publish(storage, code, new_submission)
            line += " (published to the internet zone)"
        yield line


def _publish(storage: Storage, code: str, version: int) -> None:
    ctx = TenantContext(TenantCode(code), operator(), KEY_MANAGEMENT)
    with storage.unit_of_work(ctx, Zone.LGWAN) as lgwan:
        jwk = lgwan.keyring.submission_public_jwk(version)
    with storage.unit_of_work(ctx, Zone.INTERNET) as internet:
        internet.keyring.publish_submission_jwk(version, jwk)
        internet.record("submission_key_published", "platform.keys", code, version=version)


def published_submission_jwk(storage: Storage, code: str) -> dict[str, Any]:
    """The newest submission public key the internet zone publishes for the tenant."""
    from sqlalchemy import select

    ctx = TenantContext(TenantCode(code), operator(), PLATFORM_ADMIN)
    with storage.unit_of_work(ctx, Zone.INTERNET) as uow:
        row = uow.session.scalars(
            select(PublicKey)
            .where(PublicKey.kind == KeyKind.SUBMISSION.value)
            .order_by(PublicKey.version.desc())
        ).first()
        if row is None:
            raise NotFound(f"tenant {code} has no published submission key")
        import json

        jwk: dict[str, Any] = json.loads(row.public_key)
        return jwk
