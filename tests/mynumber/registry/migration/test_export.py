"""Export: the same format, full or by date range; import → export → import gives the same data."""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from rich.console import Console
from sqlalchemy import select
from typer.testing import CliRunner

from jichitai.mynumber.registry.migration.cli import build_cli
from jichitai.mynumber.registry.migration.exporter import ExportOptions, export_file
from jichitai.platform.audit.models import AuditEntry
from jichitai.platform.errors import PermissionDenied
from jichitai.platform.storage import Storage
from jichitai.platform.zones import Zone
from tests.conftest import add_demo_tenant, close_storage, ctx, make_settings, make_storage
from tests.mynumber.registry.migration.support import (
    TODAY,
    read_file,
    row,
    run_import,
    synthetic_file,
    write_rows,
)

EXPORT = "platform.data.export"


def _export(storage: Storage, out: Path, **options: object) -> dict[str, dict[str, str]]:
    export_file(storage, ctx(EXPORT), out, ExportOptions(today=TODAY, **options))  # type: ignore[arg-type]
    return read_file(out)


def test_export_by_date_range(mig_storage: Storage, tmp_path: Path) -> None:
    rows = [
        row(氏名="範囲　前", 氏名カナ="ハンイ　マエ", 異動日="2019-05-01", 住所を定めた年月日="2019-05-01"),
        row(氏名="範囲　内", 氏名カナ="ハンイ　ウチ", 異動日="2021-06-01", 住所を定めた年月日="2021-06-01"),
        row(氏名="範囲　後", 氏名カナ="ハンイ　アト", 異動日="2023-07-01", 住所を定めた年月日="2023-07-01"),
        row(氏名="範囲　除票", 氏名カナ="ハンイ　ジョヒョウ", 異動事由="転出", 異動日="2021-08-01",
            消除事由="転出", 消除日="2021-08-01", 転出先住所="大阪府大阪市北区梅田3-1-1"),
    ]  # fmt: skip
    mine = {r["住民票コード"]: r["氏名"] for r in rows}
    assert run_import(mig_storage, write_rows(tmp_path / "range.csv", rows)).rows_accepted == 4

    def names(found: dict[str, dict[str, str]]) -> list[str]:
        return sorted(mine[c] for c in found if c in mine)

    window = {"changed_since": date(2021, 1, 1), "until": date(2022, 12, 31)}
    assert names(_export(mig_storage, tmp_path / "a.csv", **window)) == ["範囲　内"]
    with_removed = _export(mig_storage, tmp_path / "b.csv", include_removed=True, **window)
    assert names(with_removed) == ["範囲　内", "範囲　除票"]
    moved = next(r for c, r in with_removed.items() if mine.get(c) == "範囲　除票")
    assert (moved["消除事由"], moved["消除日"], moved["転出先住所"]) == (
        "転出",
        "2021-08-01",
        "大阪府大阪市北区梅田3-1-1",
    )
    assert names(_export(mig_storage, tmp_path / "c.csv")) == sorted(["範囲　前", "範囲　内", "範囲　後"])
    today_jst = datetime.now(ZoneInfo("Asia/Tokyo")).date()
    recorded = _export(mig_storage, tmp_path / "d.csv", basis="recorded", changed_since=today_jst)
    assert names(recorded) == sorted(["範囲　前", "範囲　内", "範囲　後"])
    before = _export(mig_storage, tmp_path / "e.csv", basis="recorded", until=date(2020, 1, 1))
    assert names(before) == []


def test_export_needs_an_export_purpose(mig_storage: Storage, tmp_path: Path) -> None:
    with pytest.raises(PermissionDenied):
        export_file(mig_storage, ctx("registry.person.read"), tmp_path / "x.csv")


