"""Exporting the registry in the interchange format (データ移行・移出), the exit path.

Streams ``registry_persons`` (joined with the household's 世帯番号 and current 世帯主) in household
order, members of a household on consecutive rows with the head first, so that the file imports
again as it is; 個人番号 is decrypted row by row. Nothing is loaded whole: rows come through a
server-side cursor on PostgreSQL (``yield_per``) and are written as they arrive, to a temporary
file renamed into place at the end.

Selection: every person (``include_removed``) or the residents (住民, and 転出予定 persons until
their 転出予定日), optionally only those whose last change falls in a date range: by the event
date (異動日, ``basis="event"``) or by the day it was recorded (``basis="recorded"``, in Japan
time). One audit entry records the export: purpose, selection, row count and the file's SHA-256.

The context's purpose is ``platform.data.export`` (allowed for a disabled tenant: a municipality
that leaves still gets its data) or ``registry.migration``.
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import Session, aliased

from jichitai.mynumber.registry import purposes
from jichitai.mynumber.registry.interchange import (
    CHANGES_WITH_RELATIONSHIP_BEFORE,
    COLUMN_NAMES,
    RELATIONSHIP_CHANGES,
)
from jichitai.mynumber.registry.migration.parsing import PERSON_TABLE
from jichitai.mynumber.registry.migration.rows import export_values
from jichitai.mynumber.registry.models import STATUS_RESIDENT, Household, Person, PersonVersion
from jichitai.platform.context import DATA_EXPORT, TenantContext
from jichitai.platform.errors import PermissionDenied, ValidationError
from jichitai.platform.storage import Storage
from jichitai.platform.zones import Zone

JST = ZoneInfo("Asia/Tokyo")
Basis = Literal["event", "recorded"]
_FETCH = 2000


@dataclass(frozen=True)
class ExportOptions:
    fmt: Literal["csv", "jsonl"] = "csv"
    changed_since: date | None = None  # inclusive
    until: date | None = None  # inclusive
    basis: Basis = "event"
    include_removed: bool = False
    today: date | None = None  # for 転出予定 persons; default today in Japan


@dataclass(frozen=True)
class ExportSummary:
    path: Path
    rows: int
    sha256: str


def _require_export(ctx: TenantContext) -> None:
    if ctx.purpose.code not in (DATA_EXPORT.code, purposes.MIGRATION.code):
        raise PermissionDenied(
            f"export needs purpose {DATA_EXPORT.code} or {purposes.MIGRATION.code}",
            message_ja=f"住民記録の移出は利用目的「{DATA_EXPORT.label_ja}」で行ってください",
        )


def _jst_start(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=JST).astimezone(UTC)


def selection(options: ExportOptions, today: date) -> list[ColumnElement[bool]]:
    """The WHERE conditions of an export."""
    if options.changed_since and options.until and options.until < options.changed_since:
        raise ValidationError("until is before changed-since", message_ja="期間の終わりが始まりより前です")
    where: list[ColumnElement[bool]] = []
    if not options.include_removed:
        where.append(or_(Person.status == STATUS_RESIDENT, Person.removed_on > today))
    if options.basis == "event":
        if options.changed_since:
            where.append(Person.last_change_on >= options.changed_since)
        if options.until:
            where.append(Person.last_change_on <= options.until)
    else:
        if options.changed_since:
            where.append(Person.updated_at >= _jst_start(options.changed_since))
        if options.until:
            where.append(Person.updated_at < _jst_start(options.until + timedelta(days=1)))
    return where


def _relationship_before(session: Session, r: Mapping[str, Any], today: date) -> str | None:
    """異動前続柄: the 続柄 until a 世帯主変更 or 続柄変更 dated ahead (a new 世帯主 or a restated 続柄
    from the 転出予定日 of a 世帯主 whose 転出 is pending), or until a 転出取消 dated ahead that made
    the person 世帯主, read from the version believed for the day before; None for every other row
    (one query only for those few rows)."""
    if r["last_change"] not in CHANGES_WITH_RELATIONSHIP_BEFORE or r["last_change_on"] <= today:
        return None
    day = r["last_change_on"] - timedelta(days=1)
    relationship: str | None = session.scalar(
        select(PersonVersion.relationship).where(
            PersonVersion.person_id == r["id"],
            PersonVersion.superseded_at.is_(None),
            PersonVersion.valid_from <= day,
            or_(PersonVersion.valid_to.is_(None), PersonVersion.valid_to > day),
        )
    )
    if r["last_change"] not in RELATIONSHIP_CHANGES and relationship == r["relationship"]:
        return None  # a 転出取消 that left the 続柄 as it was
    return relationship


def export_file(
    storage: Storage,
    ctx: TenantContext,
    out: Path | str,
    options: ExportOptions = ExportOptions(),
    *,
    progress: Callable[[int, int], None] | None = None,
) -> ExportSummary:
    """Write the selected persons to ``out``; ``progress(done, total)`` is called as rows are written."""
    _require_export(ctx)
    out = Path(out)
    today = options.today or datetime.now(JST).date()
    where = selection(options, today)
    head = aliased(Person)
    heads = (
        select(head.household_id, func.min(head.name).label("head_name"))
        .where(head.relationship == "世帯主", head.status == STATUS_RESIDENT)
        .group_by(head.household_id)
        .subquery()
    )
    person = Person.__table__
    stmt = (
        select(person, Household.household_number, heads.c.head_name)
        .join(Household, Household.id == Person.household_id)
        .outerjoin(heads, heads.c.household_id == Person.household_id)
        .where(*where)
        .order_by(
            Household.household_number,
            (Person.relationship != "世帯主"),
            Person.birth_date,
            Person.juminhyo_code,
        )
    )
    tmp = out.with_name(out.name + ".tmp")
    digest = hashlib.sha256()
    rows = 0
    with storage.unit_of_work(ctx, Zone.MYNUMBER) as uow:
        total = uow.session.scalar(select(func.count()).select_from(Person).where(*where)) or 0
        cipher = uow.keyring.field_cipher()
        with tmp.open("w", encoding="utf-8", newline="") as f:
            writer = csv.writer(f) if options.fmt == "csv" else None
            if writer is not None:
                writer.writerow(COLUMN_NAMES)
            result = uow.session.execute(stmt.execution_options(yield_per=_FETCH))
            for part in result.mappings().partitions():
                for r in part:
                    number = None
                    if r["individual_number_enc"] is not None:
                        number = cipher.decrypt(
                            PERSON_TABLE, "individual_number", r["id"], r["individual_number_enc"]
                        )
                    row: Mapping[str, Any] = r  # type: ignore[assignment]
                    values = export_values(
                        row,
                        household_number=r["household_number"],
                        individual_number=number,
                        head_name=r["head_name"],
                        relationship_before=_relationship_before(uow.session, row, today),
                    )
                    if writer is not None:
                        writer.writerow(values)
                    else:
                        record = {k: v for k, v in zip(COLUMN_NAMES, values, strict=True) if v}
                        f.write(json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n")
                    rows += 1
                if progress is not None:
                    progress(rows, int(total))
        with tmp.open("rb") as f:
            while block := f.read(1 << 20):
                digest.update(block)
        since, until = options.changed_since, options.until
        uow.record(
            "export", "registry.person", out.name, rows=rows, fmt=options.fmt,
            include_removed=options.include_removed, basis=options.basis,
            changed_since=since.isoformat() if since else "", until=until.isoformat() if until else "",
            sha256=digest.hexdigest(),
        )  # fmt: skip
    tmp.replace(out)
    return ExportSummary(out, rows, digest.hexdigest())
