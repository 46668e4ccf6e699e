"""The allow-list check (許可された連携か): pure rules over a message's route, no I/O.

A message is carried only when a configured flow names its type, its source and destination
(hence its direction), and its tenant, and when the destination serves that tenant. It must also
come from the zone whose outbox it was found in and belong to the tenant that outbox is for: a zone
cannot send in another zone's or another municipality's name.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from jichitai.linkage.config import Flow, LinkageConfig
from jichitai.platform.zones import Zone


class Refusal(StrEnum):
    MALFORMED = "malformed"  # not a valid transfer envelope
    SOURCE_MISMATCH = "source_mismatch"
    TENANT_MISMATCH = "tenant_mismatch"
    UNKNOWN_TYPE = "unknown_type"  # no flow carries this message type
    WRONG_DIRECTION = "wrong_direction"  # the type flows, but the other way
    NO_FLOW = "no_flow"  # the type flows, but not between these zones
    TENANT_NOT_ALLOWED = "tenant_not_allowed"  # the flow is not open for this tenant
    TENANT_NOT_SERVED = "tenant_not_served"  # the destination does not serve this tenant
    HASH_MISMATCH = "hash_mismatch"  # the payload does not match its hash
    ATTACHMENT_MISMATCH = "attachment_mismatch"  # an attachment does not match its hash
    DESTINATION_REFUSED = "destination_refused"  # the destination's intake said no


REASONS_JA: dict[Refusal, str] = {
    Refusal.MALFORMED: "連携データの形式が正しくありません",
    Refusal.SOURCE_MISMATCH: "送信元の系が送信待ちの系と一致しません",
    Refusal.TENANT_MISMATCH: "連携データの団体が送信待ちの団体と一致しません",
    Refusal.UNKNOWN_TYPE: "許可されていない種類の連携データです",
    Refusal.WRONG_DIRECTION: "許可されていない方向の連携です",
    Refusal.NO_FLOW: "許可されていない経路の連携です",
    Refusal.TENANT_NOT_ALLOWED: "この団体には許可されていない連携です",
    Refusal.TENANT_NOT_SERVED: "宛先の系はこの団体を扱っていません",
    Refusal.HASH_MISMATCH: "連携データのハッシュ値が一致しません(改ざんの可能性)",
    Refusal.ATTACHMENT_MISMATCH: "添付ファイルのハッシュ値が一致しません(改ざんの可能性)",
    Refusal.DESTINATION_REFUSED: "宛先の系が受け付けませんでした",
}


@dataclass(frozen=True)
class Decision:
    flow: Flow | None
    refusal: Refusal | None = None
    reason: str = ""

    @property
    def allowed(self) -> bool:
        return self.refusal is None

    @property
    def reason_ja(self) -> str:
        return REASONS_JA[self.refusal] if self.refusal else ""


def refuse(refusal: Refusal, reason: str) -> Decision:
    return Decision(None, refusal, reason)


def decide(
    config: LinkageConfig,
    *,
    picked_from: Zone,
    outbox_tenant: str,
    message_type: str,
    source: str,
    destination: str,
    tenant: str,
) -> Decision:
    """Whether a message found in ``picked_from``'s outbox of ``outbox_tenant`` may be carried."""
    if source != picked_from.value:
        return refuse(
            Refusal.SOURCE_MISMATCH, f"message says source {source!r}, found in {picked_from.value}"
        )
    if tenant != outbox_tenant:
        return refuse(
            Refusal.TENANT_MISMATCH, f"message for tenant {tenant!r} in the outbox of {outbox_tenant}"
        )
    typed = [f for f in config.flows if f.message_type.value == message_type]
    if not typed:
        return refuse(Refusal.UNKNOWN_TYPE, f"no flow carries {message_type!r}")
    routed = [f for f in typed if f.source.value == source and f.destination.value == destination]
    if not routed:
        if any(f.source.value == destination and f.destination.value == source for f in typed):
            return refuse(Refusal.WRONG_DIRECTION, f"{message_type} flows {destination} → {source}, not back")
        return refuse(Refusal.NO_FLOW, f"no flow carries {message_type} from {source} to {destination}")
    open_flows = [f for f in routed if f.serves(tenant)]
    if not open_flows:
        return refuse(Refusal.TENANT_NOT_ALLOWED, f"the {message_type} flow is not open for tenant {tenant}")
    flow = open_flows[0]
    if not config.peer(flow.destination).serves(tenant):
        return refuse(Refusal.TENANT_NOT_SERVED, f"the {destination} zone does not serve tenant {tenant}")
    return Decision(flow)
