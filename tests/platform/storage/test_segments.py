"""Segment files: blobs written once, read back only as what they were, removed only when unused."""

from __future__ import annotations

import errno
import os
import time
from pathlib import Path
from typing import Any

import pytest

from jichitai.platform.storage import segments
from jichitai.platform.storage.segments import ALIGN, Location, SegmentError, SegmentWriter


def blob(n: int, seed: int) -> bytes:
    return bytes((seed + i * 7) % 251 for i in range(n))


def test_records_read_back_by_location_and_each_chunk_starts_aligned(tmp_path: Path) -> None:
    writer = SegmentWriter(tmp_path / "blobs")
    first = writer.append([("R-1", blob(5000, 1)), ("R-2", b""), ("R-3", blob(280_000, 3))])
    second = writer.append([("R-4", blob(10, 4))])
    writer.close()
    [name] = segments.segments(tmp_path / "blobs")
    assert {loc.segment for loc in first + second} == {name}
    assert first[0].offset == 0 and second[0].offset % ALIGN == 0 and second[0].offset > first[2].offset
    assert (tmp_path / "blobs" / name).stat().st_size % ALIGN == 0
    expected = {"R-1": blob(5000, 1), "R-2": b"", "R-3": blob(280_000, 3), "R-4": blob(10, 4)}
    for (key, data), loc in zip(expected.items(), first + second, strict=True):
        assert loc.length == len(data)
        assert segments.read(tmp_path / "blobs", loc, key) == data
    assert oct((tmp_path / "blobs").stat().st_mode & 0o777) == "0o700"
    assert oct((tmp_path / "blobs" / name).stat().st_mode & 0o777) == "0o600"


def test_a_location_that_points_elsewhere_is_refused(tmp_path: Path) -> None:
    writer = SegmentWriter(tmp_path)
    one, two = writer.append([("R-1", blob(100, 1)), ("R-2", blob(200, 2))])
    writer.close()
    with pytest.raises(SegmentError, match="no record of R-1"):
        segments.read(tmp_path, Location(two.segment, two.offset, one.length), "R-1")  # R-2 there
    with pytest.raises(SegmentError, match="no record of R-2"):
        segments.read(tmp_path, Location(one.segment, one.offset, two.length), "R-2")  # R-1 there
    with pytest.raises(SegmentError, match="no record"):
        segments.read(tmp_path, Location(one.segment, one.offset, one.length + 1), "R-1")
    with pytest.raises(SegmentError, match="ends inside"):
        segments.read(tmp_path, Location(one.segment, 1 << 20, 10), "R-1")
    with pytest.raises(SegmentError, match="missing"):
        segments.read(tmp_path, Location("20260101T000000Z-1-00000000.seg", 0, 10), "R-1")
    for bad in ("../x.seg", "x.txt", ".hidden.seg"):
        with pytest.raises(SegmentError, match="not a segment name"):
            segments.read(tmp_path, Location(bad, 0, 10), "R-1")


def test_a_writer_moves_to_a_new_segment_when_full_old_or_removed(tmp_path: Path) -> None:
    writer = SegmentWriter(tmp_path, max_bytes=3 * ALIGN)
    a = writer.append([("A", blob(2 * ALIGN, 1))])  # 3 blocks with its header
    b = writer.append([("B", blob(10, 2))])  # does not fit: a new segment
    assert a[0].segment != b[0].segment
    big = writer.append([("C", blob(5 * ALIGN, 3))])  # larger than a segment: alone in a new one
    assert big[0].segment not in {a[0].segment, b[0].segment}

    aging = SegmentWriter(tmp_path, max_seconds=0)
    x = aging.append([("X", b"x")])
    y = aging.append([("Y", b"y")])
    assert x[0].segment != y[0].segment

    kept = SegmentWriter(tmp_path)
    first = kept.append([("K1", b"1")])
    (tmp_path / first[0].segment).unlink()  # removed under the writer (collect)
    after = kept.append([("K2", b"2")])
    assert after[0].segment != first[0].segment
    assert segments.read(tmp_path, after[0], "K2") == b"2"
    for w in (writer, aging, kept):
        w.close()
    for loc, key in ((a[0], "A"), (b[0], "B"), (big[0], "C"), (x[0], "X"), (y[0], "Y")):
        assert segments.read(tmp_path, loc, key)


def test_a_large_batch_goes_in_bounded_chunks_and_a_segment_filled_on_the_way_is_synced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: list[int] = []
    real_sync = os.fdatasync
    monkeypatch.setattr(os, "fdatasync", lambda fd: (synced.append(fd), real_sync(fd))[1])
    writer = SegmentWriter(tmp_path, max_chunk=3 * ALIGN, max_bytes=8 * ALIGN)
    records = [(f"R{i}", blob(ALIGN, i)) for i in range(6)] + [("BIG", blob(5 * ALIGN, 9))]
    locations = writer.append(records)
    writer.close()
    assert len({loc.offset // ALIGN for loc in locations if loc.segment == locations[0].segment}) > 1
    used = {loc.segment for loc in locations}
    assert len(used) == 3  # segments filled up on the way
    assert len(synced) == len(used)  # each one synced once: those left behind and the last
    for (key, data), loc in zip(records, locations, strict=True):
        assert segments.read(tmp_path, loc, key) == data


def test_without_o_direct_the_writer_writes_through_the_page_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_open = os.open

    def no_direct(path: Any, flags: int, *args: Any) -> int:
        if flags & getattr(os, "O_DIRECT", 0):
            raise OSError(errno.EINVAL, "Invalid argument")  # as tmpfs answered before Linux 6.6
        return real_open(path, flags, *args)

    monkeypatch.setattr(os, "open", no_direct)
    writer = SegmentWriter(tmp_path)
    [loc] = writer.append([("R", blob(9000, 5))])
    assert not writer.direct
    writer.close()
    assert segments.read(tmp_path, loc, "R") == blob(9000, 5)

    with pytest.raises(OSError):  # asked for O_DIRECT and nothing else: no silent fallback
        SegmentWriter(tmp_path, direct=True).append([("S", b"s")])


def test_a_failed_write_leaves_nothing_referenced_and_the_next_one_starts_afresh(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    writer = SegmentWriter(tmp_path)
    writer.append([("A", b"a")])
    first = writer.segment

    def full(*_args: Any) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "pwrite", full)
    with pytest.raises(OSError, match="No space"):
        writer.append([("B", b"b")])
    assert writer.segment == ""  # closed: never appended to again
    monkeypatch.undo()
    [loc] = writer.append([("C", b"c")])
    assert loc.segment != first
    writer.close()


def test_collect_removes_only_old_segments_that_nothing_points_into(tmp_path: Path) -> None:
    names = []
    for key in ("A", "B", "C"):
        w = SegmentWriter(tmp_path)
        names.append(w.append([(key, b"x")])[0].segment)
        w.close()
    old = time.time() - 2 * segments.COLLECT_GRACE_SECONDS
    for name in names[:2]:
        os.utime(tmp_path / name, (old, old))
    (tmp_path / "notes.txt").write_text("not a segment")
    removed = segments.collect(tmp_path, referenced={names[1]})
    assert removed == [names[0]]  # B is referenced, C is young
    assert segments.segments(tmp_path) == sorted(names[1:])
    assert (tmp_path / "notes.txt").exists()
    assert segments.collect(tmp_path / "absent", referenced=set()) == []
