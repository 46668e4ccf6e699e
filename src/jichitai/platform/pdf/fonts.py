"""Japanese fonts for PDF output: IPAex明朝/ゴシック for text, IPAmj明朝 for names.

Fonts come from Debian packages (``fonts-ipaexfont``, ``fonts-ipamj-mincho``); a missing font is a
:class:`FontMissing` error that names the package to install. Registration is idempotent and happens
once per process: IPAmj明朝 is a 46 MB file, so documents must never load it themselves.

Two fixes to reportlab's TrueType support live here because names need them:

* reportlab copies the whole ``glyf`` table (40 MB for IPAmj) out of the font file every time a
  document subsets the font; the face's table reads are cached, which takes an IPAmj page from
  ~34 ms to ~7 ms.
* Names may carry ideographic variation sequences (IVS, e.g. ``邊`` + U+E0100) which choose an MJ
  glyph; reportlab knows nothing of cmap format 14, and it writes a broken ToUnicode entry for
  characters beyond the BMP (``𠮷`` U+20BB7). :class:`MjFont` maps each variation sequence to its
  glyph and writes ToUnicode entries in UTF-16, so the glyph renders and text extraction returns the
  original sequence.
"""

from __future__ import annotations

import glob
import os
import struct
import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from reportlab import rl_config
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import SUBSETN, TTFont

from jichitai.platform.errors import ConfigurationError

MINCHO = "IPAexMincho"
"""Body text (明朝)."""
GOTHIC = "IPAexGothic"
"""Headings and labels (ゴシック)."""
NAME_FONT = "IPAmjMincho"
"""Names (氏名): IPAmj明朝 covers the MJ character set, variants included."""


@dataclass(frozen=True)
class FontSpec:
    name: str
    file_name: str
    family_pattern: str  # for fc-list
    debian_package: str
    candidates: tuple[str, ...]


FONT_SPECS: dict[str, FontSpec] = {
    MINCHO: FontSpec(
        MINCHO,
        "ipaexm.ttf",
        "IPAexMincho",
        "fonts-ipaexfont-mincho (or fonts-ipaexfont)",
        (
            "/usr/share/fonts/opentype/ipaexfont-mincho/ipaexm.ttf",
            "/usr/share/fonts/opentype/ipaexfont-*/ipaexm.ttf",
        ),
    ),
    GOTHIC: FontSpec(
        GOTHIC,
        "ipaexg.ttf",
        "IPAexGothic",
        "fonts-ipaexfont-gothic (or fonts-ipaexfont)",
        (
            "/usr/share/fonts/opentype/ipaexfont-gothic/ipaexg.ttf",
            "/usr/share/fonts/opentype/ipaexfont-*/ipaexg.ttf",
        ),
    ),
    NAME_FONT: FontSpec(
        NAME_FONT,
        "ipamjm.ttf",
        "IPAmjMincho",
        "fonts-ipamj-mincho",
        ("/usr/share/fonts/truetype/ipamj/ipamjm.ttf", "/usr/share/fonts/*/ipamj*/ipamjm.ttf"),
    ),
}

# Overrides for installations that keep fonts elsewhere (e.g. JICHITAI_FONT_IPAMJMINCHO=/opt/ipamjm.ttf).
_ENV_PREFIX = "JICHITAI_FONT_"


class FontMissing(ConfigurationError):
    """A font the PDF output needs is not installed."""


def find_font_file(spec: FontSpec) -> str:
    """The path of a font file, from the environment, the usual Debian paths or ``fc-list``."""
    override = os.environ.get(_ENV_PREFIX + spec.name.upper())
    if override:
        if os.path.isfile(override):
            return override
        raise FontMissing(
            f"font file {override} (from {_ENV_PREFIX + spec.name.upper()}) does not exist",
            hint="fix the environment variable or unset it to use the Debian package",
        )
    for pattern in spec.candidates:
        for path in sorted(glob.glob(pattern)):
            if os.path.isfile(path):
                return path
    found = _fc_list_lookup(spec)
    if found:
        return found
    raise FontMissing(
        f"font {spec.name} ({spec.file_name}) is not installed",
        hint=f"install the Debian package: apt-get install {spec.debian_package.split(' ')[0]}",
        message_ja=f"フォント {spec.name} がインストールされていません",
    )


