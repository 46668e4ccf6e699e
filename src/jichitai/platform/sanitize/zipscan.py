"""ZIP containers judged from their central directory: sizes, ratios, nesting, never full expansion.

Only small metadata members (``[Content_Types].xml``, ``mimetype``, ``*.rels``) are ever read, and
never past ``Limits.max_zip_metadata_bytes``; :mod:`zipfile` also stops at the declared size, so a
member whose directory entry lies about its size cannot expand past what was checked here.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass

from jichitai.platform.sanitize.limits import Limits, MiB
from jichitai.platform.sanitize.result import Refused

ZIP_BOMB_JA = "展開後のサイズが極端に大きい圧縮ファイル（zip爆弾の疑い）は受け付けられません"
NESTED_JA = "圧縮ファイルの中に圧縮ファイルを含むため受け付けられません"
BROKEN_ZIP_JA = "圧縮ファイルの構造が壊れているため受け付けられません"
ENCRYPTED_ZIP_JA = "暗号化された圧縮ファイルは受け付けられません"

_ARCHIVE_SUFFIXES = (".zip", ".jar", ".7z", ".rar", ".gz", ".tgz", ".bz2", ".xz", ".tar", ".cab", ".lzh")
_ARCHIVE_MAGICS = (b"PK\x03\x04", b"\x1f\x8b", b"7z\xbc\xaf\x27\x1c", b"Rar!", b"BZh", b"\xfd7zXZ")


@dataclass(frozen=True, slots=True)
class ZipSummary:
    """What the central directory says, after the bomb checks passed."""

    names: tuple[str, ...]
    total_uncompressed: int
    nested_archives: tuple[str, ...]


def open_zip(data: bytes) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as exc:
        raise Refused("broken_zip", BROKEN_ZIP_JA, str(exc)) from exc


def inspect_zip(zf: zipfile.ZipFile, limits: Limits) -> ZipSummary:
    """Check a ZIP's declared sizes and compression ratios; raise :class:`Refused` on a bomb."""
    infos = zf.infolist()
    if len(infos) > limits.max_zip_entries:
        raise Refused("zip_bomb", ZIP_BOMB_JA, f"{len(infos)} entries")
    total = 0
    nested: list[str] = []
    for info in infos:
        if info.flag_bits & 0x1:
            raise Refused("encrypted_zip", ENCRYPTED_ZIP_JA, info.filename)
        if info.file_size > limits.max_zip_entry_bytes:
            raise Refused("zip_bomb", ZIP_BOMB_JA, f"{info.filename}: {info.file_size} bytes")
        if info.file_size > MiB:
            ratio = info.file_size / max(info.compress_size, 1)
            if ratio > limits.max_zip_ratio:
                raise Refused("zip_bomb", ZIP_BOMB_JA, f"{info.filename}: ratio {ratio:.0f}")
        total += info.file_size
        if total > limits.max_zip_total_bytes:
            raise Refused("zip_bomb", ZIP_BOMB_JA, f"total {total} bytes")
        if info.filename.lower().endswith(_ARCHIVE_SUFFIXES):
            nested.append(info.filename)
    return ZipSummary(tuple(i.filename for i in infos), total, tuple(nested))


def read_small_member(zf: zipfile.ZipFile, name: str, limits: Limits) -> bytes | None:
    """Read a metadata member, at most ``max_zip_metadata_bytes``; None when absent or unreadable."""
    try:
        info = zf.getinfo(name)
    except KeyError:
        return None
    if info.file_size > limits.max_zip_metadata_bytes:
        return None
    try:
        with zf.open(info) as fh:
            return fh.read(limits.max_zip_metadata_bytes + 1)[: limits.max_zip_metadata_bytes]
    except (zipfile.BadZipFile, NotImplementedError, OSError, EOFError, RuntimeError):
        return None


def member_starts_with_archive(zf: zipfile.ZipFile, name: str) -> bool:
    """Whether a member's first bytes are an archive's magic (reads at most 8 bytes of it)."""
    try:
        with zf.open(name) as fh:
            head = fh.read(8)
    except (zipfile.BadZipFile, NotImplementedError, OSError, EOFError, RuntimeError):
        return False
    return head.startswith(_ARCHIVE_MAGICS)
