"""Importing a municipality's residents from an interchange file (データ移行・移入), resumably.

The file streams through in file order: chunks of whole households are validated, normalized,
keyed and encrypted (:mod:`.parsing`, in this process or in worker processes), and batches of
about ``batch_size`` rows are written with bulk inserts (:mod:`.bulk`) into ``registry_households``,
``registry_persons`` (with the search keys), ``registry_person_versions`` and ``atena_persons``.
Each batch is one transaction holding, besides the residents: the duplicate checks against the
database (住民票コード, 個人番号 through its blind index, 統合宛名番号, 世帯番号), the 統合宛名番号
drawn for new persons, one ``registry_changes`` row (``移行``) the versions point to, the problems
of the rows it rejected, the job's progress, and one audit entry (purpose ``registry.migration``,
the line range and the counts).

Resuming: a job is keyed by the file's SHA-256. Running the same command again after a kill finds
the job and continues after its last committed line; a batch never commits without its progress, so
no row is imported twice and none is skipped. A finished job is not run again (its report is
written again). Rows read = rows accepted + rows rejected, always.

Initial load (``ImportOptions.initial_load``, ``--initial-load``): the first full load into an
empty registry drops the registry's non-unique search and history indexes before loading and
builds them at the end (:mod:`.indexes`), which costs a sort each instead of millions of random
B-tree insertions. The job records its phase (``loading``, then ``indexing``), so a resumed job
keeps its mode and its indexes are always rebuilt before it is marked done; while it is
interrupted, searches still work but scan. On PostgreSQL the registry tables' primary keys and
unique constraints are deferred too: meanwhile 住民票コード and 世帯番号 are checked against sets
kept in memory (read back from the tables when a load resumes), 個人番号 and 統合宛名番号 through
``atena_persons`` as always.

On PostgreSQL the parsing workers hand back the accepted rows already encoded for a binary
``COPY`` (:mod:`.copyrows`); this process checks the duplicates, writes the 統合宛名番号 it draws
into them and streams them to the server.

Rows are validated by :mod:`.fastrow` where they are valid (values cached per import) and by the
interchange's ``parse_row`` otherwise, which gives every problem its reason.

Households: the members of a household must be on consecutive rows (the export writes them so);
a household is accepted or refused as a whole (see :mod:`.parsing`). A 世帯番号 met again later in
the file, or one already in the registry, is refused with a reason saying so.
"""

from __future__ import annotations

import codecs
import gc
import hashlib
import io
import json
import multiprocessing
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import IO, Any, Literal, TypeVar, cast
from zoneinfo import ZoneInfo

from sqlalchemy import insert, select, text, update
from sqlalchemy.orm import Session

from jichitai.mynumber.atena.models import AtenaCounter, AtenaPerson
from jichitai.mynumber.atena.service import format_atena_numbers
from jichitai.mynumber.registry import purposes
from jichitai.mynumber.registry.interchange import (
    ParseContext,
    RowError,
    iter_jsonl,
    write_error_report,
)
from jichitai.mynumber.registry.migration import indexes, parsing
from jichitai.mynumber.registry.migration.bulk import BulkWriter
from jichitai.mynumber.registry.migration.copyrows import PLACEHOLDER, Formatters, MemberKeys, RowFormatter
from jichitai.mynumber.registry.migration.models import (
    JOB_DONE,
    JOB_FAILED,
    JOB_RUNNING,
    PHASE_INDEXING,
    PHASE_LOADING,
    ImportJob,
    ImportRowError,
)
from jichitai.mynumber.registry.migration.parsing import ChunkResult, HouseholdValues, Item, ParseSetup
from jichitai.mynumber.registry.migration.rows import (
    ATENA_ATENA,
    ATENA_COLUMNS,
    HOUSEHOLD_COLUMNS,
    PERSON_ATENA,
    PERSON_COLUMNS,
    VERSION_ATENA,
    VERSION_COLUMNS,
    MemberValues,
)
from jichitai.mynumber.registry.models import Change, Household, Person, PersonVersion
from jichitai.mynumber.registry.names import GaijiMap
from jichitai.platform.context import TenantContext
from jichitai.platform.errors import Conflict, PermissionDenied, ValidationError
from jichitai.platform.storage import Storage, UnitOfWork
from jichitai.platform.tenants import Tenant
from jichitai.platform.zones import Zone

JST = ZoneInfo("Asia/Tokyo")
Format = Literal["csv", "jsonl"]
_IN_CHUNK = 900  # values per IN (...) list: below SQLite's oldest variable limit
_ATENA_COUNTER = "atena_number"
_CONSECUTIVE = "同じ世帯の者は連続した行に記載してください"
T = TypeVar("T")


