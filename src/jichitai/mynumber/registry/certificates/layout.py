"""The page geometry of a certificate (A4 portrait, in points), pure.

Shared by the renderer, which draws with it, and by the content, which puts as many people on a
household sheet (世帯連記式, up to four) as this geometry leaves room for: a sheet is never filled
past the point where the certification, the issue date and the mayor's seal no longer fit above
the footer.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, TypeVar

from reportlab.lib.pagesizes import A4

PAGE_W, PAGE_H = float(A4[0]), float(A4[1])
MARGIN = 40.0
TABLE_W = PAGE_W - 2 * MARGIN
LABEL_W = 118.0
QR_SIZE = 70.0
FOOTER_TOP = MARGIN + QR_SIZE + 8  # nothing of the table goes below this
TABLE_TOP = PAGE_H - 82  # below the title and the serial
ROW_H = 22.0  # a row of a per-person table and of a household sheet's header
HEADER_GAP = 8.0  # between a household sheet's header and its first person
HOUSEHOLD_LABEL_W = 86.0
HOUSEHOLD_LINE = 13.0  # a line of a person on a household sheet (four people and the certification fit)
BLOCK_GAP = 5.0  # after each person on a household sheet
NAME_KANA_EXTRA = 10.0  # a name row with its reading above
# The certification sentence starts this far below the table and needs this much above the footer
# (sentence, issue date, mayor's name and the seal mark).
CERTIFICATION_GAP = 26.0
CERTIFICATION_H = 64.0
SHORT_VALUE = 16  # characters: a value this short shares its line with another item
SHORT_LABEL = 7


class RowLike(Protocol):
    @property
    def label(self) -> str: ...
    @property
    def value(self) -> str: ...
    @property
    def is_name(self) -> bool: ...
    @property
    def kana(self) -> str: ...


R = TypeVar("R", bound=RowLike)


def row_height(row: RowLike, base: float) -> float:
    return base + NAME_KANA_EXTRA if row.is_name and row.kana else base


def household_lines(rows: Sequence[R]) -> tuple[list[R], list[R]]:
    """A household person's items after the name: the short ones (two to a line), the long ones."""
    short = [r for r in rows[1:] if len(r.value) <= SHORT_VALUE and len(r.label) <= SHORT_LABEL]
    return short, [r for r in rows[1:] if r not in short]


def household_block_height(rows: Sequence[RowLike]) -> float:
    """The height one person takes on a household sheet, as the renderer draws it."""
    short, long = household_lines(rows)
    name = row_height(rows[0], HOUSEHOLD_LINE) + 2
    return name + HOUSEHOLD_LINE * ((len(short) + 1) // 2 + len(long)) + BLOCK_GAP


def household_room(header: Sequence[RowLike]) -> float:
    """The height left for people on a household sheet below ``header``, keeping room for the
    certification (every sheet keeps it: a sheet is the last one until the next is needed)."""
    top = TABLE_TOP - sum(row_height(r, ROW_H) for r in header) - HEADER_GAP
    return top - (FOOTER_TOP + CERTIFICATION_H + CERTIFICATION_GAP)
