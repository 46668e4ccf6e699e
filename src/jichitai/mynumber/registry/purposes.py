"""Purposes of use (利用目的) of the resident registry, registered at import.

Reads of the registry are allowed for the registry's own purposes and for the purposes other core
systems register through :func:`permit_inquiry` (child allowance checks the household of a claimant
under 児童手当法, for example). Changes need :data:`CHANGE_RECORD`.
"""

from __future__ import annotations

from jichitai.platform.context import PURPOSES, Purpose, TenantContext
from jichitai.platform.errors import PermissionDenied

PERSON_READ = Purpose(
    "registry.person.read",
    "住民基本台帳の照会",
    "住民基本台帳法第1条・第5条・第7条",
)
CHANGE_RECORD = Purpose(
    "registry.change.record",
    "住民基本台帳の記録（異動届・職権）",
    "住民基本台帳法第8条・第22条〜第25条・第30条の46〜第30条の48、同法施行令第12条",
)
EVENTS_CONSUME = Purpose(
    "registry.events.consume",
    "住民異動情報の他業務への連携",
    "住民基本台帳法第1条、番号法第9条第2項（庁内連携）",
)
MIGRATION = Purpose(
    "registry.migration",
    "住民記録データの移行（移入・移出）",
    "地方公共団体情報システム標準化法",
    True,
)

PURPOSES.register(PERSON_READ, CHANGE_RECORD, EVENTS_CONSUME, MIGRATION)

_INQUIRY: set[str] = {PERSON_READ.code, CHANGE_RECORD.code, MIGRATION.code, "registry.certificate.issue"}
_EVENTS: set[str] = {EVENTS_CONSUME.code, MIGRATION.code}


def permit_inquiry(*codes: str) -> None:
    """Allow other businesses' purposes to read registry records (call at their import)."""
    _INQUIRY.update(codes)


def permit_events(*codes: str) -> None:
    """Allow other businesses' purposes to read the registry event feed."""
    _EVENTS.update(codes)


def require(ctx: TenantContext, action: str) -> None:
    """The one check every registry use case passes: does the context's purpose allow ``action``?"""
    code = ctx.purpose.code
    allowed = {
        "read": code in _INQUIRY,
        "change": code in (CHANGE_RECORD.code, MIGRATION.code),
        "events": code in _EVENTS or code in _INQUIRY,
    }.get(action, False)
    if not allowed:
        raise PermissionDenied(
            f"purpose {code} does not allow registry {action}",
            hint="use a registry purpose, or register the business's purpose with permit_inquiry()",
            message_ja=(
                f"利用目的「{ctx.purpose.label_ja}」では"
                f"住民記録の{_ACTION_JA.get(action, action)}はできません"
            ),
        )


_ACTION_JA = {"read": "照会", "change": "異動の記録", "events": "異動情報の取得"}