@dataclass(frozen=True)
class ImportOptions:
    """How to import: format (from the suffix if None), 外字 map, report path, batch and workers."""

    fmt: Format | None = None
    gaiji: Path | None = None
    errors_path: Path | None = None  # default: <file>.errors.csv
    batch_size: int = 5000
    workers: int = 0  # parsing processes besides this one; 0 parses here
    chunk_rows: int = 500
    today: date | None = None  # 基準日 of validation; default today in Japan
    # First full load into an empty registry: secondary indexes dropped while loading, built at the
    # end (see :mod:`.indexes`). Applies when the job starts; a resumed job keeps its own mode.
    initial_load: bool = False
    # PostgreSQL: the rows are encoded for COPY where they are parsed (see :mod:`.copyrows`); False
    # sends value lists through psycopg instead (the reference the encoded path is tested against)
    encoded_copy: bool = True


@dataclass(frozen=True)
class ImportProgress:
    bytes_done: int
    bytes_total: int
    rows_read: int
    rows_accepted: int
    rows_rejected: int
    # "loading" while rows are read; "indexing" once, when an initial load starts building the
    # indexes it deferred (minutes at city scale, with no rows to count)
    phase: str = PHASE_LOADING


@dataclass(frozen=True)
class ImportSummary:
    """The outcome; ``rows_read == rows_accepted + rows_rejected`` always holds."""

    job_id: str
    status: str  # done / failed
    file_sha256: str
    rows_read: int
    rows_accepted: int
    rows_rejected: int
    households: int
    batches: int
    resumed_from_line: int  # 0 for a fresh start
    already_done: bool  # the file had been imported before; nothing was done this time
    errors_path: Path
    seconds: float


def detect_format(path: Path, fmt: str | None) -> Format:
    value = fmt or ("jsonl" if path.suffix.lower() in (".jsonl", ".ndjson", ".json") else "csv")
    if value not in ("csv", "jsonl"):
        raise ValidationError(f"unknown format {value!r}", message_ja=f"形式は csv か jsonl です: {value}")
    return "jsonl" if value == "jsonl" else "csv"


