"""Errors of the resident registry."""

from __future__ import annotations

from collections.abc import Sequence

from jichitai.platform.errors import JichitaiError


class RegistryRefusal(JichitaiError):
    """A change or request refused by the rules of 住民基本台帳法; ``reasons`` in Japanese."""

    def __init__(self, reasons: Sequence[str], *, message: str = "registry change refused") -> None:
        self.reasons: tuple[str, ...] = tuple(reasons)
        super().__init__(
            f"{message}: {'; '.join(self.reasons)}",
            message_ja="／".join(self.reasons),
        )


class IdempotencyConflict(RegistryRefusal):
    """The idempotency key was used before for a different change."""
