from __future__ import annotations

from pathlib import Path

import pytest
import typer
from cryptography import x509
from typer.testing import CliRunner

from jichitai.platform.pki.ca import TestCA
from jichitai.platform.pki.cli import app, card_reader_command

ENV = {"JICHITAI_CA_PASSPHRASE": "cli-ca-passphrase", "JICHITAI_CARD_PASSPHRASE": "cli-card-passphrase"}


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner(env=ENV)


def _issue(runner: CliRunner, directory: Path, *extra: str) -> typer.testing.Result:
    args = [
        "issue-card",
        "--dir",
        str(directory),
        "--name",
        "鈴木　一郎",
        "--kana",
        "スズキ　イチロウ",
        "--birth-date",
        "昭和60年4月1日",
        "--sex",
        "男",
        "--address",
        "北海道札幌市中央区北1条西2丁目",
        "--auth-pin",
        "2468",
        "--sign-pin",
        "SUZUKI2024",
        *extra,
    ]
    return runner.invoke(app, args)


def test_init_issue_list_revoke_crl(runner: CliRunner, tmp_path: Path) -> None:
    ca_dir = tmp_path / "pki"
    r = runner.invoke(app, ["init-ca", "--dir", str(ca_dir), "--crl-url", "http://127.0.0.1:9/crl.der"])
    assert r.exit_code == 0, r.output
    assert (ca_dir / "ca-cert.pem").exists()
    assert (ca_dir / "crl.der").exists()

    r = _issue(runner, ca_dir)
    assert r.exit_code == 0, r.output
    records = TestCA.read_records(ca_dir)
    assert {rec.kind.value for rec in records} == {"signing", "authentication"}
    assert len(list((ca_dir / "cards").iterdir())) == 1

    r = runner.invoke(app, ["list", "--dir", str(ca_dir)])
    assert r.exit_code == 0
    for rec in records:
        assert rec.serial in r.output

    signing = next(rec for rec in records if rec.kind.value == "signing")
    r = runner.invoke(app, ["revoke", signing.serial, "--reason", "key_compromise", "--dir", str(ca_dir)])
    assert r.exit_code == 0, r.output
    crl = x509.load_der_x509_crl((ca_dir / "crl.der").read_bytes())
    assert crl.get_revoked_certificate_by_serial_number(int(signing.serial, 16)) is not None

    out = tmp_path / "copy.der"
    r = runner.invoke(app, ["crl", "--dir", str(ca_dir), "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert x509.load_der_x509_crl(out.read_bytes()).get_revoked_certificate_by_serial_number(
        int(signing.serial, 16)
    )


def test_errors_are_one_line_and_non_zero(runner: CliRunner, tmp_path: Path) -> None:
    r = _issue(runner, tmp_path / "none")
    assert r.exit_code == 1
    assert r.stderr.strip().count("\n") == 0
    assert "no CA" in r.stderr

    ca_dir = tmp_path / "pki"
    assert runner.invoke(app, ["init-ca", "--dir", str(ca_dir)]).exit_code == 0
    r = _issue(runner, ca_dir, "--auth-pin", "12")
    assert r.exit_code == 1
    assert "利用者証明用暗証番号は数字4桁" in r.stderr
    assert TestCA.read_records(ca_dir) == []

    r = runner.invoke(app, ["revoke", "ABCDEF", "--dir", str(ca_dir)])
    assert r.exit_code == 1
    assert "ABCDEF" in r.stderr
    r = runner.invoke(app, ["init-ca", "--dir", str(ca_dir)])
    assert r.exit_code == 1
    assert "already exists" in r.stderr


def test_card_reader_refuses_public_bind(runner: CliRunner, tmp_path: Path) -> None:
    reader = typer.Typer()
    reader.command("card-reader")(card_reader_command)
    reader.command("noop")(lambda: None)  # two commands, so the name is part of the call
    r = runner.invoke(reader, ["card-reader", "--host", "0.0.0.0", "--cards-dir", str(tmp_path)])
    assert r.exit_code == 1
    assert "loopback" in r.stderr