def _fc_list_lookup(spec: FontSpec) -> str | None:
    try:
        out = subprocess.run(  # noqa: S603 - fixed argv, no shell
            ["fc-list", f":family={spec.family_pattern}", "file"],  # noqa: S607 - fc-list from PATH
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    for line in out.splitlines():
        path = line.strip().rstrip(":")
        if path.endswith(spec.file_name) and os.path.isfile(path):
            return path
    return None


def _cache_tables(font: TTFont) -> None:
    """Serve the face's table reads from a cache instead of slicing the font file each time."""
    face = font.face
    original: Callable[[str], bytes] = face.get_table
    cache: dict[str, bytes] = {}

    def get_table(tag: str) -> bytes:
        data = cache.get(tag)
        if data is None:
            data = cache[tag] = original(tag)
        return data

    face.get_table = get_table


def _utf16_hex(text: str) -> str:
    return text.encode("utf-16-be").hex().upper()


def _subsets(font: TTFont, doc: Any) -> list[list[int]]:
    state = font.state.get(doc)
    return [] if state is None else [list(s) for s in state.subsets]


def _fix_to_unicode(font: TTFont, doc: Any, subsets: list[list[int]], pseudo: dict[int, str]) -> None:
    """Rewrite the ToUnicode CMaps reportlab wrote for subsets holding non-BMP or IVS codes."""
    face = font.face
    for n, subset in enumerate(subsets):
        if all(code <= 0xFFFF for code in subset):
            continue  # reportlab's own CMap is right for these
        base_name = b"".join((SUBSETN(n), b"+", face.name, face.subfontNameX)).decode("pdfdoc")
        stream = doc.idToObject.get("toUnicodeCMap:" + base_name)
        if stream is None:
            continue
        entries = [
            f"<{i:02X}> <{_utf16_hex(pseudo.get(code) or chr(code))}>" for i, code in enumerate(subset)
        ]
        stream.content = "\n".join(
            [
                "/CIDInit /ProcSet findresource begin",
                "12 dict begin",
                "begincmap",
                "/CIDSystemInfo",
                f"<< /Registry ({base_name})",
                f"/Ordering ({base_name})",
                "/Supplement 0",
                ">> def",
                f"/CMapName /{base_name} def",
                "/CMapType 2 def",
                "1 begincodespacerange",
                f"<00> <{len(subset) - 1:02X}>",
                "endcodespacerange",
                f"{len(entries)} beginbfchar",
                *entries,
                "endbfchar",
                "endcmap",
                "CMapName currentdict /CMap defineresource pop",
                "end",
                "end",
            ]
        )


def read_variation_sequences(cmap_table: bytes) -> dict[tuple[int, int], int | None]:
    """Parse the format-14 subtable of a ``cmap`` table.

    Returns ``(base, selector) -> glyph id`` for non-default sequences and ``-> None`` for default
    ones (the base character's own glyph).
    """
    result: dict[tuple[int, int], int | None] = {}
    (num_tables,) = struct.unpack_from(">H", cmap_table, 2)
    for i in range(num_tables):
        platform_id, encoding_id, offset = struct.unpack_from(">HHL", cmap_table, 4 + 8 * i)
        if platform_id != 0 or encoding_id != 5:
            continue
        (fmt,) = struct.unpack_from(">H", cmap_table, offset)
        if fmt != 14:
            continue
        (num_records,) = struct.unpack_from(">L", cmap_table, offset + 6)
        for r in range(num_records):
            rec = offset + 10 + 11 * r
            selector = int.from_bytes(cmap_table[rec : rec + 3], "big")
            default_off, non_default_off = struct.unpack_from(">LL", cmap_table, rec + 3)
            if default_off:
                pos = offset + default_off
                (num_ranges,) = struct.unpack_from(">L", cmap_table, pos)
                for k in range(num_ranges):
                    p = pos + 4 + 4 * k
                    start = int.from_bytes(cmap_table[p : p + 3], "big")
                    for code in range(start, start + cmap_table[p + 3] + 1):
                        result[(code, selector)] = None
            if non_default_off:
                pos = offset + non_default_off
                (num_mappings,) = struct.unpack_from(">L", cmap_table, pos)
                for k in range(num_mappings):
                    p = pos + 4 + 5 * k
                    code = int.from_bytes(cmap_table[p : p + 3], "big")
                    (glyph,) = struct.unpack_from(">H", cmap_table, p + 3)
                    result[(code, selector)] = glyph
    return result


def _is_variation_selector(ch: str) -> bool:
    cp = ord(ch)
    return 0xFE00 <= cp <= 0xFE0F or 0xE0100 <= cp <= 0xE01EF


# Each variation sequence a document uses gets a code in Supplementary Private Use Area-A; it
# stands for the sequence inside reportlab (which maps one code to one glyph) and is written back
# as the original sequence in the ToUnicode CMap.
_PSEUDO_BASE = 0xF0000


class MjFont(TTFont):  # type: ignore[misc]  # reportlab is untyped
    """A TrueType font that also renders ideographic variation sequences (IVS)."""

    def __init__(self, name: str, filename: str) -> None:
        super().__init__(name, filename)
        _cache_tables(self)
        self._sequences = read_variation_sequences(self.face.get_table("cmap"))
        self._pseudo_by_sequence: dict[str, int] = {}
        self._sequence_by_pseudo: dict[int, str] = {}
        self._lock = threading.Lock()

    def has_sequence(self, base: str, selector: str) -> bool:
        return (ord(base), ord(selector)) in self._sequences

    def encode(self, text: str) -> str:
        """Replace the variation sequences the font knows by their pseudo codes."""
        if not any(_is_variation_selector(ch) for ch in text):
            return text
        out: list[str] = []
        for ch in text:
            if _is_variation_selector(ch) and out:
                base = out[-1]
                key = (ord(base[0]), ord(ch))
                if len(base) == 1 and key in self._sequences:
                    out[-1] = chr(self._pseudo_code(base + ch, key))
                continue  # an unknown selector is dropped: the base glyph is the best rendering
            out.append(ch)
        return "".join(out)

    def _pseudo_code(self, sequence: str, key: tuple[int, int]) -> int:
        code = self._pseudo_by_sequence.get(sequence)
        if code is not None:
            return code
        with self._lock:
            code = self._pseudo_by_sequence.get(sequence)
            if code is None:
                face = self.face
                glyph = self._sequences[key]
                if glyph is None:
                    glyph = face.charToGlyph.get(key[0], 0)
                code = _PSEUDO_BASE + len(self._pseudo_by_sequence)
                face.charToGlyph[code] = glyph
                face.charWidths[code] = face._pdfScale(face.hmetrics[glyph][0])
                self._sequence_by_pseudo[code] = sequence
                self._pseudo_by_sequence[sequence] = code
        return code

    def splitString(self, text: str, doc: Any, encoding: str = "utf-8") -> list[tuple[int, bytes]]:  # noqa: N802
        return super().splitString(self.encode(text), doc, encoding)  # type: ignore[no-any-return]

    def stringWidth(self, text: str, size: float, encoding: str = "utf8") -> float:  # noqa: N802
        return super().stringWidth(self.encode(text), size, encoding)  # type: ignore[no-any-return]

    def addObjects(self, doc: Any) -> None:  # noqa: N802
        subsets = _subsets(self, doc)  # reportlab drops the document's state in addObjects
        super().addObjects(doc)
        _fix_to_unicode(self, doc, subsets, self._sequence_by_pseudo)


class _TextFont(TTFont):  # type: ignore[misc]
    """IPAex fonts: only the non-BMP ToUnicode fix (they have no IVS to speak of)."""

    def __init__(self, name: str, filename: str) -> None:
        super().__init__(name, filename)
        _cache_tables(self)

    def addObjects(self, doc: Any) -> None:  # noqa: N802
        subsets = _subsets(self, doc)
        super().addObjects(doc)
        _fix_to_unicode(self, doc, subsets, {})


_registered: dict[str, TTFont] = {}
_register_lock = threading.Lock()


def register_fonts(*, names: bool = True) -> None:
    """Register IPAex明朝/ゴシック (and, with ``names``, IPAmj明朝) with reportlab, once per process."""
    wanted = [MINCHO, GOTHIC] + ([NAME_FONT] if names else [])
    if all(n in _registered for n in wanted):
        return
    # ASCII85 wrapping of streams only makes PDFs bigger and slower to write (~2 ms a page).
    rl_config.useA85 = 0
    with _register_lock:
        for name in wanted:
            if name in _registered:
                continue
            path = find_font_file(FONT_SPECS[name])
            font: TTFont = MjFont(name, path) if name == NAME_FONT else _TextFont(name, path)
            pdfmetrics.registerFont(font)
            _registered[name] = font


def name_font() -> MjFont:
    """The registered IPAmj明朝 font (registering it on first use)."""
    register_fonts(names=True)
    font = _registered[NAME_FONT]
    assert isinstance(font, MjFont)
    return font
