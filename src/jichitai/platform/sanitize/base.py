"""Sanitizers per detected kind: a small abstract base and a registry (open-forms' plugin pattern)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable
from typing import ClassVar

from jichitai.platform.sanitize.detect import Detection
from jichitai.platform.sanitize.kinds import Kind
from jichitai.platform.sanitize.limits import Limits
from jichitai.platform.sanitize.result import Cleaned


class Sanitizer(ABC):
    """Turns one kind of file into a clean copy, or raises ``Refused``.

    Implementations never trust names; they get the bytes and what detection found in them.
    """

    kinds: ClassVar[frozenset[Kind]]
    name: ClassVar[str]

    @abstractmethod
    def sanitize(self, data: bytes, detection: Detection, limits: Limits) -> Cleaned:
        """Return the clean copy of ``data``; raise ``Refused`` when it cannot be made safe."""


class SanitizerRegistry:
    """Which sanitizer handles which detected kind; a kind with none is refused."""

    def __init__(self) -> None:
        self._by_kind: dict[Kind, Sanitizer] = {}

    def register(self, sanitizer: Sanitizer) -> Sanitizer:
        for kind in sanitizer.kinds:
            if kind in self._by_kind:
                raise ValueError(f"kind {kind} already handled by {self._by_kind[kind].name}")
            self._by_kind[kind] = sanitizer
        return sanitizer

    def for_kind(self, kind: Kind) -> Sanitizer | None:
        return self._by_kind.get(kind)

    def kinds(self) -> Iterable[Kind]:
        return tuple(self._by_kind)


REGISTRY = SanitizerRegistry()
