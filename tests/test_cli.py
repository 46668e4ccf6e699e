"""The command line: happy paths and one-line errors with a non-zero exit code."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from jichitai import cli
from jichitai.cli import main

PASS = "cli-test-passphrase-0123456789"
CHIYODA = ("tenant", "add", "131016", "--name", "千代田区", "--kana", "チヨダク", "--kind", "special_ward")
YOKOHAMA = (
    "tenant",
    "add",
    "141003",
    "--name",
    "横浜市",
    "--kana",
    "ヨコハマシ",
    "--kind",
    "designated_city",
)


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "inst"
    monkeypatch.setenv("JICHITAI_KEYSTORE_PASSPHRASE", PASS)
    monkeypatch.setenv("JICHITAI_KEYSTORE_SCRYPT_N", str(2**10))
    monkeypatch.delenv("JICHITAI_HOME", raising=False)
    monkeypatch.setattr(cli.console, "width", 250)  # Rich tables must not truncate what the tests read
    assert main(["--home", str(home), "init"]) == 0
    return home


def run(home: Path, *args: str) -> int:
    return main(["--home", str(home), *args])


def test_tenant_lifecycle(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(home, *YOKOHAMA) == 0
    assert run(home, "tenant", "list") == 0
    assert "横浜市" in capsys.readouterr().out
    assert run(home, "tenant", "show", "141003") == 0
    assert "141003.sqlite3" in capsys.readouterr().out.replace("\n", "")
    assert run(home, "keys", "rotate", "--tenant", "141003", "--signing") == 0
    out = capsys.readouterr().out
    assert "KEK v1 → v2" in out
    assert run(home, "keys", "list", "--tenant", "141003") == 0
    assert run(home, "keys", "jwk", "--tenant", "141003") == 0
    assert '"kty": "RSA"' in capsys.readouterr().out
    assert run(home, "audit", "checkpoint", "--tenant", "141003") == 0
    assert run(home, "audit", "verify", "--tenant", "141003") == 0
    assert "intact" in capsys.readouterr().out
    assert run(home, "audit", "show", "--tenant", "141003", "--zone", "lgwan") == 0
    assert "keys_rotated" in capsys.readouterr().out
    assert run(home, "tenant", "disable", "141003") == 0
    assert run(home, "tenant", "list") == 0
    assert "disabled" in capsys.readouterr().out
    # the data stays and audit still runs for a disabled tenant
    assert run(home, "audit", "verify", "--tenant", "141003") == 0
    assert run(home, "tenant", "enable", "141003") == 0
    assert run(home, "db", "upgrade") == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["tenant", "add", "14100", "--name", "x", "--kana", "エックス", "--kind", "city"], "six digits"),
        (
            ["tenant", "add", "141004", "--name", "x", "--kana", "エックス", "--kind", "city"],
            "wrong check digit",
        ),
        (["tenant", "add", "141003", "--name", "横浜市", "--kana", "yokohama", "--kind", "city"], "katakana"),
        (
            ["tenant", "add", "130001", "--name", "東京都", "--kana", "トウキョウト", "--kind", "city"],
            "prefecture code",
        ),
        (["tenant", "show", "131016"], "no tenant 131016"),
        (["audit", "verify", "--tenant", "131016"], "no tenant 131016"),
    ],
)
def test_errors_are_one_clear_line(
    home: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    assert run(home, *args) == 1
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err
    assert err.strip().startswith("error:")


def test_duplicate_tenant_refused(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(home, *CHIYODA) == 0
    capsys.readouterr()
    assert run(home, *CHIYODA) == 1
    assert "already exists" in capsys.readouterr().err


def test_wrong_passphrase(
    home: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run(home, *CHIYODA) == 0
    capsys.readouterr()
    monkeypatch.setenv("JICHITAI_KEYSTORE_PASSPHRASE", "not-the-passphrase")
    assert run(home, "keys", "list", "--tenant", "131016") == 1
    assert "wrong keystore passphrase" in capsys.readouterr().err


def test_missing_and_corrupted_keystore(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(home, *CHIYODA) == 0
    capsys.readouterr()
    ks = home / "keys" / "mynumber.keystore.json"
    ks.write_text("{not json")
    assert run(home, "audit", "verify", "--tenant", "131016", "--zone", "mynumber") == 1
    assert "keystore" in capsys.readouterr().err
    ks.unlink()
    assert run(home, "audit", "verify", "--tenant", "131016", "--zone", "mynumber") == 1
    assert "not found" in capsys.readouterr().err


def test_not_initialised(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--home", str(tmp_path / "nothing"), "tenant", "list"]) == 1
    assert "jichitai init" in capsys.readouterr().err


def test_init_twice_refused(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(home, "init") == 1
    assert "already holds an installation" in capsys.readouterr().err


def test_debug_shows_traceback(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--home", str(home), "--debug", "tenant", "show", "131016"]) == 1
    assert "Traceback" in capsys.readouterr().err


def test_unknown_purpose_code_is_clear() -> None:
    from jichitai.platform.context import PURPOSES
    from jichitai.platform.errors import ValidationError

    with pytest.raises(ValidationError, match="unknown purpose code 'nope'") as info:
        PURPOSES.get("nope")
    assert info.value.hint and "registered purpose" in info.value.hint


def test_unmigrated_database_is_named(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import sqlite3

    assert run(home, *CHIYODA) == 0
    capsys.readouterr()
    conn = sqlite3.connect(home / "zones" / "mynumber" / "131016.sqlite3")
    conn.execute("DELETE FROM alembic_version WHERE version_num LIKE 'identity%'")
    conn.commit()
    conn.close()
    assert run(home, "audit", "verify", "--tenant", "131016", "--zone", "mynumber") == 1
    err = capsys.readouterr().err
    assert "not migrated" in err and "jichitai db upgrade" in err


def test_failed_tenant_add_leaves_nothing_behind(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from jichitai.platform import tenancy
    from jichitai.platform.config import load_settings
    from jichitai.platform.crypto.keystore import KeyKind
    from jichitai.platform.storage.engine import Storage
    from jichitai.platform.zones import ALL_ZONES, Zone

    storage = Storage(load_settings(home))
    real = storage.backend.migrate

    def failing(zone: Zone, tenant: object) -> None:
        if zone is Zone.MYNUMBER:
            raise RuntimeError("disk full (simulated)")
        real(zone, tenant)  # type: ignore[arg-type]

    monkeypatch.setattr(storage.backend, "migrate", failing)
    new = tenancy.NewTenant("131016", "千代田区", "チヨダク", tenancy.TenantKind.SPECIAL_WARD)
    with pytest.raises(RuntimeError, match="simulated"):
        tenancy.add_tenant(storage, new)
    assert storage.catalog.find("131016") is None
    assert not any((home / "zones").rglob("131016*"))
    for zone in ALL_ZONES:
        assert not storage.keystore(zone).has_tenant("131016")
        with pytest.raises(Exception):  # noqa: B017 - any keystore error: the keys are gone
            storage.keystore(zone).versions("131016", KeyKind.KEK)
    storage.close()
    assert os.environ["JICHITAI_KEYSTORE_PASSPHRASE"] == PASS
