"""PostgreSQL: the rows the workers encode for COPY (:mod:`...migration.copyrows`) are the rows the
value-list path writes, for a file with refused households (cut out of the encoded blocks) and
with 統合宛名番号 drawn at commit (written into the encoded rows)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pytest
from sqlalchemy import Table, select

from jichitai.mynumber.atena.models import AtenaPerson
from jichitai.mynumber.atena.service import format_atena_number
from jichitai.mynumber.registry.models import Change, Household, Person, PersonVersion
from jichitai.platform.storage import Storage
from jichitai.platform.zones import Zone
from tests.conftest import add_demo_tenant, close_storage, ctx, make_settings, make_storage
from tests.mynumber.registry.migration.support import (
    read_file,
    read_report,
    run_import,
    synthetic_file,
    write_rows,
)

pytestmark = pytest.mark.postgres

# Differ between two imports of the same file: ids, the clock, the keys (each installation has its
# own), the change's id. Everything else must be equal.
_UNEQUAL = {
    "id", "person_id", "household_id", "change_id", "individual_number_enc", "individual_number_bidx",
    "updated_at", "recorded_at", "registered_at", "created_at", "tenant_id",
}  # fmt: skip


@pytest.fixture
def two_storages(tmp_path: Path) -> Iterator[tuple[Storage, Storage]]:
    made: list[Storage] = []
    try:
        for name in ("encoded", "rows"):
            st = make_storage(make_settings(tmp_path / name, "postgresql"))
            made.append(st)
            add_demo_tenant(st)
        yield made[0], made[1]
    finally:
        for st in made:
            close_storage(st)


def _contents(storage: Storage) -> dict[str, Any]:
    """The registry's rows, keyed by what both imports share, with the per-installation values left out
    (and the 個人番号 decrypted, which also checks each ciphertext is bound to its row)."""
    out: dict[str, Any] = {}
    with storage.unit_of_work(ctx("registry.migration"), Zone.MYNUMBER) as uow:
        s = uow.session
        cipher = uow.keyring.field_cipher()
        # the batch a version came in (the job's id, which differs, left out)
        changes = {c.id: json.loads(c.result_json)["lines"] for c in s.scalars(select(Change))}
        households = {h.id: h.household_number for h in s.scalars(select(Household))}
        for model, key in (
            (Household, "household_number"),
            (Person, "juminhyo_code"),
            (PersonVersion, None),
            (AtenaPerson, "atena_number"),
        ):
            table = cast(Table, model.__table__)
            rows = {}
            for r in s.execute(select(table)).mappings():
                values = {k: v for k, v in r.items() if k not in _UNEQUAL}
                if "household_id" in r:
                    values["household"] = households[r["household_id"]]
                if "change_id" in r:
                    values["change"] = changes[r["change_id"]]
                if r.get("individual_number_enc") is not None:
                    values["individual_number"] = cipher.decrypt(
                        table.name, "individual_number", r["id"], r["individual_number_enc"]
                    )
                    assert r["individual_number_bidx"] is not None
                k = r[key] if key else (r["atena_number"], r["valid_from"], r["valid_to"])
                assert k not in rows
                rows[k] = values
            out[table.name] = rows
    return out


def test_encoded_rows_equal_value_list_rows(tmp_path: Path, two_storages: tuple[Storage, Storage]) -> None:
    rows = list(read_file(synthetic_file(tmp_path / "city.csv", 400, seed=11)).values())
    # A 住民票コード used again by a later household in the same batch: the main process refuses
    # that household, cutting it out of its chunk's encoded rows.
    rows[150]["住民票コード"] = rows[20]["住民票コード"]
    # A number the counter reaches in a later batch, carried over in the first one: skipped then.
    carried = format_atena_number(300)
    rows[0]["統合宛名番号"] = carried
    path = write_rows(tmp_path / "city.csv", rows)

    encoded, plain = two_storages
    options: dict[str, Any] = {"batch_size": 120, "chunk_rows": 25}
    a = run_import(encoded, path, errors_path=tmp_path / "a.errors.csv", **options)
    b = run_import(plain, path, errors_path=tmp_path / "b.errors.csv", encoded_copy=False, **options)

    assert (a.rows_read, a.rows_accepted, a.rows_rejected, a.batches) == (
        b.rows_read, b.rows_accepted, b.rows_rejected, b.batches,
    )  # fmt: skip
    assert a.rows_rejected >= 1 and a.rows_accepted > 300
    assert read_report(a.errors_path) == read_report(b.errors_path)
    got, want = _contents(encoded), _contents(plain)
    assert got.keys() == want.keys()
    for table in want:
        assert len(got[table]) == len(want[table]) > 0, table
        assert got[table] == want[table], table
    assert len(got["registry_persons"]) == a.rows_accepted
    assert got["atena_persons"][carried]["name"] == got["registry_persons"][rows[0]["住民票コード"]]["name"]
    assert format_atena_number(301) in got["atena_persons"]  # drawn past the carried number
