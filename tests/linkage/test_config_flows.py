"""The flow allow-list: configuration parsing and the pure routing decision."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from jichitai.contracts.transfer import MessageType
from jichitai.linkage import config as config_module
from jichitai.linkage.config import DEFAULT_FLOWS, Direction, LinkageConfig, load_config, parse_config
from jichitai.linkage.flows import Refusal, decide
from jichitai.platform.errors import ConfigurationError
from jichitai.platform.zones import Zone
from tests.conftest import make_settings

PEERS = {"lgwan": {"url": "http://127.0.0.1:8100"}, "mynumber": {"url": "http://127.0.0.1:8300"}}


def _docstring_example() -> str:
    doc = config_module.__doc__ or ""
    block = doc.split("Example::", 1)[1].split("Only the LGWAN", 1)[0]
    return re.sub(r"^    ", "", block, flags=re.MULTILINE)


def test_the_documented_example_is_valid() -> None:
    cfg = parse_config(tomllib.loads(_docstring_example()))
    assert [f.message_type for f in cfg.flows] == [
        MessageType.ACCEPTED_APPLICATION,
        MessageType.LINK_TABLE,
        MessageType.CASE_RESULT,
    ]
    assert cfg.flows[0].way is Direction.INTO_MYNUMBER
    assert cfg.peer(Zone.MYNUMBER).tenants == ["131016"]
    assert cfg.batch_size == 50


def test_defaults_without_a_file(tmp_path: Path) -> None:
    cfg = load_config(make_settings(tmp_path))
    assert cfg.flows == DEFAULT_FLOWS
    assert cfg.peer(Zone.LGWAN).url == "http://127.0.0.1:8100"
    assert cfg.source_zones() == [Zone.LGWAN, Zone.MYNUMBER]


@pytest.mark.parametrize(
    "bad",
    [
        {"peers": {**PEERS, "internet": {"url": "http://127.0.0.1:8000"}}},  # never reaches the portal
        {
            "peers": PEERS,
            "flows": [{"message_type": "case_result", "source": "internet", "destination": "lgwan"}],
        },
        {
            "peers": PEERS,
            "flows": [{"message_type": "case_result", "source": "mynumber", "destination": "mynumber"}],
        },
        {
            "peers": PEERS,
            "flows": [
                {
                    "message_type": "case_result",
                    "source": "mynumber",
                    "destination": "lgwan",
                    "direction": "into_mynumber",
                }
            ],
        },
        {"peers": {"lgwan": PEERS["lgwan"]}},  # default flows need the mynumber peer
        {"peers": PEERS, "flows": [{"message_type": "shell", "source": "lgwan", "destination": "mynumber"}]},
        {
            "peers": PEERS,
            "flows": [
                {
                    "message_type": "case_result",
                    "source": "mynumber",
                    "destination": "lgwan",
                    "tenants": ["131017"],
                }
            ],
        },
    ],
)
def test_bad_configuration_is_refused(bad: dict[str, object]) -> None:
    with pytest.raises(ConfigurationError):
        parse_config(bad)


def _decide(cfg: LinkageConfig, **kw: str) -> Refusal | None:
    args = {
        "picked_from": Zone.LGWAN,
        "outbox_tenant": "131016",
        "message_type": "accepted_application",
        "source": "lgwan",
        "destination": "mynumber",
        "tenant": "131016",
    }
    args.update(kw)
    picked = Zone(args.pop("picked_from"))
    return decide(cfg, picked_from=picked, **args).refusal  # type: ignore[arg-type]


def test_decide() -> None:
    cfg = parse_config(
        {"peers": {**PEERS, "mynumber": {**PEERS["mynumber"], "tenants": ["131016", "011002"]}}}
    )
    assert _decide(cfg) is None
    assert (
        _decide(
            cfg, message_type="case_result", source="mynumber", destination="lgwan", picked_from="mynumber"
        )
        is None
    )
    assert _decide(cfg, message_type="secret_dump") is Refusal.UNKNOWN_TYPE
    assert (
        _decide(
            cfg,
            message_type="accepted_application",
            source="mynumber",
            destination="lgwan",
            picked_from="mynumber",
        )
        is Refusal.WRONG_DIRECTION
    )
    assert _decide(cfg, source="mynumber") is Refusal.SOURCE_MISMATCH  # found in LGWAN, claims My Number
    assert _decide(cfg, tenant="141003") is Refusal.TENANT_MISMATCH
    assert _decide(cfg, tenant="141003", outbox_tenant="141003") is Refusal.TENANT_NOT_SERVED
    narrow = parse_config(
        {
            "peers": PEERS,
            "flows": [
                {
                    "message_type": "accepted_application",
                    "source": "lgwan",
                    "destination": "mynumber",
                    "tenants": ["011002"],
                },
                {"message_type": "link_table", "source": "mynumber", "destination": "lgwan"},
            ],
        }
    )
    assert _decide(narrow) is Refusal.TENANT_NOT_ALLOWED
    assert _decide(narrow, message_type="link_table") is Refusal.WRONG_DIRECTION
    assert _decide(narrow, message_type="case_result", source="mynumber", destination="lgwan",
                   picked_from="mynumber") is Refusal.UNKNOWN_TYPE  # fmt: skip
