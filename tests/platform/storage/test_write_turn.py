"""The write turn of a tenant's SQLite file: units of work in the internet zone queue on it."""

from __future__ import annotations

import fcntl
import os
import threading
from pathlib import Path

from jichitai.platform.context import KEY_MANAGEMENT, TenantContext, operator
from jichitai.platform.storage import Storage
from jichitai.platform.storage.write_turn import write_turn
from jichitai.platform.zones import Zone

CHIYODA = "131016"


def _lock_file(storage: Storage, zone: Zone) -> Path:
    return storage.settings.home / "locks" / f"{zone.value}-{CHIYODA}.lock"


def _free_across_processes(path: Path) -> bool:
    """Whether another process could take the turn now (a second open file's flock conflicts
    with the first one's even within this process)."""
    fd = os.open(path, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)  # closing drops the probe's own lock
    return True


def test_a_unit_of_work_in_the_internet_zone_holds_the_files_write_turn(sqlite_storage: Storage) -> None:
    ctx = TenantContext.of(CHIYODA, operator(), KEY_MANAGEMENT.code)
    inside, leave = threading.Event(), threading.Event()
    seen: list[bool] = []

    def hold() -> None:
        with sqlite_storage.unit_of_work(ctx, Zone.INTERNET):
            inside.set()
            leave.wait(30)

    holder = threading.Thread(target=hold)
    holder.start()
    assert inside.wait(30)
    lock = _lock_file(sqlite_storage, Zone.INTERNET)
    seen.append(_free_across_processes(lock))
    leave.set()
    holder.join(30)
    seen.append(_free_across_processes(lock))
    assert seen == [False, True]  # held during the unit of work, free after it


def test_other_zones_and_postgresql_take_no_turn(sqlite_storage: Storage) -> None:
    ctx = TenantContext.of(CHIYODA, operator(), KEY_MANAGEMENT.code)
    with sqlite_storage.unit_of_work(ctx, Zone.LGWAN):
        assert not _lock_file(sqlite_storage, Zone.LGWAN).exists()
    tenant = sqlite_storage.tenant(CHIYODA)
    assert sqlite_storage.backend.write_turn(Zone.LGWAN, tenant) is None
    assert sqlite_storage.backend.write_turn(Zone.INTERNET, tenant) is not None


def test_the_turn_is_reentrant_within_a_thread(tmp_path: Path) -> None:
    outer = write_turn(tmp_path, Zone.INTERNET, CHIYODA)
    inner = write_turn(tmp_path, Zone.INTERNET, CHIYODA)
    lock = tmp_path / "locks" / f"internet-{CHIYODA}.lock"
    with outer:
        with inner:  # a nested unit of work: no hang
            assert not _free_across_processes(lock)
        assert not _free_across_processes(lock)  # the inner release keeps the outer's lock
    assert _free_across_processes(lock)
