"""Helpers of the import/export tests: hand-written rows, synthetic files, reading reports."""

from __future__ import annotations

import csv
import io
import itertools
import secrets
from datetime import date
from pathlib import Path

from jichitai.mynumber.registry.interchange import COLUMN_NAMES, my_number_check_digit
from jichitai.mynumber.registry.migration.importer import ImportOptions, ImportSummary, import_file
from jichitai.mynumber.registry.synthetic import write_population
from jichitai.platform.storage import Storage
from tests.conftest import ctx

TODAY = date(2025, 6, 2)
ADDRESS = "東京都千代田区一番町"
_serial = itertools.count(1)


def my_number() -> str:
    body = f"{secrets.randbelow(10**11):011d}"
    return body + str(my_number_check_digit(body))


def code() -> str:
    return f"{secrets.randbelow(10**11):011d}"


def household() -> str:
    """A 世帯番号 no other test uses (15 digits, random)."""
    return f"9{secrets.randbelow(10**14):014d}"


def row(**values: str) -> dict[str, str]:
    """A valid single-person household (a 世帯主), with ``values`` overriding columns."""
    base = {
        "住民票コード": code(),
        "個人番号": my_number(),
        "世帯番号": household(),
        "続柄": "世帯主",
        "氏名": "移行　太郎",
        "氏名カナ": "イコウ　タロウ",
        "生年月日": "1980-04-01",
        "性別": "1",
        "住民種別": "日本人",
        "住民となった年月日": "2005-10-01",
        "住所": f"{ADDRESS}{secrets.randbelow(9000) + 100}番地",
        "住所を定めた年月日": "2010-03-15",
        "異動事由": "転入",
        "異動日": "2010-03-15",
        "届出日": "2010-03-20",
    }
    base.update(values)
    return base


def write_rows(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMN_NAMES)
        writer.writeheader()
        for r in rows:
            writer.writerow({k: r.get(k, "") for k in COLUMN_NAMES})
    return path


def synthetic_file(path: Path, residents: int, seed: int) -> Path:
    """A synthetic 千代田区 whose 世帯番号 carry a prefix of their own (tests share a tenant)."""
    prefix = f"{next(_serial):02d}{secrets.randbelow(1000):03d}"
    buf = io.StringIO()
    write_population(buf, residents, seed, "131016", "千代田区")
    buf.seek(0)
    reader = csv.DictReader(buf)
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMN_NAMES)
        writer.writeheader()
        for r in reader:
            r["世帯番号"] = prefix + r["世帯番号"]
            writer.writerow(r)
    return path


def read_report(path: Path) -> list[tuple[int, str, str]]:
    with path.open(encoding="utf-8", newline="") as f:
        reader = csv.reader(f)
        assert next(reader) == ["行", "項目", "理由"]
        return [(int(line), column, reason) for line, column, reason in reader]


def read_file(path: Path) -> dict[str, dict[str, str]]:
    """The rows of an interchange CSV by 住民票コード."""
    with path.open(encoding="utf-8", newline="") as f:
        return {r["住民票コード"]: r for r in csv.DictReader(f)}


def run_import(storage: Storage, path: Path, **options: object) -> ImportSummary:
    opts = ImportOptions(today=TODAY, **options)  # type: ignore[arg-type]
    return import_file(storage, ctx("registry.migration"), path, opts)
