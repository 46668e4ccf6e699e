"""``jichitai certificate …``: issue and verify registry certificates from the command line.

The lead mounts it with ``app.add_typer(build_cli(get_storage), name="certificate")``::

    jichitai certificate issue --tenant 131016 --atena 000000000000018 --kind juminhyo \\
        --layout person --items relationship,honseki --requester self --out cert.pdf
    jichitai certificate verify cert.pdf --tenant 131016

``issue`` acts as the operator under the purpose 住民票の写し等の交付 and is audited like an
issuance at the counter. ``verify`` exits with 1 when the certificate is not valid.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import typer
from rich.console import Console

from jichitai.mynumber.registry.certificates import (
    CertificateKind,
    CertifiedItem,
    Layout,
    OptionalItem,
    RequesterKind,
)
from jichitai.mynumber.registry.issuance import ISSUE, IssueRequest, issue, verify
from jichitai.platform.context import TenantContext, operator
from jichitai.platform.errors import ValidationError
from jichitai.platform.storage import Storage

KINDS = {
    "juminhyo": CertificateKind.JUMINHYO,
    "johyo": CertificateKind.JOHYO,
    "kisai": CertificateKind.KISAI_JIKOU,
}
LAYOUTS = {"person": Layout.PERSON, "household": Layout.HOUSEHOLD}
ITEMS = {
    "honseki": OptionalItem.HONSEKI,
    "relationship": OptionalItem.RELATIONSHIP,
    "individual-number": OptionalItem.INDIVIDUAL_NUMBER,
    "resident-code": OptionalItem.RESIDENT_CODE,
    "foreign-status": OptionalItem.FOREIGN_STATUS,
}
CERTIFIED = {
    "name": CertifiedItem.NAME,
    "birth-date": CertifiedItem.BIRTH_DATE,
    "sex": CertifiedItem.SEX,
    "address": CertifiedItem.ADDRESS,
    "address-since": CertifiedItem.ADDRESS_SINCE,
    "became-resident": CertifiedItem.BECAME_RESIDENT,
    "previous-address": CertifiedItem.PREVIOUS_ADDRESS,
}
T = TypeVar("T")

REQUESTERS = {
    "self": RequesterKind.SELF,
    "household": RequesterKind.SAME_HOUSEHOLD,
    "proxy": RequesterKind.PROXY,
    "public-body": RequesterKind.PUBLIC_BODY,
    "legal-professional": RequesterKind.LEGAL_PROFESSIONAL,
    "third-party": RequesterKind.THIRD_PARTY,
}


def _choice(table: dict[str, T], value: str, what: str) -> T:
    try:
        return table[value.strip().lower()]
    except KeyError:
        raise ValidationError(f"unknown {what} {value!r}; one of {', '.join(table)}") from None


def _choices(table: dict[str, T], value: str, what: str) -> frozenset[T]:
    return frozenset(_choice(table, v, what) for v in value.split(",") if v.strip())


def build_cli(get_storage: Callable[[], Storage], console: Console | None = None) -> typer.Typer:
    """The ``certificate`` command group; ``get_storage`` opens the installation's storage."""
    out = console or Console()
    app = typer.Typer(help="Certificates of the resident registry (住民票の写し等).", no_args_is_help=True)

    @app.command("issue")
    def issue_command(
        tenant: str = typer.Option(..., "--tenant", "-t", help="全国地方公共団体コード, e.g. 131016"),
        atena: list[str] = typer.Option([], "--atena", help="統合宛名番号 (repeatable)"),
        household: str = typer.Option("", "--household", help="世帯番号 (household layout or everyone)"),
        kind: str = typer.Option("juminhyo", "--kind", help=f"one of {', '.join(KINDS)}"),
        layout: str = typer.Option("person", "--layout", help=f"one of {', '.join(LAYOUTS)}"),
        items: str = typer.Option("", "--items", help=f"optional items, comma-separated: {', '.join(ITEMS)}"),
        certify: str = typer.Option(
            "", "--certify", help=f"items of a 記載事項証明書, comma-separated: {', '.join(CERTIFIED)}"
        ),
        requester: str = typer.Option("self", "--requester", help=f"one of {', '.join(REQUESTERS)}"),
        by_mail: bool = typer.Option(False, "--by-mail", help="a proxy's request delivered by mail"),
        mayor_name: str = typer.Option("", "--mayor-name", help="name printed after the mayor's title"),
        out_file: Path = typer.Option(..., "--out", "-o", help="where to write the sealed PDF"),
    ) -> None:
        """Issue a sealed certificate (audited as the operator)."""
        request = IssueRequest(
            kind=_choice(KINDS, kind, "kind"),
            layout=_choice(LAYOUTS, layout, "layout"),
            atena_numbers=tuple(atena),
            household_number=household or None,
            requester=_choice(REQUESTERS, requester, "requester"),
            requested_items=_choices(ITEMS, items, "item"),
            certified_items=_choices(CERTIFIED, certify, "certified item"),
            deliver_to_registered_address=by_mail,
            mayor_name=mayor_name,
        )
        ctx = TenantContext.of(tenant, operator("cli"), ISSUE.code)
        doc = issue(get_storage(), ctx, request)
        out_file.write_bytes(doc.pdf)
        out.print(
            f"[green]issued[/] {doc.kind.value} [bold]{doc.serial}[/] ({doc.pages} page(s)) → {out_file}"
        )
        if doc.printed:
            out.print("printed: " + "、".join(sorted(i.value for i in doc.printed)))
        for item, reason in doc.refused.items():
            out.print(f"[yellow]not printed[/] {item.value}: {reason}")

    @app.command("verify")
    def verify_command(
        file: Path = typer.Argument(..., exists=True, dir_okay=False, help="the PDF presented"),
        tenant: str = typer.Option(..., "--tenant", "-t", help="the issuing tenant's code"),
    ) -> None:
        """Check a certificate PDF: seal, trust root, and the tenant's issuance record."""
        check = verify(get_storage(), tenant, file.read_bytes())
        sig = check.signature
        out.print(f"serial: {check.serial or '-'}")
        out.print(f"signer: {sig.signer_subject or '-'}")
        out.print(
            f"signature intact: {sig.intact}, trusted: {sig.trusted}, whole file: {sig.covers_whole_document}"
        )
        out.print(f"issuance record matches: {check.matches_record}")
        for problem in check.problems:
            out.print(f"[red]✗[/] {problem}")
        if check.valid:
            out.print("[green]valid[/]: 真正な証明書です")
        else:
            out.print("[red]NOT valid[/]: 証明書を確認できません")
            raise typer.Exit(1)

    return app
