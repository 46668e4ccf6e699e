"""``jichitai registry import|export|generate|events|search``: data migration at the command line.

:func:`build_cli` returns the Typer group the main CLI mounts as ``registry``; it takes a function
that opens the installation's storage, so that nothing is opened before a command runs. Running
this module (``python -m jichitai.mynumber.registry.migration.cli ...``) gives the same commands
for the installation in ``$JICHITAI_HOME``.

Exit codes of ``import``: 0 every row imported, 3 done but some rows were refused (see the report),
1 the file or the options were refused (nothing imported).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import IO, Annotated, Literal

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from jichitai.mynumber.registry.migration.exporter import ExportOptions, export_file
from jichitai.mynumber.registry.migration.importer import (
    ImportOptions,
    ImportProgress,
    ImportSummary,
    import_file,
)
from jichitai.mynumber.registry.migration.models import PHASE_INDEXING
from jichitai.mynumber.registry.purposes import EVENTS_CONSUME, MIGRATION, PERSON_READ
from jichitai.platform.context import DATA_EXPORT, TenantContext, operator
from jichitai.platform.errors import JichitaiError, ValidationError
from jichitai.platform.storage import Storage

EXIT_REJECTED_ROWS = 3

TenantOpt = Annotated[str, typer.Option("--tenant", help="団体コード (6 digits), e.g. 141003")]
FormatOpt = Annotated[str | None, typer.Option("--format", help="csv or jsonl (default: from the suffix)")]


def _fmt(value: str | None, path: Path) -> Literal["csv", "jsonl"]:
    from jichitai.mynumber.registry.migration.importer import detect_format

    return detect_format(path, value)


def _date(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValidationError(
            f"{option} expects YYYY-MM-DD, got {value!r}",
            message_ja=f"{option} は YYYY-MM-DD で指定してください",
        ) from None


class _ImportDisplay:
    """A rich progress bar over the file's bytes, started on the first report (after the workers
    were forked, so that no display thread exists in them)."""

    def __init__(self, console: Console, label: str) -> None:
        self.console = console
        self.label = label
        self.progress: Progress | None = None
        self.task: TaskID | None = None

    def __call__(self, p: ImportProgress) -> None:
        if self.progress is None:
            self.progress = Progress(
                TextColumn("[bold]{task.description}"), BarColumn(), DownloadColumn(),
                TextColumn(
                    "{task.fields[rows]} rows [green]{task.fields[ok]} ok[/] [red]{task.fields[bad]} bad[/]"
                ),
                TimeElapsedColumn(), TimeRemainingColumn(), console=self.console,
            )  # fmt: skip
            self.progress.start()
            self.task = self.progress.add_task(self.label, total=p.bytes_total, rows=0, ok=0, bad=0)
        assert self.task is not None
        self.progress.update(
            self.task, completed=p.bytes_done, rows=p.rows_read, ok=p.rows_accepted, bad=p.rows_rejected
        )
        if p.phase == PHASE_INDEXING:
            self.progress.update(self.task, description="building the search indexes")

    def close(self) -> None:
        if self.progress is not None:
            self.progress.stop()


def _print_summary(console: Console, s: ImportSummary) -> None:
    table = Table(show_header=False, box=None)
    rows = [
        ("job", s.job_id),
        ("status", s.status + (" (imported before; nothing done)" if s.already_done else "")),
        ("read", f"{s.rows_read:,}"),
        ("accepted", f"{s.rows_accepted:,}"),
        ("refused", f"{s.rows_rejected:,}"),
        ("households", f"{s.households:,}"),
        ("batches", f"{s.batches:,}"),
        ("errors report", str(s.errors_path)),
        ("seconds", f"{s.seconds:.1f}"),
    ]
    if s.resumed_from_line:
        rows.insert(2, ("resumed after line", f"{s.resumed_from_line:,}"))
    for k, v in rows:
        table.add_row(k, v)
    console.print(table)


def run_import(
    storage: Storage,
    tenant: str,
    file: Path,
    options: ImportOptions,
    console: Console,
) -> ImportSummary:
    """The import command's work, with a progress bar (also used by ``generate --load``)."""
    ctx = TenantContext.of(tenant, operator("cli"), MIGRATION.code)
    display = _ImportDisplay(console, f"importing {file.name}")
    try:
        summary = import_file(storage, ctx, file, options, progress=display)
    finally:
        display.close()
    _print_summary(console, summary)
    return summary


class _CountingWriter:
    """A text stream that counts the rows written through it, to drive a progress bar."""

    def __init__(self, stream: IO[str], on_rows: Callable[[int], None], every: int = 5000) -> None:
        self.stream = stream
        self.on_rows = on_rows
        self.every = every
        self.rows = 0

    def write(self, text: str) -> int:
        self.rows += text.count("\n")
        if self.rows >= self.every:
            self.on_rows(self.rows)
            self.rows = 0
        return self.stream.write(text)


