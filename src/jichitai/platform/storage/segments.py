"""Segment files: large immutable blobs kept beside a tenant's embedded (SQLite) database.

Why not in the database: a submission's ciphertext (about 280 KB) stored as a SQLite row is written
twice, once to the WAL at commit and once more into the database file at the checkpoint, and read
back in between; in the internet zone that copying was most of the submission writer's CPU (about
1.4 ms of a submission's 3 ms here, 0.8 MB written to the page cache per submission). Appended to
a segment file with ``O_DIRECT`` the same bytes go to the disk once, without the page cache:
0.03 ms of CPU per 280 KB (``bench/submissions.py``; the figures are in the issue's note). The
database keeps a small row that says where each blob lies (:class:`Location`), committed after
the blob is on disk, so a committed row never points at bytes that are not there.

Layout, in one directory per tenant and zone:

- ``<UTC time>-<pid>-<random>.seg``: written by one writer (one process) only, created with
  ``O_EXCL`` and never opened for writing again once that writer moves on. Writers move on after
  :data:`MAX_SEGMENT_BYTES` or :data:`MAX_SEGMENT_SECONDS`, so an old segment is a closed one.
- Each write appends one *chunk*: records back to back, padded with zeros to the next 4 KiB, so
  every chunk starts aligned (what ``O_DIRECT`` needs) and is made durable with one ``fdatasync``.
- A record is a 16-byte header (``JTSG``, version, key length, data length), the key (UTF-8; the
  receipt number for a submission) and the data. A reader checks the header and the key, so a
  location that points anywhere else fails loudly instead of answering someone else's bytes.
  The data carries its own integrity check (a JWE's authentication tag).

Nothing is overwritten or deleted in place: a blob goes away with its whole segment, which
:func:`collect` removes once no row points into it (retention deletes the rows).
"""

from __future__ import annotations

import contextlib
import errno
import mmap
import os
import secrets
import struct
import threading
import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from jichitai.platform.errors import JichitaiError

SUFFIX = ".seg"
ALIGN = 4096  # O_DIRECT wants offsets, lengths and memory aligned to the logical block size
MAX_SEGMENT_BYTES = 256 * 1024 * 1024
MAX_SEGMENT_SECONDS = 600.0
MAX_CHUNK_BYTES = 16 * 1024 * 1024  # bounds the write buffer (an API body may be 64 MB)
# :func:`collect` leaves unreferenced segments younger than this: a writer may have put a chunk
# there whose rows are not committed yet. Far longer than a writer keeps a segment.
COLLECT_GRACE_SECONDS = 3600.0

_MAGIC = b"JTSG"
_VERSION = 1
_HEADER = struct.Struct("<4sHHQ")  # magic, version, key length, data length


class SegmentError(JichitaiError):
    """A blob could not be read back as it was written (missing segment, short read, wrong record)."""


@dataclass(frozen=True)
class Location:
    """Where a blob lies: the segment's file name, the record's offset in it, the data's length."""

    segment: str
    offset: int
    length: int