def file_digest(path: Path) -> str:
    """SHA-256 of the file, checking on the way that it is UTF-8 (a legacy Shift_JIS file is refused
    before anything is imported, with the line where decoding failed)."""
    digest = hashlib.sha256()
    decoder = codecs.getincrementaldecoder("utf-8")()
    line = 1
    with path.open("rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
            try:
                decoder.decode(block)
            except UnicodeDecodeError as exc:
                bad = line + block[: exc.start].count(b"\n")
                raise ValidationError(
                    f"{path.name} is not UTF-8 (line {bad})",
                    hint="convert the file to UTF-8 and map legacy characters with --gaiji",
                    message_ja=f"{path.name} の{bad}行目付近がUTF-8として読めません（UTF-8に変換してください）",  # noqa: E501
                ) from None
            line += block.count(b"\n")
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            raise ValidationError(
                f"{path.name} ends in the middle of a UTF-8 character",
                message_ja=f"{path.name} の末尾がUTF-8として読めません",
            ) from None
    return digest.hexdigest()


def _now() -> datetime:
    return datetime.now(UTC)


def _in_chunks(values: Sequence[T]) -> Iterator[Sequence[T]]:
    for i in range(0, len(values), _IN_CHUNK):
        yield values[i : i + _IN_CHUNK]


def _require_migration(ctx: TenantContext) -> None:
    purposes.require(ctx, "change")
    if ctx.purpose.code != purposes.MIGRATION.code:
        raise PermissionDenied(
            f"import needs purpose {purposes.MIGRATION.code}",
            message_ja=f"住民記録の移入は利用目的「{purposes.MIGRATION.label_ja}」で行ってください",
        )


# -- the file, in chunks of whole households -------------------------------------------------------


def _items(text: IO[str], fmt: Format, header: list[str]) -> Iterator[Item]:
    """The file's items; CSV records packed for the workers (``header`` gets the columns)."""
    return parsing.packed_csv(text, header) if fmt == "csv" else iter_jsonl(text)


def household_chunks(items: Iterable[Item], *, after_line: int, rows: int) -> Iterator[list[Item]]:
    """Chunks of about ``rows`` records, cut only where the 世帯番号 changes; lines up to
    ``after_line`` (committed before a resume) are skipped."""
    chunk: list[Item] = []
    last_key: str | None = None
    for item in items:
        if item[0] <= after_line:
            continue
        key = parsing.household_key(item)
        if len(chunk) >= rows and (key is None or key != last_key):
            yield chunk
            chunk = []
        chunk.append(item)
        last_key = key
    if chunk:
        yield chunk


# -- one batch ------------------------------------------------------------------------------------


@dataclass
class _Batch:
    results: list[ChunkResult] = field(default_factory=list)
    rows: int = 0

    def add(self, result: ChunkResult) -> None:
        self.results.append(result)
        self.rows += result.rows


@dataclass
class _Committed:
    """住民票コード (as integers: always 11 digits) and 世帯番号 in the registry, kept in memory while
    an initial load has the registry's unique constraints dropped (see :mod:`.indexes`)."""

    codes: set[int] = field(default_factory=set)
    households: set[str] = field(default_factory=set)

    @classmethod
    def load(cls, uow: UnitOfWork) -> _Committed:
        s = uow.session
        return cls(
            {int(c) for c in s.scalars(select(Person.juminhyo_code).execution_options(yield_per=50_000))},
            set(s.scalars(select(Household.household_number).execution_options(yield_per=50_000))),
        )

    def add(self, households: Iterable[HouseholdValues]) -> None:
        for h in households:
            self.households.add(h.number)
            self.codes.update(int(m.juminhyo_code) for m in h.members)


class _BatchWriter:
    """Checks one batch against itself and the database, then writes it (one transaction)."""

    def __init__(
        self,
        uow: UnitOfWork,
        job: ImportJob,
        now: datetime,
        today: date,
        committed: _Committed | None = None,
    ) -> None:
        self.committed = committed
        self.uow = uow
        self.s: Session = uow.session
        self.job = job
        self.now = now
        self.today = today
        self.postgresql = self.s.get_bind().dialect.name == "postgresql"

    def _existing(self, column: Any, values: Sequence[Any], *extra: Any) -> dict[Any, Any]:
        found: dict[Any, Any] = {}
        if not values:
            return found
        if self.postgresql:
            # One array parameter instead of thousands of IN parameters: compiling and sending a
            # 900-value IN list costs more than the index lookups it asks for. The array goes in
            # binary (``%b``): the text form quotes every element with a regular expression.
            names = ", ".join(f'"{c.name}"' for c in (column, *extra))
            sql = f'SELECT {names} FROM "{column.table.name}" WHERE "{column.name}" = ANY(%b)'
            driver: Any = self.s.connection().connection.driver_connection
            with driver.cursor() as cur:
                for row in cur.execute(sql, [list(values)]):
                    found[row[0]] = row[1] if extra else True
            return found
        parts = (column.in_(part) for part in _in_chunks(values))
        for condition in parts:
            for row in self.s.execute(select(column, *extra).where(condition)):
                found[row[0]] = row[1] if extra else True
        return found

    def check(
        self,
        households: list[HouseholdValues],
        rejected: dict[int, list[RowError]],
        rejected_households: Sequence[tuple[str, int]] = (),
    ) -> list[HouseholdValues]:
        """Households still accepted after the duplicate checks; the refused ones go to ``rejected``."""
        members = [m for h in households for m in h.members]
        committed = self.committed
        if committed is not None:  # the registry's unique constraints are dropped (initial load)
            codes = {m.juminhyo_code: True for m in members if int(m.juminhyo_code) in committed.codes}
        else:
            codes = self._existing(Person.juminhyo_code, [m.juminhyo_code for m in members])
        numbers = self._existing(
            AtenaPerson.individual_number_bidx,
            [m.bidx for m in members if m.bidx is not None],
            AtenaPerson.atena_number,
        )
        carried = self._existing(
            AtenaPerson.atena_number, [m.atena_number for m in members if m.atena_number is not None]
        )
        household_numbers = [h.number for h in households] + [k for k, _ in rejected_households]
        if committed is not None:
            known_households = {n: True for n in household_numbers if n in committed.households}
        else:
            known_households = self._existing(Household.household_number, household_numbers)
        # A household refused by the parser may be the detached part of one met before.
        first_seen: dict[str, int] = {}
        for h in households:
            first_seen.setdefault(h.number, h.first_line)
        for number, line in rejected_households:
            if number in known_households:
                reason = f"世帯番号{number}の世帯は既に登録されています（{_CONSECUTIVE}）"
            elif first_seen.get(number, line) < line:
                reason = (
                    f"世帯番号{number}の世帯員は連続した行に記載してください"
                    f"（{first_seen[number]}行目からの世帯と離れています）"
                )
            else:
                first_seen.setdefault(number, line)
                continue
            rejected[line] = [RowError(line, "世帯番号", reason)] + [
                e for e in rejected.get(line, []) if e.column is not None
            ]
        seen_code: dict[str, int] = {}
        seen_bidx: dict[bytes, int] = {}
        seen_atena: dict[str, int] = {}
        seen_household: dict[str, int] = {}
        kept = []
        for h in households:
            errors: dict[int, list[RowError]] = {}

            def err(
                line: int, column: str | None, reason: str, errors: dict[int, list[RowError]] = errors
            ) -> None:
                errors.setdefault(line, []).append(RowError(line, column, reason))

            if h.number in known_households:
                err(
                    h.first_line,
                    "世帯番号",
                    f"世帯番号{h.number}の世帯は既に登録されています（{_CONSECUTIVE}）",
                )
            elif h.number in seen_household:
                err(
                    h.first_line,
                    "世帯番号",
                    f"世帯番号{h.number}の世帯員は連続した行に記載してください"
                    f"（{seen_household[h.number]}行目からの世帯と離れています）",
                )
            # numbers of this household's members: a duplicate inside one household is refused too
            own_code: dict[str, int] = {}
            own_bidx: dict[bytes, int] = {}
            own_atena: dict[str, int] = {}
            for m in h.members:
                if m.juminhyo_code in codes:
                    err(m.line, "住民票コード", "この住民票コードの住民記録は既に登録されています")
                elif (first := seen_code.get(m.juminhyo_code, own_code.get(m.juminhyo_code))) is not None:
                    err(m.line, "住民票コード", f"住民票コードが{first}行目と重複しています")
                own_code.setdefault(m.juminhyo_code, m.line)
                if m.bidx is not None:
                    if m.bidx in numbers:
                        err(
                            m.line,
                            "個人番号",
                            f"この個人番号は既に統合宛名番号 {numbers[m.bidx]} の者に登録されています",
                        )
                    elif (first := seen_bidx.get(m.bidx, own_bidx.get(m.bidx))) is not None:
                        err(m.line, "個人番号", f"個人番号が{first}行目と重複しています")
                    own_bidx.setdefault(m.bidx, m.line)
                if m.atena_number is not None:
                    if m.atena_number in carried:
                        err(m.line, "統合宛名番号", f"統合宛名番号 {m.atena_number} は既に使われています")
                    elif (first := seen_atena.get(m.atena_number, own_atena.get(m.atena_number))) is not None:
                        err(m.line, "統合宛名番号", f"統合宛名番号が{first}行目と重複しています")
                    own_atena.setdefault(m.atena_number, m.line)
            if errors:
                parsing.reject_group([m.line for m in h.members], errors, rejected)
                continue
            seen_household.setdefault(h.number, h.first_line)
            seen_code.update(own_code)
            seen_bidx.update(own_bidx)
            seen_atena.update(own_atena)
            kept.append(h)
        return kept

    def draw_atena_numbers(self, count: int, reserved: set[str]) -> list[str]:
        """``count`` new 統合宛名番号 from the tenant's counter (row locked until commit), skipping
        numbers taken already (carried over from an earlier system) or carried in this batch."""
        if count == 0:
            return []
        counter = self.s.execute(
            select(AtenaCounter).where(AtenaCounter.name == _ATENA_COUNTER).with_for_update()
        ).scalar_one()
        seq = counter.next_value
        out: list[str] = []
        while len(out) < count:
            need = count - len(out)
            candidates = format_atena_numbers(seq, need)
            seq += need
            # The candidates are consecutive numbers of one width: one range scan returns the few
            # taken ones, instead of sending every candidate (shorter carried numbers that sort in
            # the range are not candidates and drop out below).
            taken = set(
                self.s.scalars(
                    select(AtenaPerson.atena_number).where(
                        AtenaPerson.atena_number.between(candidates[0], candidates[-1])
                    )
                )
            )
            out += [c for c in candidates if c not in taken and c not in reserved]
        counter.next_value = seq
        return out

    def write(self, households: list[HouseholdValues], results: Sequence[ChunkResult]) -> int:
        members = [m for h in households for m in h.members]
        reserved = {m.atena_number for m in members if m.atena_number is not None}
        drawn = iter(self.draw_atena_numbers(sum(m.atena_number is None for m in members), reserved))
        if results and results[0].blocks is not None:
            return self._write_encoded(households, results, drawn)
        values = cast(list[MemberValues], members)  # not encoded: value lists
        for m in values:
            number = m.atena_number or next(drawn)
            m.person[PERSON_ATENA] = number
            m.atena[ATENA_ATENA] = number
            for v in m.versions:
                v[VERSION_ATENA] = number
        bulk = BulkWriter(self.s)
        bulk.insert(Household.__table__, HOUSEHOLD_COLUMNS, (h.household for h in households))  # type: ignore[arg-type]
        bulk.insert(Person.__table__, PERSON_COLUMNS, (m.person for m in values))  # type: ignore[arg-type]
        bulk.insert(PersonVersion.__table__, VERSION_COLUMNS, (v for m in values for v in m.versions))  # type: ignore[arg-type]
        bulk.insert(AtenaPerson.__table__, ATENA_COLUMNS, (m.atena for m in values))  # type: ignore[arg-type]
        return len(members)

    def _write_encoded(
        self, households: list[HouseholdValues], results: Sequence[ChunkResult], drawn: Iterator[str]
    ) -> int:
        """Streams the workers' encoded rows of the kept ``households`` (see :mod:`.copyrows`)."""
        kept = {id(h) for h in households}
        tables: list[list[bytes | bytearray]] = [[], [], [], []]
        count = 0
        for r in results:
            assert r.blocks is not None
            mine = [h for h in r.households if id(h) in kept]
            if not mine:
                continue
            if len(mine) == len(r.households):
                blocks = [bytearray(b) for b in r.blocks]
                shifts = [(0, 0, 0, 0)] * len(mine)
            else:  # households refused here: cut them out, and move the offsets with their rows
                blocks = [bytearray(), bytearray(), bytearray(), bytearray()]
                shifts = []
                for h in mine:
                    span = h.household
                    shift = []
                    for t in range(4):
                        start, end = span[2 * t], span[2 * t + 1]
                        shift.append(len(blocks[t]) - start)
                        blocks[t] += r.blocks[t][start:end]
                    shifts.append((shift[0], shift[1], shift[2], shift[3]))
            _, persons, versions, atena = blocks
            width = len(PLACEHOLDER)
            for h, (_, dp, dv, da) in zip(mine, shifts, strict=True):
                count += len(h.members)
                for m in h.members:
                    assert isinstance(m, MemberKeys)
                    if not m.offsets:
                        continue
                    number = next(drawn).encode()
                    at = m.offsets[0] + dp
                    persons[at : at + width] = number
                    at = m.offsets[1] + da
                    atena[at : at + width] = number
                    for o in m.offsets[2:]:
                        at = o + dv
                        versions[at : at + width] = number
            for t in range(4):
                tables[t].append(blocks[t])
        bulk = BulkWriter(self.s)
        bulk.copy_encoded(Household.__table__, HOUSEHOLD_COLUMNS, tables[0])  # type: ignore[arg-type]
        bulk.copy_encoded(Person.__table__, PERSON_COLUMNS, tables[1])  # type: ignore[arg-type]
        bulk.copy_encoded(PersonVersion.__table__, VERSION_COLUMNS, tables[2])  # type: ignore[arg-type]
        bulk.copy_encoded(AtenaPerson.__table__, ATENA_COLUMNS, tables[3])  # type: ignore[arg-type]
        return count


# -- the job --------------------------------------------------------------------------------------


class Importer:
    """One import run (see the module docstring); :func:`import_file` is the short way to use it."""

    def __init__(
        self,
        storage: Storage,
        ctx: TenantContext,
        path: Path,
        options: ImportOptions | None = None,
        *,
        progress: Callable[[ImportProgress], None] | None = None,
    ) -> None:
        options = options or ImportOptions()
        _require_migration(ctx)
        if options.batch_size < 1 or options.chunk_rows < 1:
            raise ValidationError("batch and chunk sizes must be positive", message_ja="件数は1以上です")
        self.storage = storage
        self.ctx = ctx
        self.path = Path(path)
        self.options = options
        self.fmt = detect_format(self.path, options.fmt)
        self.errors_path = options.errors_path or self.path.with_name(self.path.name + ".errors.csv")
        self.progress = progress
        self.today = options.today or datetime.now(JST).date()
        self.committed: _Committed | None = None

    def _uow(self) -> Any:
        return self.storage.unit_of_work(self.ctx, Zone.MYNUMBER)

    def run(self) -> ImportSummary:
        started = time.perf_counter()
        gaiji = GaijiMap.load(self.options.gaiji) if self.options.gaiji else GaijiMap.empty()
        gaiji_digest = (
            hashlib.sha256(self.options.gaiji.read_bytes()).hexdigest() if self.options.gaiji else None
        )
        digest = file_digest(self.path)
        now = _now()
        with self._uow() as uow:
            job = uow.session.scalars(
                select(ImportJob).where(ImportJob.file_sha256 == digest).order_by(ImportJob.started_at.desc())
            ).first()
            if job is not None and job.status != JOB_RUNNING:
                uow.record("import_replay", "registry.import_job", job.id, status=job.status)
                return self._finish_report(job, started, already_done=True, resumed=0, uow=uow)
            if (
                job is None
                and self.options.initial_load
                and uow.session.scalar(select(Person.id).limit(1)) is not None
            ):
                raise ValidationError(
                    "an initial load needs an empty registry",
                    hint="import without --initial-load",
                    message_ja="初回一括移入は住民記録が空の団体にのみ行えます（通常の移入を行ってください）",
                )
            if job is None:
                job = ImportJob(
                    id=uuid.uuid4().hex, file_sha256=digest, file_name=self.path.name[:500],
                    file_format=self.fmt,
                    gaiji_sha256=gaiji_digest, status=JOB_RUNNING, last_line=0, rows_read=0, rows_accepted=0,
                    rows_rejected=0, households=0, batches=0, actor=str(self.ctx.actor)[:100],
                    started_at=now, updated_at=now,
                    phase=PHASE_LOADING if self.options.initial_load else None,
                )  # fmt: skip
                uow.session.add(job)
                uow.record("import_start", "registry.import_job", job.id, file=self.path.name, sha256=digest)
            elif job.gaiji_sha256 != gaiji_digest:
                raise ValidationError(
                    "the gaiji mapping differs from the one the interrupted import used",
                    hint="resume with the same --gaiji file",
                    message_ja="中断した移入と異なる外字対応表が指定されています。同じ外字対応表で再実行してください",
                )
            cipher = uow.keyring.field_cipher()
            indexer = uow.keyring.blind_indexer()
            tenant = uow.tenant
        resumed = job.last_line
        if job.phase == PHASE_LOADING:
            indexes.drop_deferred_indexes(self.storage, tenant)
            if indexes.defers_constraints(self.storage):
                with self._uow() as uow:
                    self.committed = _Committed.load(uow)
        setup = ParseSetup(
            parse=ParseContext(
                today=self.today, gaiji=gaiji, known_cities=(tenant.name,),
                municipality_prefix=f"{tenant.prefecture}{tenant.name}",
            ),
            cipher=cipher, indexer=indexer, now=now,
            formatters=_formatters() if self.options.encoded_copy and indexes.defers_constraints(self.storage)
            else None,
        )  # fmt: skip
        parsing.install(setup)
        total = self.path.stat().st_size
        # Fork the workers now, before a progress display starts a thread: they inherit the setup.
        pool = (
            multiprocessing.get_context("fork").Pool(self.options.workers, initializer=_relaxed_gc)
            if self.options.workers > 0
            else None
        )
        thresholds = gc.get_threshold()
        try:
            _relaxed_gc()
            job = self._stream(job, total, now, pool, started)
        finally:
            gc.set_threshold(*thresholds)
            if pool is not None:
                pool.terminate()
                pool.join()
        if job.phase is not None:
            if self.progress is not None:
                self.progress(
                    ImportProgress(
                        total, total, job.rows_read, job.rows_accepted, job.rows_rejected, PHASE_INDEXING
                    )
                )
            self._build_indexes(job, tenant)
        if job.status == JOB_FAILED:
            return self._finish_report(job, started, already_done=False, resumed=0)
        with self._uow() as uow:
            job = uow.session.get_one(ImportJob, job.id)
            job.status, job.finished_at, job.updated_at = JOB_DONE, _now(), _now()
            job.phase = None
            uow.record(
                "import_done", "registry.import_job", job.id, read=job.rows_read, accepted=job.rows_accepted,
                rejected=job.rows_rejected, households=job.households,
            )  # fmt: skip
            return self._finish_report(job, started, already_done=False, resumed=resumed, uow=uow)

    def _build_indexes(self, job: ImportJob, tenant: Tenant) -> None:
        """The end of an initial load: record the phase, then build the indexes (resumable)."""
        with self._uow() as uow:
            uow.session.execute(
                update(ImportJob)
                .where(ImportJob.id == job.id)
                .values(phase=PHASE_INDEXING, updated_at=_now())
            )
        started = time.perf_counter()
        indexes.build_deferred_indexes(self.storage, tenant)
        with self._uow() as uow:
            seconds = round(time.perf_counter() - started, 1)
            uow.record("import_indexes", "registry.import_job", job.id, seconds=seconds)

    def _stream(self, job: ImportJob, total: int, now: datetime, pool: Any, started: float) -> ImportJob:
        with self.path.open("rb") as raw, io.TextIOWrapper(raw, encoding="utf-8", newline="") as text:
            header: list[str] = []
            items = _items(text, self.fmt, header)
            first = next(items, None)
            if first is not None and first[0] == 1 and isinstance(first[1], list):
                return self._fail_header(job, first[1])
            stream: Iterable[Item] = [first] if first is not None else []
            chunk_rows = min(self.options.chunk_rows, self.options.batch_size)
            chunks = household_chunks(_chain(stream, items), after_line=job.last_line, rows=chunk_rows)

            def report(job: ImportJob) -> None:
                if self.progress is not None:
                    self.progress(
                        ImportProgress(raw.tell(), total, job.rows_read, job.rows_accepted, job.rows_rejected)
                    )

            report(job)
            batch = _Batch()
            for result in self._parsed(chunks, pool, header):
                batch.add(result)
                if batch.rows >= self.options.batch_size:
                    job = self._commit(job, batch, now)
                    batch = _Batch()
                    report(job)
            if batch.results:
                job = self._commit(job, batch, now)
            report(job)
        return job

    def _with_changes(self, chunks: Iterator[list[Item]]) -> Iterator[tuple[list[Item], str]]:
        """Each chunk with the id of the change of the batch it will be in: batches are cut as
        :meth:`_stream` cuts them (after the chunk that brings them to ``batch_size`` rows), so the
        workers can write the change into the versions."""
        rows = 0
        change_id = uuid.uuid4().hex
        for chunk in chunks:
            yield chunk, change_id
            rows += len(chunk)
            if rows >= self.options.batch_size:
                rows, change_id = 0, uuid.uuid4().hex

    def _parsed(self, chunks: Iterator[list[Item]], pool: Any, header: list[str]) -> Iterator[ChunkResult]:
        # ``header`` is filled once the file's first line is read, before the first chunk
        if pool is None:
            for chunk, change_id in self._with_changes(chunks):
                yield parsing.parse_chunk(chunk, change_id, header)
            return
        pending: deque[Any] = deque()
        # Bounded read-ahead (memory stays flat) of about a batch, so that the workers keep parsing
        # while this process writes the previous batch.
        ahead = max(3 * self.options.workers, self.options.batch_size // self.options.chunk_rows + 2)
        for chunk, change_id in self._with_changes(chunks):
            pending.append(pool.apply_async(parsing.parse_chunk, (chunk, change_id, tuple(header))))
            if len(pending) >= ahead:
                yield pending.popleft().get()
        while pending:
            yield pending.popleft().get()

    def _commit(self, job: ImportJob, batch: _Batch, now: datetime) -> ImportJob:
        households = [h for r in batch.results for h in r.households]
        rejected: dict[int, list[RowError]] = {}
        rejected_households: list[tuple[str, int]] = []
        for r in batch.results:
            rejected.update(r.rejected)
            rejected_households += r.rejected_households
        first_line = min([h.first_line for h in households] + list(rejected) or [job.last_line + 1])
        last_line = max(r.last_line for r in batch.results)
        with self._uow() as uow, _batch_page_cache(uow.session):
            if uow.session.get_bind().dialect.name == "postgresql":
                # The tables grow by a batch at a time: a plan cached when they were small (a
                # sequential scan) would be reused when they hold millions of rows.
                uow.session.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))
            writer = _BatchWriter(uow, job, now, self.today, self.committed)
            households = writer.check(households, rejected, rejected_households)
            change_id = batch.results[0].change_id
            if any(r.change_id != change_id for r in batch.results):  # pragma: no cover - a bug
                raise RuntimeError(f"batch {first_line}-{last_line}: chunks of different changes")
            accepted = writer.write(households, batch.results)
            s = uow.session
            s.execute(
                insert(Change).values(
                    id=change_id, idempotency_key=f"import:{job.id}:{first_line}", change_type="移行",
                    request_digest=hashlib.sha256(f"{job.file_sha256}:{first_line}-{last_line}".encode()).hexdigest(),
                    event_date=self.today, notified_on=None, recorded_at=now, actor=str(self.ctx.actor)[:100],
                    result_json=json.dumps(
                        {"job": job.id, "lines": [first_line, last_line], "accepted": accepted,
                         "rejected": len(rejected), "households": len(households)}
                    ),
                )
            )  # fmt: skip
            problems = [
                {"job_id": job.id, "line": e.line, "column_name": e.column, "reason": e.reason_ja}
                for line in sorted(rejected)
                for e in rejected[line]
            ]
            if problems:
                s.execute(insert(ImportRowError), problems)
            read = batch.rows
            if accepted + len(rejected) != read:  # pragma: no cover - an accounting bug must not commit
                raise RuntimeError(
                    f"batch {first_line}-{last_line}: {read} read, {accepted} + {len(rejected)}"
                )
            updated = s.execute(
                update(ImportJob)
                .where(ImportJob.id == job.id, ImportJob.last_line == job.last_line)
                .values(
                    last_line=last_line, rows_read=ImportJob.rows_read + read,
                    rows_accepted=ImportJob.rows_accepted + accepted,
                    rows_rejected=ImportJob.rows_rejected + len(rejected),
                    households=ImportJob.households + len(households), batches=ImportJob.batches + 1,
                    updated_at=_now(),
                )
            )  # fmt: skip
            if updated.rowcount != 1:
                raise Conflict(
                    "another import of the same file advanced the job",
                    message_ja="同じファイルの移入が同時に実行されています",
                )
            uow.record(
                "import", "registry.person", job.id, lines=f"{first_line}-{last_line}", read=read,
                accepted=accepted, rejected=len(rejected), households=len(households), change_id=change_id,
            )  # fmt: skip
            fresh: ImportJob = s.get_one(ImportJob, job.id, populate_existing=True)
            s.expunge(fresh)
        if self.committed is not None:  # only once the batch is committed
            self.committed.add(households)
        return fresh

    def _fail_header(self, job: ImportJob, errors: list[RowError]) -> ImportJob:
        with self._uow() as uow:
            job = uow.session.get_one(ImportJob, job.id)
            uow.session.execute(
                insert(ImportRowError),
                [
                    {"job_id": job.id, "line": e.line, "column_name": e.column, "reason": e.reason_ja}
                    for e in errors
                ],
            )
            job.status, job.finished_at, job.updated_at = JOB_FAILED, _now(), _now()
            uow.record("import_refused", "registry.import_job", job.id, problems=len(errors))
            uow.session.flush()
            uow.session.expunge(job)
            return job

    def _finish_report(
        self,
        job: ImportJob,
        started: float,
        *,
        already_done: bool,
        resumed: int,
        uow: UnitOfWork | None = None,
    ) -> ImportSummary:
        if uow is None:
            with self._uow() as own:
                return self._finish_report(job, started, already_done=already_done, resumed=resumed, uow=own)
        uow.session.flush()
        errors = (
            RowError(int(r.line), r.column_name, r.reason)
            for r in uow.session.execute(
                select(ImportRowError.line, ImportRowError.column_name, ImportRowError.reason)
                .where(ImportRowError.job_id == job.id)
                .order_by(ImportRowError.line, ImportRowError.id)
                .execution_options(yield_per=5000)
            )
        )
        tmp = self.errors_path.with_name(self.errors_path.name + ".tmp")
        with tmp.open("w", encoding="utf-8", newline="") as out:
            write_error_report(errors, out)
        tmp.replace(self.errors_path)
        return ImportSummary(
            job_id=job.id, status=job.status, file_sha256=job.file_sha256, rows_read=job.rows_read,
            rows_accepted=job.rows_accepted, rows_rejected=job.rows_rejected, households=job.households,
            batches=job.batches, resumed_from_line=resumed, already_done=already_done,
            errors_path=self.errors_path, seconds=time.perf_counter() - started,
        )  # fmt: skip