def build_cli(get_storage: Callable[[], Storage], console: Console | None = None) -> typer.Typer:
    """The ``registry`` command group; ``get_storage`` opens the installation's storage."""
    out = console or Console()
    app = typer.Typer(
        help="Resident registry (住民記録): import, export, synthetic municipality, search.",
        no_args_is_help=True,
    )

    @app.command("import")
    def import_(
        file: Annotated[
            Path, typer.Argument(help="interchange file (CSV or JSON Lines)", exists=True, dir_okay=False)
        ],
        tenant: TenantOpt,
        fmt: FormatOpt = None,
        gaiji: Annotated[
            Path | None, typer.Option("--gaiji", help="外字 mapping file (CSV)", exists=True)
        ] = None,
        errors: Annotated[Path | None, typer.Option("--errors", help="report of refused rows (CSV)")] = None,
        batch: Annotated[int, typer.Option("--batch", help="rows per transaction", min=1)] = 5000,
        workers: Annotated[int, typer.Option("--workers", help="parsing processes (0: none)", min=0)] = 1,
        today: Annotated[
            str | None, typer.Option("--today", help="基準日 for validation (YYYY-MM-DD)")
        ] = None,
        initial_load: Annotated[
            bool,
            typer.Option(
                "--initial-load",
                help="first full load into an empty registry: search indexes built at the end",
            ),
        ] = False,
    ) -> None:
        """Import residents; run the same command again to resume an interrupted import."""
        options = ImportOptions(
            fmt=_fmt(fmt, file), gaiji=gaiji, errors_path=errors, batch_size=batch, workers=workers,
            today=_date(today, "--today"), initial_load=initial_load,
        )  # fmt: skip
        summary = run_import(get_storage(), tenant, file, options, out)
        if summary.status != "done":
            raise typer.Exit(1)
        if summary.rows_rejected:
            out.print(f"[yellow]{summary.rows_rejected:,} rows refused[/]: see {summary.errors_path}")
            raise typer.Exit(EXIT_REJECTED_ROWS)

    @app.command("export")
    def export(
        file: Annotated[Path, typer.Argument(help="output file")],
        tenant: TenantOpt,
        fmt: FormatOpt = None,
        changed_since: Annotated[
            str | None, typer.Option("--changed-since", help="YYYY-MM-DD, inclusive")
        ] = None,
        until: Annotated[str | None, typer.Option("--until", help="YYYY-MM-DD, inclusive")] = None,
        by: Annotated[
            str, typer.Option("--by", help="date of the range: event (異動日) or recorded")
        ] = "event",
        include_removed: Annotated[bool, typer.Option("--include-removed", help="除票 too")] = False,
    ) -> None:
        """Export residents in the interchange format (full, or by date range)."""
        if by not in ("event", "recorded"):
            raise ValidationError("--by is event or recorded", message_ja="--by は event か recorded です")
        options = ExportOptions(
            fmt=_fmt(fmt, file), changed_since=_date(changed_since, "--changed-since"),
            until=_date(until, "--until"),
            basis="event" if by == "event" else "recorded", include_removed=include_removed,
        )  # fmt: skip
        ctx = TenantContext.of(tenant, operator("cli"), DATA_EXPORT.code)
        with Progress(
            TextColumn("[bold]exporting"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=out
        ) as progress:
            task = progress.add_task("export", total=None)
            summary = export_file(
                get_storage(),
                ctx,
                file,
                options,
                progress=lambda done, total: progress.update(task, completed=done, total=total),
            )
        out.print(f"wrote {summary.rows:,} rows to {summary.path} (sha256 {summary.sha256})")

    @app.command("generate")
    def generate(
        file: Annotated[Path, typer.Argument(help="output file")],
        residents: Annotated[int, typer.Option("--residents", help="person rows (current and 除票)", min=1)],
        tenant: TenantOpt,
        seed: Annotated[int, typer.Option("--seed")] = 1,
        name: Annotated[
            str | None, typer.Option("--name", help="municipality, e.g. 横浜市 (default: the tenant's)")
        ] = None,
        wards: Annotated[
            str | None, typer.Option("--wards", help="comma-separated wards, e.g. 中区,西区")
        ] = None,
        fmt: FormatOpt = None,
        as_of: Annotated[str | None, typer.Option("--as-of", help="date the population is as of")] = None,
        load: Annotated[bool, typer.Option("--load", help="import the file right after")] = False,
        workers: Annotated[int, typer.Option("--workers", help="parsing processes for --load", min=0)] = 1,
    ) -> None:
        """Write a synthetic municipality (deterministic for a seed) in the interchange format."""
        from jichitai.mynumber.registry.synthetic import write_population

        municipality = name or _tenant_name(get_storage, tenant)
        ward_list = tuple(w.strip() for w in wards.split(",") if w.strip()) if wards else ()
        kind = _fmt(fmt, file)
        extra = {"as_of": d} if (d := _date(as_of, "--as-of")) else {}
        with (
            Progress(
                TextColumn("[bold]generating"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=out,
            ) as progress,
            file.open("w", encoding="utf-8", newline="") as f,
        ):
            task = progress.add_task("generate", total=residents)
            counting = _CountingWriter(f, lambda n: progress.advance(task, n))
            written = write_population(
                counting,  # type: ignore[arg-type]
                residents, seed, tenant, municipality, fmt=kind, wards=ward_list, **extra,  # type: ignore[arg-type]
            )  # fmt: skip
            progress.update(task, completed=written)
        out.print(f"wrote {written:,} residents of {municipality} to {file}")
        if load:
            summary = run_import(get_storage(), tenant, file, ImportOptions(fmt=kind, workers=workers), out)
            if summary.status != "done":
                raise typer.Exit(1)

    @app.command("events")
    def events(
        file: Annotated[Path, typer.Argument(help="output file (JSON Lines)")],
        tenant: TenantOpt,
        after: Annotated[int, typer.Option("--after", min=0, help="the last seq already processed")] = 0,
        limit: Annotated[int | None, typer.Option("--limit", min=1, help="at most this many events")] = None,
    ) -> None:
        """Write the registry events (異動情報) after a sequence number as JSON Lines: the file-based
        form of the linkage API's feed, for a system that takes files. Audited like a pull."""
        from jichitai.mynumber.registry.events import MAX_PAGE, event_json
        from jichitai.mynumber.registry.service import RegistryService

        ctx = TenantContext.of(tenant, operator("cli"), EVENTS_CONSUME.code)
        service = RegistryService(get_storage())
        partial = file.with_name(file.name + ".partial")  # the file appears whole, or not at all
        written, last = 0, after
        with partial.open("w", encoding="utf-8") as f:
            while limit is None or written < limit:
                batch = service.events_since(ctx, last, min(MAX_PAGE, (limit or MAX_PAGE) - written))
                if not batch:
                    break
                f.writelines(event_json(e) + "\n" for e in batch)
                written, last = written + len(batch), batch[-1].seq
        partial.replace(file)
        span = f" (seq {after + 1}–{last})" if written else ""
        out.print(f"wrote {written:,} events{span} to {file}; next time: --after {last}")

    @app.command("search")
    def search(
        tenant: TenantOpt,
        name: Annotated[
            str | None, typer.Option("--name", help="氏名 or カナ, full or its beginning")
        ] = None,
        birth: Annotated[str | None, typer.Option("--birth", help="生年月日 YYYY-MM-DD")] = None,
        address: Annotated[str | None, typer.Option("--address", help="beginning of the address")] = None,
        include_removed: Annotated[bool, typer.Option("--include-removed")] = False,
        page: Annotated[int, typer.Option("--page", min=1)] = 1,
    ) -> None:
        """Search residents (operator inquiry; audited like any other)."""
        from jichitai.mynumber.registry.service import RegistryService, SearchQuery

        ctx = TenantContext.of(tenant, operator("cli"), PERSON_READ.code)
        result = RegistryService(get_storage()).search(
            ctx,
            SearchQuery(
                name=name, birth_date=_date(birth, "--birth"), address=address,
                include_removed=include_removed, page=page,
            ),
        )  # fmt: skip
        table = Table("統合宛名番号", "氏名", "カナ", "生年月日", "住所", "世帯番号", "続柄", "状態")
        for h in result.hits:
            state = (
                "住民" if h.status == "resident" else f"除票 {h.removal_reason or ''} {h.removed_on or ''}"
            )
            table.add_row(
                h.atena_number,
                h.name + (f"（通称 {h.alias}）" if h.alias else "")
                + (f"（旧氏 {h.former_surname}）" if h.former_surname else ""),
                h.name_kana,
                h.birth_date.isoformat(), h.address, h.household_number,
                h.relationship, state,
            )  # fmt: skip
        out.print(table)
        out.print(f"{result.total:,} found, page {result.page}/{result.pages}")

    return app


def _tenant_name(get_storage: Callable[[], Storage], tenant: str) -> str:
    from jichitai.platform.tenants import TenantCode

    return get_storage().catalog.get(TenantCode(tenant)).name


def main(argv: list[str] | None = None) -> int:
    """Run the commands for the installation in ``$JICHITAI_HOME`` (errors as one line)."""
    from jichitai.platform.config import load_settings

    storage: list[Storage] = []

    def get_storage() -> Storage:
        if not storage:
            storage.append(Storage(load_settings()))
        return storage[0]

    app = build_cli(get_storage)
    try:
        result = app(args=sys.argv[1:] if argv is None else argv, prog_name="registry", standalone_mode=False)
        return int(result) if isinstance(result, int) else 0
    except JichitaiError as exc:
        Console(stderr=True).print(f"[bold red]error:[/] {exc.one_line()}", highlight=False)
        return 1
    except typer.Exit as exc:
        return int(exc.exit_code)
    finally:
        if storage:
            storage[0].close()


if __name__ == "__main__":
    raise SystemExit(main())