def _aligned(n: int) -> int:
    return -(-n // ALIGN) * ALIGN


def _record_size(key: bytes, data: bytes | memoryview) -> int:
    return _HEADER.size + len(key) + len(data)


class SegmentWriter:
    """Appends blobs to this process's current segment in ``directory``; one durable write per call.

    Thread-safe (one lock); meant to be owned by one writer thread, e.g. a group committer.
    ``direct=None`` tries ``O_DIRECT`` and falls back to buffered writes where the file system
    refuses it (tmpfs); both end with ``fdatasync``.
    """

    def __init__(
        self,
        directory: Path,
        *,
        max_bytes: int = MAX_SEGMENT_BYTES,
        max_seconds: float = MAX_SEGMENT_SECONDS,
        max_chunk: int = MAX_CHUNK_BYTES,
        direct: bool | None = None,
    ) -> None:
        self.directory = directory
        self.max_bytes = max_bytes
        self.max_seconds = max_seconds
        self.max_chunk = max_chunk
        self._direct_wanted = direct is not False
        self._direct_required = direct is True
        self._lock = threading.Lock()
        self._fd: int | None = None
        self._name = ""
        self._size = 0
        self._opened = 0.0
        self._direct = False
        self._dirty = False  # written since the last fdatasync
        self._buffer: mmap.mmap | None = None  # reused: fresh pages are costly on some machines

    @property
    def segment(self) -> str:
        """The segment being written ('' when none is open)."""
        return self._name

    @property
    def direct(self) -> bool:
        """Whether the open segment is written with ``O_DIRECT``."""
        return self._direct

    def append(self, records: Sequence[tuple[str, bytes | memoryview]]) -> list[Location]:
        """Write ``records`` (key, data) and make them durable; their locations, in order.

        Records go as one chunk, or several of at most ``max_chunk`` bytes (a record larger than
        that goes alone), so the buffer they are copied into stays bounded. One ``fdatasync`` at
        the end (and one for a segment left when it fills up on the way). On an error nothing
        written is referenced, the segment is closed (the next call starts a new one) and the
        error is raised.
        """
        if not records:
            return []
        keys = [key.encode("utf-8") for key, _ in records]
        for key in keys:
            if len(key) > 0xFFFF:
                raise ValueError("a segment key is at most 65535 bytes")
        sizes = [_record_size(k, d) for k, (_, d) in zip(keys, records, strict=True)]
        groups: list[list[int]] = [[]]
        total = 0
        for i, size in enumerate(sizes):
            if groups[-1] and total + size > self.max_chunk:
                groups.append([])
                total = 0
            groups[-1].append(i)
            total += size
        locations: list[Location] = []
        with self._lock:
            try:
                for group in groups:
                    size = sum(sizes[i] for i in group)
                    self._roll(size)
                    chunk, placed = self._fill([keys[i] for i in group], [records[i] for i in group], size)
                    with chunk:  # released at once: a larger next chunk replaces the buffer
                        self._write(chunk)
                        self._size += len(chunk)
                    self._dirty = True
                    locations += placed
                self._sync()
            except BaseException:
                self._close()
                raise
            return locations

    def close(self) -> None:
        """Close the open segment (it is never written again)."""
        with self._lock:
            self._close()
            if self._buffer is not None:
                self._buffer.close()
                self._buffer = None

    # -- inside the lock ---------------------------------------------------------------------

    def _roll(self, size: int) -> None:
        """Open a new segment when none is open, or the open one is full, old or removed."""
        if self._fd is not None and (
            (self._size > 0 and self._size + size > self.max_bytes)
            or time.monotonic() - self._opened >= self.max_seconds
            or os.fstat(self._fd).st_nlink == 0  # collected meanwhile: never write where none reads
        ):
            self._sync()  # what this call already put there must be durable too
            self._close()
        if self._fd is None:
            self._open()

    def _sync(self) -> None:
        if self._fd is not None and self._dirty:
            os.fdatasync(self._fd)
            self._dirty = False

    def _open(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        name = f"{stamp}-{os.getpid()}-{secrets.token_hex(4)}{SUFFIX}"
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC
        path = self.directory / name
        fd = None
        direct = False
        if self._direct_wanted and hasattr(os, "O_DIRECT"):
            try:
                fd = os.open(path, flags | os.O_DIRECT, 0o600)
                direct = True
            except OSError as exc:
                if exc.errno != errno.EINVAL or self._direct_required:
                    raise
        if fd is None:
            fd = os.open(path, flags, 0o600)
        self._fd, self._name, self._size, self._direct = fd, name, 0, direct
        self._opened = time.monotonic()
        _fsync_directory(self.directory)  # the new name survives a crash with what it holds

    def _fill(
        self, keys: list[bytes], records: Sequence[tuple[str, bytes | memoryview]], size: int
    ) -> tuple[memoryview, list[Location]]:
        total = _aligned(size)
        if self._buffer is None or len(self._buffer) < total:
            if self._buffer is not None:
                self._buffer.close()
            self._buffer = mmap.mmap(-1, _aligned(max(total, 1 << 20)))  # page-aligned memory
        buf = self._buffer
        at = 0
        locations = []
        for key, (_, data) in zip(keys, records, strict=True):
            _HEADER.pack_into(buf, at, _MAGIC, _VERSION, len(key), len(data))
            start = at + _HEADER.size
            buf[start : start + len(key)] = key
            start += len(key)
            buf[start : start + len(data)] = data
            locations.append(Location(self._name, self._size + at, len(data)))
            at = start + len(data)
        buf[at:total] = bytes(total - at)
        return memoryview(buf)[:total], locations

    def _write(self, chunk: memoryview) -> None:
        assert self._fd is not None
        done = 0
        while done < len(chunk):
            try:
                n = os.pwrite(self._fd, chunk[done:], self._size + done)
            except OSError as exc:
                # a file system may take O_DIRECT at open and refuse it at write: go buffered
                if exc.errno != errno.EINVAL or not self._direct or self._direct_required or done:
                    raise
                os.close(self._fd)
                self._fd = os.open(self.directory / self._name, os.O_WRONLY | os.O_CLOEXEC)
                self._direct = False
                continue
            if n <= 0:
                raise OSError(errno.EIO, f"short write to segment {self._name}")
            done += n

    def _close(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
        self._fd, self._name, self._size, self._direct, self._dirty = None, "", 0, False, False


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _check_name(segment: str) -> None:
    # a location comes from the database: it must not reach outside the directory
    if not segment.endswith(SUFFIX) or "/" in segment or "\\" in segment or segment.startswith("."):
        raise SegmentError(f"not a segment name: {segment!r}")


def read(directory: Path, location: Location, key: str) -> bytes:
    """The data of the record at ``location``, checked to be ``key``'s. Raises :class:`SegmentError`."""
    _check_name(location.segment)
    want = key.encode("utf-8")
    size = _HEADER.size + len(want) + location.length
    try:
        fd = os.open(directory / location.segment, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        raise SegmentError(f"segment {location.segment} is missing (blob of {key})") from None
    try:
        raw = os.pread(fd, size, location.offset)
    finally:
        os.close(fd)
    if len(raw) != size:
        raise SegmentError(f"segment {location.segment} ends inside the blob of {key}")
    magic, version, key_len, data_len = _HEADER.unpack_from(raw)
    if (
        magic != _MAGIC
        or version != _VERSION
        or key_len != len(want)
        or data_len != location.length
        or raw[_HEADER.size : _HEADER.size + key_len] != want
    ):
        raise SegmentError(f"segment {location.segment} holds no record of {key} at offset {location.offset}")
    return raw[_HEADER.size + key_len :]


def segments(directory: Path) -> list[str]:
    """The names of the segments in ``directory``, oldest first."""
    if not directory.is_dir():
        return []
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(SUFFIX))


def collect(
    directory: Path,
    referenced: Collection[str],
    *,
    grace_seconds: float = COLLECT_GRACE_SECONDS,
    now: float | None = None,
) -> list[str]:
    """Remove the segments no row points into (``referenced`` names the others) that were last
    written more than ``grace_seconds`` ago; the names removed."""
    limit = (time.time() if now is None else now) - grace_seconds
    removed = []
    for name in segments(directory):
        if name in referenced:
            continue
        path = directory / name
        try:
            if path.stat().st_mtime > limit:
                continue
            path.unlink()
        except FileNotFoundError:
            continue
        removed.append(name)
    return removed


__all__ = [
    "COLLECT_GRACE_SECONDS",
    "Location",
    "SegmentError",
    "SegmentWriter",
    "collect",
    "read",
    "segments",
]
