"""Configuration of the linkage server (連携サーバ): the flow allow-list and the peers it reaches.

The file is ``<home>/linkage.toml``. Without it the three standard flows apply and the peers are
the zones' loopback ports from the installation settings, with tokens from
``<home>/linkage/tokens/<zone>.token`` (the same files the zones read). A message that matches no
flow — wrong type, wrong direction, a tenant the flow or the destination does not serve — is
refused, logged, and acknowledged at its source as refused.

Example::

    # how often an idle server polls the outboxes, and how many messages it takes per request
    poll_interval = 1.0
    batch_size = 50
    timeout = 10.0             # seconds per HTTP request
    backoff_initial = 0.5      # after a failed call to a peer, wait this long, doubling ...
    backoff_max = 30.0         # ... up to this
    status_allow = ["127.0.0.1/32", "::1/128"]   # who may see the status page (operators)

    [[flows]]
    message_type = "accepted_application"   # 受理済み申請
    source = "lgwan"
    destination = "mynumber"
    direction = "into_mynumber"             # optional; must agree with source/destination
    tenants = "*"                           # or a list: ["131016", "141003"]

    [[flows]]
    message_type = "link_table"             # シリアル番号紐付情報
    source = "mynumber"
    destination = "lgwan"
    direction = "out_of_mynumber"

    [[flows]]
    message_type = "case_result"            # 処理結果
    source = "mynumber"
    destination = "lgwan"

    [peers.lgwan]
    url = "http://10.1.0.10:8100"
    token_file = "linkage/tokens/lgwan.token"   # relative to <home>; or token_env = "VAR"
    tenants = "*"

    [peers.mynumber]
    url = "http://10.3.0.10:8300"
    token_env = "JICHITAI_LINKAGE_TOKEN_MYNUMBER"
    tenants = ["131016"]

Only the LGWAN and My Number zones may be flow ends or peers: the internet zone is never reached
from here, and a flow must cross between the two.
"""

from __future__ import annotations

import ipaddress
import os
import tomllib
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from jichitai.contracts.transfer import MessageType
from jichitai.platform.config import Settings
from jichitai.platform.errors import ConfigurationError, JichitaiError
from jichitai.platform.messaging.auth import read_token_file, token_file
from jichitai.platform.tenants import TenantCode
from jichitai.platform.zones import Zone

CONFIG_FILE = "linkage.toml"
BRIDGED = (Zone.LGWAN, Zone.MYNUMBER)


class Direction(StrEnum):
    INTO_MYNUMBER = "into_mynumber"  # LGWAN接続系 → マイナンバー利用事務系
    OUT_OF_MYNUMBER = "out_of_mynumber"  # マイナンバー利用事務系 → LGWAN接続系


def direction_of(source: Zone, destination: Zone) -> Direction:
    return Direction.INTO_MYNUMBER if destination is Zone.MYNUMBER else Direction.OUT_OF_MYNUMBER


Tenants = Literal["*"] | list[str]


def _check_tenants(value: Tenants) -> Tenants:
    if value == "*":
        return value
    try:
        return [str(TenantCode(v)) for v in value]
    except JichitaiError as exc:  # pydantic reports ValueError only
        raise ValueError(exc.message) from None


class Flow(BaseModel):
    """One allowed flow: this message type, from this zone to that one, for these tenants."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    message_type: MessageType
    source: Zone
    destination: Zone
    direction: Direction | None = None
    tenants: Tenants = "*"

    @field_validator("tenants")
    @classmethod
    def _tenant_codes(cls, value: Tenants) -> Tenants:
        return _check_tenants(value)

    @model_validator(mode="after")
    def _crosses_the_boundary(self) -> Flow:
        if self.source not in BRIDGED or self.destination not in BRIDGED or self.source == self.destination:
            raise ValueError(
                f"flow {self.message_type.value}: {self.source.value} → {self.destination.value} does not "
                "cross between the LGWAN and My Number zones"
            )
        expected = direction_of(self.source, self.destination)
        if self.direction is not None and self.direction is not expected:
            raise ValueError(
                f"flow {self.message_type.value}: direction {self.direction.value} contradicts "
                f"{self.source.value} → {self.destination.value}"
            )
        return self

    @property
    def way(self) -> Direction:
        return direction_of(self.source, self.destination)

    def serves(self, tenant: str) -> bool:
        return self.tenants == "*" or tenant in self.tenants


class Peer(BaseModel):
    """A zone the linkage server connects to: where, with which token, for which tenants."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    url: str = Field(pattern=r"^https?://")
    token_env: str | None = None
    token_file: Path | None = None
    token: str | None = Field(default=None, repr=False)  # only for tests; prefer token_env/token_file
    tenants: Tenants = "*"

    @field_validator("tenants")
    @classmethod
    def _tenant_codes(cls, value: Tenants) -> Tenants:
        return _check_tenants(value)

    def serves(self, tenant: str) -> bool:
        return self.tenants == "*" or tenant in self.tenants

    def resolve_token(self, home: Path, zone: Zone) -> str | None:
        if self.token:
            return self.token
        if self.token_env:
            return os.environ.get(self.token_env, "").strip() or None
        if self.token_file is None:
            return read_token_file(token_file(home, zone))
        path = self.token_file
        return read_token_file(path if path.is_absolute() else home / path)