_SQLITE_BATCH_CACHE = -262144  # PRAGMA cache_size: a negative size is in KiB, so 256 MiB


@contextmanager
def _batch_page_cache(session: Session) -> Iterator[None]:
    """SQLite: a larger page cache for one batch, then the connection's own again (it goes back to
    the pool), also when the batch fails. The unique indexes stay during a load on SQLite and their
    keys are random, so with the default 2 MB cache most insertions read their pages again."""
    if session.get_bind().dialect.name != "sqlite":
        yield
        return
    raw: Any = session.connection().connection.driver_connection
    before = int(raw.execute("PRAGMA cache_size").fetchone()[0])
    raw.execute(f"PRAGMA cache_size = {_SQLITE_BATCH_CACHE}")
    try:
        yield
    finally:
        raw.execute(f"PRAGMA cache_size = {before}")


def _formatters() -> Formatters:
    return Formatters(
        RowFormatter(Household.__table__, HOUSEHOLD_COLUMNS),  # type: ignore[arg-type]
        RowFormatter(Person.__table__, PERSON_COLUMNS),  # type: ignore[arg-type]
        RowFormatter(PersonVersion.__table__, VERSION_COLUMNS),  # type: ignore[arg-type]
        RowFormatter(AtenaPerson.__table__, ATENA_COLUMNS),  # type: ignore[arg-type]
    )


def _relaxed_gc() -> None:
    """Collect cycles less often while importing.

    An import allocates millions of short-lived, acyclic objects (rows, value lists) next to large
    long-lived caches (names, addresses); with the default thresholds the collector keeps walking
    those caches and takes about a third of the parsing time. Cycles are still collected.
    """
    gc.set_threshold(100_000, 50, 100)


def _chain(first: Iterable[Item], rest: Iterator[Item]) -> Iterator[Item]:
    yield from first
    yield from rest


def import_file(
    storage: Storage,
    ctx: TenantContext,
    path: Path | str,
    options: ImportOptions | None = None,
    *,
    progress: Callable[[ImportProgress], None] | None = None,
) -> ImportSummary:
    """Import (or resume importing) ``path`` into ``ctx``'s tenant; ``ctx`` has purpose
    ``registry.migration``. Returns the counts; the rejected rows are in ``summary.errors_path``."""
    return Importer(storage, ctx, Path(path), options, progress=progress).run()