@pytest.mark.slow
def test_round_trip_import_export_import(mig_storage: Storage, tmp_path: Path) -> None:
    source = synthetic_file(tmp_path / "city.csv", 400, seed=3)
    assert run_import(mig_storage, source, batch_size=150).rows_accepted == 400
    first = tmp_path / "first.csv"
    exported = _export(mig_storage, first, include_removed=True)
    for code, original in read_file(source).items():
        out = exported[code]
        assert out["統合宛名番号"] != ""  # assigned on import, carried from now on
        assert {k: v for k, v in out.items() if k != "統合宛名番号"} == {
            k: v for k, v in original.items() if k != "統合宛名番号"
        }
    # the exit path: the export loads into another installation and exports identically
    other = make_storage(make_settings(tmp_path / "other", mig_storage.settings.backend))
    try:
        add_demo_tenant(other)
        summary = run_import(other, first, batch_size=150)
        assert summary.rows_rejected == 0 and summary.rows_accepted == len(exported)
        second = tmp_path / "second.csv"
        export_file(other, ctx(EXPORT), second, ExportOptions(today=TODAY, include_removed=True))
        assert second.read_bytes() == first.read_bytes()
        jsonl = tmp_path / "second.jsonl"
        export_file(other, ctx(EXPORT), jsonl, ExportOptions(fmt="jsonl", today=TODAY, include_removed=True))
        records = [json.loads(line) for line in jsonl.read_text(encoding="utf-8").splitlines()]
        assert {r["住民票コード"]: r for r in records}.keys() == exported.keys()
    finally:
        close_storage(other)


def test_cli_generate_load_export_search(mig_storage: Storage, tmp_path: Path) -> None:
    app = build_cli(lambda: mig_storage, Console(width=250))
    runner = CliRunner()
    city = tmp_path / "gen.csv"
    result = runner.invoke(
        app, ["generate", str(city), "--residents", "60", "--seed", "9", "--tenant", "131016", "--load",
              "--workers", "0"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "60" in result.output
    generated = read_file(city)
    assert len(generated) == 60
    out = tmp_path / "all.jsonl"
    result = runner.invoke(app, ["export", str(out), "--tenant", "131016", "--include-removed"])
    assert result.exit_code == 0, result.output
    codes = {json.loads(line)["住民票コード"] for line in out.read_text(encoding="utf-8").splitlines()}
    assert set(generated) <= codes
    someone = next(r for r in generated.values() if not r["消除日"])
    result = runner.invoke(
        app, ["search", "--tenant", "131016", "--name", someone["氏名カナ"], "--birth", someone["生年月日"]]
    )
    assert result.exit_code == 0, result.output
    assert someone["氏名"] in result.output and "1 found" in result.output
    bad = write_rows(tmp_path / "bad.csv", [row(生年月日="2999-01-01")])
    result = runner.invoke(app, ["import", str(bad), "--tenant", "131016", "--workers", "0"])
    assert result.exit_code == 3, result.output


def test_cli_writes_the_events_feed_as_json_lines(mig_storage: Storage, tmp_path: Path) -> None:
    """File-based linkage: the 異動情報 after a seq, in order, as the API gives them; audited."""
    from jichitai.mynumber.registry.service import RegistryService
    from tests.mynumber.registry.core.support import move_in_family

    svc = RegistryService(mig_storage)
    app = build_cli(lambda: mig_storage, Console(width=250))
    runner = CliRunner()
    start = tmp_path / "start.jsonl"
    assert runner.invoke(app, ["events", str(start), "--tenant", "131016"]).exit_code == 0
    seen = [json.loads(line)["seq"] for line in start.read_text(encoding="utf-8").splitlines()]
    last = max(seen, default=0)
    family, _address = move_in_family(svc, "連携", "レンケイ")

    out = tmp_path / "events.jsonl"
    result = runner.invoke(app, ["events", str(out), "--tenant", "131016", "--after", str(last)])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [e["seq"] for e in lines] == [last + 1, last + 2, last + 3]
    assert [(e["event_type"], e["atena_number"]) for e in lines] == [
        ("move_in", a) for a in family.atena_numbers
    ]
    assert (
        lines[0]["event_date"] == "2020-04-01" and lines[0]["household_number"] == family.household_numbers[0]
    )
    assert f"next time: --after {last + 3}" in result.output
    one = tmp_path / "one.jsonl"
    result = runner.invoke(
        app, ["events", str(one), "--tenant", "131016", "--after", str(last), "--limit", "1"]
    )
    assert result.exit_code == 0 and len(one.read_text(encoding="utf-8").splitlines()) == 1
    none = tmp_path / "none.jsonl"
    result = runner.invoke(app, ["events", str(none), "--tenant", "131016", "--after", str(last + 3)])
    assert (
        result.exit_code == 0 and none.read_text(encoding="utf-8") == "" and "wrote 0 events" in result.output
    )
    assert not list(tmp_path.glob("*.partial"))
    with mig_storage.unit_of_work(ctx("platform.audit.review"), Zone.MYNUMBER) as uow:
        feed = uow.session.scalars(
            select(AuditEntry).where(AuditEntry.object_type == "registry.events")
        ).all()
    assert any(e.purpose == "registry.events.consume" and e.actor_kind == "operator" for e in feed)
