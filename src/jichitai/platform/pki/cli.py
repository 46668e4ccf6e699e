"""``jichitai pki ...`` and ``jichitai card-reader``: the test CA, virtual cards and the local reader.

The lead's CLI mounts :data:`app` as ``pki`` and registers :func:`card_reader_command` as
``card-reader``. Passphrases come from the environment (``JICHITAI_CA_PASSPHRASE``,
``JICHITAI_CARD_PASSPHRASE``) or a hidden prompt; they are never printed.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import ParamSpec, TypeVar

import typer
import uvicorn
from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from jichitai.platform.errors import JichitaiError
from jichitai.platform.pki.ca import REVOCATION_REASONS_JA, CAConfig, TestCA, parse_reason
from jichitai.platform.pki.card import CardStore
from jichitai.platform.pki.card_reader import CardReaderConfig, check_loopback, create_app
from jichitai.platform.pki.issuance import Resident, issue_card
from jichitai.platform.pki.rules import BasicFacts, CertificateKind, Sex
from jichitai.platform.wareki import format_wareki, parse_wareki

app = typer.Typer(name="pki", help="JPKI-style test CA and virtual My Number Cards.", no_args_is_help=True)
console = Console()
err_console = Console(stderr=True)

P = ParamSpec("P")
R = TypeVar("R")

DirOption = typer.Option(Path("var/pki"), "--dir", envvar="JICHITAI_PKI_DIR", help="CA directory.")
CardsDirOption = typer.Option(
    None, "--cards-dir", envvar="JICHITAI_CARDS_DIR", help="Card store directory (default: <dir>/cards)."
)
CAPassOption = typer.Option(
    ..., "--ca-passphrase", envvar="JICHITAI_CA_PASSPHRASE", prompt=True, hide_input=True, show_default=False
)
CardPassOption = typer.Option(
    ...,
    "--card-passphrase",
    envvar="JICHITAI_CARD_PASSPHRASE",
    prompt=True,
    hide_input=True,
    show_default=False,
)


def one_line_errors(fn: Callable[P, R]) -> Callable[P, R]:
    """Print an expected failure as one line on stderr and exit non-zero."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except JichitaiError as exc:
            ja = f" / {exc.message_ja}" if exc.message_ja else ""
            err_console.print(
                f"[red]error:[/red] {escape(exc.one_line() + ja)}", highlight=False, soft_wrap=True
            )
            raise typer.Exit(1) from exc

    return wrapper


def _cards_dir(ca_dir: Path, cards_dir: Path | None) -> Path:
    return cards_dir if cards_dir is not None else ca_dir / "cards"


def parse_birth_date(text: str) -> date:
    """``1990-01-02`` or a Japanese era date (``平成2年1月2日``, ``H2.1.2``)."""
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        return parse_wareki(text)


@app.command("init-ca")
@one_line_errors
def init_ca(
    directory: Path = DirOption,
    ca_passphrase: str = CAPassOption,
    crl_url: str = typer.Option(CAConfig.crl_distribution_url, "--crl-url", help="CRL distribution point."),
    key_size: int = typer.Option(2048, "--key-size", help="CA key size: 2048 or 3072."),
    common_name: str = typer.Option(CAConfig.common_name, "--common-name"),
) -> None:
    """Create the test CA (root key and self-signed certificate)."""
    config = CAConfig(common_name=common_name, crl_distribution_url=crl_url, ca_key_size=key_size)
    ca = TestCA.create(directory, ca_passphrase.encode(), config)
    ca.publish_crl()
    cert = ca.certificate
    console.print(f"CA created in [bold]{directory}[/bold]: {cert.subject.rfc4514_string()}")
    console.print(f"trust anchor: {directory / TestCA.CERT_FILE}   CRL: {directory / 'crl.der'}")


