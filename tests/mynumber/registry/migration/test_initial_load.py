"""Initial load (``--initial-load``): search indexes dropped while loading and built at the end,
resumably, and only into an empty registry."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, inspect, select

from jichitai.mynumber.registry.migration.importer import ImportOptions, ImportProgress, import_file
from jichitai.mynumber.registry.migration.indexes import deferred_indexes
from jichitai.mynumber.registry.migration.models import PHASE_LOADING, ImportJob
from jichitai.mynumber.registry.models import Person, PersonVersion
from jichitai.mynumber.registry.service import RegistryService, SearchQuery
from jichitai.platform.errors import ValidationError
from jichitai.platform.storage import Storage
from jichitai.platform.tenants import TenantCode
from jichitai.platform.zones import Zone
from tests.conftest import BACKENDS, add_demo_tenant, close_storage, ctx, make_settings, make_storage
from tests.mynumber.registry.migration.support import TODAY, run_import, synthetic_file

DEFERRED = {str(ix.name) for ix in deferred_indexes()}


@pytest.fixture(scope="module", params=BACKENDS)
def empty_storage(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Storage]:
    st = make_storage(make_settings(tmp_path_factory.mktemp("initial") / "home", str(request.param)))
    try:
        add_demo_tenant(st)
        yield st
    finally:
        close_storage(st)


def _index_names(storage: Storage) -> set[str]:
    engine = storage.tenant_engine(Zone.MYNUMBER, storage.catalog.get(TenantCode("131016")))
    with engine.connect() as conn:
        insp = inspect(conn)
        return {
            str(ix["name"])
            for table in ("registry_persons", "registry_person_versions")
            for ix in insp.get_indexes(table)
        }


class _Stop(Exception):
    pass


@pytest.mark.slow
def test_interrupted_initial_load_resumes_and_builds_the_indexes(
    empty_storage: Storage, tmp_path: Path
) -> None:
    assert {"ix_registry_persons_name_folded_birth", "ix_registry_person_versions_person"} <= DEFERRED
    assert _index_names(empty_storage) >= DEFERRED
    path = synthetic_file(tmp_path / "city.csv", 300, seed=11)

    def stop_after_first_batch(p: ImportProgress) -> None:
        if p.rows_read > 0:
            raise _Stop

    with pytest.raises(_Stop):
        import_file(
            empty_storage, ctx("registry.migration"), path,
            ImportOptions(today=TODAY, batch_size=60, workers=0, initial_load=True),
            progress=stop_after_first_batch,
        )  # fmt: skip
    # killed in the middle: the job says the indexes are down, and they are
    with empty_storage.unit_of_work(ctx("registry.migration"), Zone.MYNUMBER) as uow:
        job = uow.session.scalars(select(ImportJob)).one()
        assert job.phase == PHASE_LOADING and 0 < job.rows_read < 300
    assert not DEFERRED & _index_names(empty_storage)

    # the same command without the flag resumes in the job's own mode and rebuilds them
    summary = run_import(empty_storage, path, batch_size=60, workers=0)
    assert summary.status == "done" and summary.resumed_from_line > 0
    assert summary.rows_read == 300 == summary.rows_accepted + summary.rows_rejected
    assert _index_names(empty_storage) >= DEFERRED
    with empty_storage.unit_of_work(ctx("registry.migration"), Zone.MYNUMBER) as uow:
        assert uow.session.scalars(select(ImportJob.phase)).one() is None
        persons = uow.session.scalar(select(func.count()).select_from(Person))
        distinct = uow.session.scalar(select(func.count(func.distinct(Person.juminhyo_code))))
        assert persons == distinct == summary.rows_accepted
        assert (uow.session.scalar(select(func.count()).select_from(PersonVersion)) or 0) >= persons
        name = uow.session.scalars(select(Person.name).limit(1)).one()
    page = RegistryService(empty_storage).search(ctx("registry.person.read"), SearchQuery(name=name))
    assert any(h.name == name for h in page.hits)

    # the registry is no longer empty: a second initial load is refused before anything happens
    other = synthetic_file(tmp_path / "other.csv", 20, seed=12)
    with pytest.raises(ValidationError) as info:
        run_import(empty_storage, other, initial_load=True, workers=0)
    assert "空の団体" in (info.value.message_ja or "")
    assert _index_names(empty_storage) >= DEFERRED