DEFAULT_FLOWS: tuple[Flow, ...] = (
    Flow(message_type=MessageType.ACCEPTED_APPLICATION, source=Zone.LGWAN, destination=Zone.MYNUMBER),
    Flow(message_type=MessageType.LINK_TABLE, source=Zone.MYNUMBER, destination=Zone.LGWAN),
    Flow(message_type=MessageType.CASE_RESULT, source=Zone.MYNUMBER, destination=Zone.LGWAN),
)


class LinkageConfig(BaseModel):
    """The linkage server's whole configuration."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    flows: tuple[Flow, ...] = DEFAULT_FLOWS
    peers: dict[Zone, Peer] = Field(default_factory=dict)
    poll_interval: float = Field(default=1.0, gt=0, le=3600)
    batch_size: int = Field(default=50, ge=1, le=500)
    timeout: float = Field(default=10.0, gt=0, le=300)
    backoff_initial: float = Field(default=0.5, gt=0)
    backoff_max: float = Field(default=30.0, gt=0)
    status_allow: tuple[str, ...] = ("127.0.0.1/32", "::1/128")

    @field_validator("peers")
    @classmethod
    def _only_bridged_peers(cls, value: dict[Zone, Peer]) -> dict[Zone, Peer]:
        for zone in value:
            if zone not in BRIDGED:
                raise ValueError(f"the linkage server never connects to the {zone.value} zone")
        return value

    @field_validator("status_allow")
    @classmethod
    def _networks(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for net in value:
            ipaddress.ip_network(net, strict=False)
        return value

    @model_validator(mode="after")
    def _every_flow_has_its_peers(self) -> LinkageConfig:
        for flow in self.flows:
            for zone in (flow.source, flow.destination):
                if zone not in self.peers:
                    raise ValueError(f"flow {flow.message_type.value} needs a peer for the {zone.value} zone")
        if self.backoff_max < self.backoff_initial:
            raise ValueError("backoff_max must not be below backoff_initial")
        return self

    def source_zones(self) -> list[Zone]:
        """Every peer's outbox is read, so a message no flow carries is refused, not left waiting."""
        return sorted(self.peers, key=lambda z: z.value)

    def peer(self, zone: Zone) -> Peer:
        try:
            return self.peers[zone]
        except KeyError:
            raise ConfigurationError(
                f"no peer configured for the {zone.value} zone",
                hint=f"add [peers.{zone.value}] with url and token_file to {CONFIG_FILE}",
            ) from None


def default_peers(settings: Settings) -> dict[Zone, Peer]:
    host = settings.bind_host if settings.bind_host not in {"0.0.0.0", "::"} else "127.0.0.1"  # noqa: S104
    return {z: Peer(url=f"http://{host}:{settings.ports[z.value]}") for z in BRIDGED}


def parse_config(values: dict[str, Any], settings: Settings | None = None) -> LinkageConfig:
    values = dict(values)
    if settings is not None and "peers" not in values:
        values["peers"] = default_peers(settings)
    try:
        return LinkageConfig.model_validate(values)
    except ValidationError as exc:
        raise ConfigurationError(f"invalid linkage configuration: {exc}") from exc


def load_config(settings: Settings) -> LinkageConfig:
    """``<home>/linkage.toml``, or the defaults when it does not exist."""
    path = settings.home / CONFIG_FILE
    values: dict[str, Any] = {}
    if path.exists():
        try:
            values = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigurationError(f"{path} is not valid TOML: {exc}") from exc
    return parse_config(values, settings)
