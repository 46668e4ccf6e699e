"""Procedure settings kept per tenant in the LGWAN database and published to the internet zone."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from jichitai import cli
from jichitai.cli import main
from jichitai.platform.errors import ValidationError
from jichitai.platform.storage.engine import Storage
from jichitai.platform.zones import Zone
from jichitai.procedures.store import change_settings, offered, show_settings
from tests.conftest import add_demo_tenant

CONTACT_TIME = {
    "type": "string",
    "title": "連絡希望時間帯",
    "description": "例: 午前中",
    "examples": ["午前中"],
}


def test_enable_disable_and_publish(storage: Storage) -> None:
    before = {e.base.id: e.enabled for e in offered(storage, "131016", Zone.INTERNET, include_disabled=True)}
    assert len(before) == 31
    target = next(pid for pid, on in before.items() if on)
    change_settings(storage, "131016", target, "disable")
    after = {e.base.id: e.enabled for e in offered(storage, "131016", Zone.INTERNET, include_disabled=True)}
    assert after[target] is False
    lgwan = {e.base.id: e.enabled for e in offered(storage, "131016", Zone.LGWAN, include_disabled=True)}
    assert lgwan[target] is False
    change_settings(storage, "131016", target, "enable")
    assert {e.base.id for e in offered(storage, "131016")} >= {target}


def test_guidance_and_extra_fields_make_a_new_version(storage: Storage) -> None:
    first = show_settings(storage, "131016", "child_allowance_claim")["effective_id"]
    e = change_settings(
        storage, "131016", "child_allowance_claim", "set_guidance", guidance_ja="窓口は2階です。"
    )
    assert e.effective_id != first
    assert e.guidance_ja == "窓口は2階です。"
    e2 = change_settings(
        storage, "131016", "child_allowance_claim", "set_extra_fields",
        fields={"contact_time": CONTACT_TIME},
        required=("contact_time",),
    )  # fmt: skip
    assert e2.effective_id not in {first, e.effective_id}
    shown = show_settings(storage, "131016", "child_allowance_claim")
    assert shown["extra_fields"] == ["contact_time"]


def test_settings_are_per_tenant(storage: Storage) -> None:
    add_demo_tenant(storage, "141003", "横浜市", "ヨコハマシ")
    change_settings(storage, "131016", "child_allowance_claim", "disable")
    yokohama = {e.base.id for e in offered(storage, "141003")}
    assert "child_allowance_claim" in yokohama


def test_prefectural_procedure_cannot_be_enabled_by_a_municipality(storage: Storage) -> None:
    with pytest.raises(ValidationError):
        change_settings(storage, "131016", "vehicle_tax_address_change", "enable")


def test_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("JICHITAI_KEYSTORE_PASSPHRASE", "procedures-cli-passphrase")
    monkeypatch.setenv("JICHITAI_KEYSTORE_SCRYPT_N", str(2**10))
    monkeypatch.setattr(cli.console, "width", 250)
    home = str(tmp_path / "h")
    assert main(["--home", home, "init"]) == 0
    add = ["tenant", "add", "131016", "--name", "千代田区", "--kana", "チヨダク", "--kind", "special_ward"]
    assert main(["--home", home, *add]) == 0
    assert main(["--home", home, "procedures", "list", "--tenant", "131016", "--all"]) == 0
    out = capsys.readouterr().out
    assert "児童手当" in out
    assert main(["--home", home, "procedures", "disable", "child_allowance_claim", "--tenant", "131016"]) == 0
    assert main(["--home", home, "procedures", "show", "child_allowance_claim", "--tenant", "131016"]) == 0
    assert "False" in capsys.readouterr().out
    schema = tmp_path / "extra.json"
    memo = {"type": "string", "title": "備考", "description": "自由記入", "examples": ["特になし"]}
    schema.write_text(json.dumps({"memo": memo}))
    assert main(["--home", home, "procedures", "extra-fields", "child_allowance_claim", "--tenant", "131016",
                 "--schema", str(schema)]) == 0  # fmt: skip
    assert main(["--home", home, "procedures", "enable", "no_such_procedure", "--tenant", "131016"]) == 1