@app.command("issue-card")
@one_line_errors
def issue_card_command(
    name: str = typer.Option(..., "--name", help="氏名"),
    kana: str = typer.Option(..., "--kana", help="フリガナ (katakana)"),
    birth_date: str = typer.Option(..., "--birth-date", help="生年月日: 1990-01-02 or 平成2年1月2日"),
    sex: str = typer.Option(..., "--sex", help="性別: 男/女 (or 1/2)"),
    address: str = typer.Option(..., "--address", help="住所"),
    auth_pin: str = typer.Option(..., "--auth-pin", help="利用者証明用暗証番号 (4 digits)"),
    sign_pin: str | None = typer.Option(None, "--sign-pin", help="署名用パスワード (6-16 A-Z/0-9)"),
    holder_ref: str | None = typer.Option(None, "--holder-ref", help="Opaque reference to the resident."),
    directory: Path = DirOption,
    cards_dir: Path | None = CardsDirOption,
    ca_passphrase: str = CAPassOption,
    card_passphrase: str = CardPassOption,
) -> None:
    """Issue a virtual My Number Card with both certificates (利用者証明用 only under 15)."""
    resident = Resident(
        facts=BasicFacts(
            name=name, address=address, birth_date=parse_birth_date(birth_date), sex=Sex.parse(sex)
        ),
        name_kana=kana,
    )
    ca = TestCA.open(directory, ca_passphrase.encode())
    store = CardStore(_cards_dir(directory, cards_dir), card_passphrase.encode())
    card = issue_card(ca, store, resident, auth_pin=auth_pin, sign_pin=sign_pin, holder_ref=holder_ref)
    auth = card.authentication_certificate()
    console.print(
        f"card [bold]{card.card_id}[/bold] issued to {name} ({format_wareki(resident.facts.birth_date)}生)"
    )
    until = f"{auth.not_valid_after_utc:%Y-%m-%d}"
    console.print(f"  利用者証明用電子証明書 serial {auth.serial_number:X}, valid to {until}")
    for rec in ca.records():
        if rec.card_id == card.card_id and rec.kind is CertificateKind.SIGNING:
            console.print(f"  署名用電子証明書     serial {rec.serial}, valid to {rec.not_after[:10]}")
    if not card.has_signing_certificate:
        console.print("  署名用電子証明書は15歳未満のため発行していません")


@app.command("revoke")
@one_line_errors
def revoke(
    serial: str = typer.Argument(..., help="Serial number (hex)."),
    reason: str = typer.Option(
        "unspecified", "--reason", help="One of: " + ", ".join(r.name for r in REVOCATION_REASONS_JA)
    ),
    directory: Path = DirOption,
    ca_passphrase: str = CAPassOption,
) -> None:
    """Revoke a certificate and publish a new CRL."""
    ca = TestCA.open(directory, ca_passphrase.encode())
    rec = ca.revoke(serial, parse_reason(reason))
    crl = ca.publish_crl()
    console.print(
        f"revoked {rec.serial} ({REVOCATION_REASONS_JA[parse_reason(reason)]}); "
        f"CRL published with {len(crl)} entries"
    )


@app.command("crl")
@one_line_errors
def crl(
    directory: Path = DirOption,
    ca_passphrase: str = CAPassOption,
    out: Path | None = typer.Option(None, "--out", help="Also copy the DER CRL here."),
) -> None:
    """Publish a fresh CRL (crl.der and crl.pem in the CA directory)."""
    ca = TestCA.open(directory, ca_passphrase.encode())
    published = ca.publish_crl()
    if out is not None:
        out.write_bytes((directory / "crl.der").read_bytes())
    console.print(
        f"CRL published: {len(published)} revoked, next update "
        f"{published.next_update_utc:%Y-%m-%d %H:%M} UTC -> {directory / 'crl.der'}"
    )


@app.command("list")
@one_line_errors
def list_certificates(directory: Path = DirOption) -> None:
    """List issued certificates (no passphrase needed: the index holds no secrets)."""
    records = TestCA.read_records(directory)
    now = datetime.now(UTC)
    table = Table(title=f"certificates issued by {directory}", box=box.SIMPLE)
    width = max((len(r.serial) for r in records), default=6)
    # The serial is copied into `pki revoke`, so it is never cut or broken.
    table.add_column("serial", no_wrap=True, min_width=width)
    for col in ("kind", "card", "valid to", "status", "holder"):
        table.add_column(col)
    for r in records:
        kind = "署名用" if r.kind is CertificateKind.SIGNING else "利用者証明用"
        status = r.status(now) + (f" ({r.reason})" if r.reason else "")
        table.add_row(r.serial, kind, r.card_id or "", r.not_after[:10], status, r.holder_ref or "")
    console.print(table)


@one_line_errors
def card_reader_command(
    host: str = typer.Option("127.0.0.1", "--host", help="Loopback address only."),
    port: int = typer.Option(8765, "--port"),
    cards_dir: Path = typer.Option(Path("var/pki/cards"), "--cards-dir", envvar="JICHITAI_CARDS_DIR"),
    card_passphrase: str = CardPassOption,
    origins: list[str] = typer.Option(
        ["http://127.0.0.1:8000"],
        "--origin",
        envvar="JICHITAI_PORTAL_ORIGINS",
        help="Allowed portal origin(s).",
    ),
    card_id: str | None = typer.Option(None, "--card", help="Card inserted at start."),
) -> None:
    """Run the local card-reader helper (like the JPKI client software) on loopback."""
    check_loopback(host)
    store = CardStore(cards_dir, card_passphrase.encode())
    reader = create_app(CardReaderConfig(store=store, portal_origins=origins, inserted_card_id=card_id))
    console.print(f"card reader on http://{host}:{port} for {', '.join(origins)}")
    uvicorn.run(reader, host=host, port=port, log_level="info", access_log=False)
