"""Errors of the child allowance system; every refusal carries its reasons in Japanese."""

from __future__ import annotations

from collections.abc import Sequence

from jichitai.platform.errors import Conflict, JichitaiError


class CertificationRefused(JichitaiError):
    """A decision refused as it stands: nothing was written. ``reasons`` are shown to the clerk."""

    def __init__(self, reasons: Sequence[str], *, message: str = "child allowance decision refused") -> None:
        self.reasons: tuple[str, ...] = tuple(reasons)
        super().__init__(f"{message}: {'; '.join(self.reasons)}", message_ja="／".join(self.reasons))


class CaseAlreadyDecided(Conflict):
    """The case has already been decided (or closed)."""


class PaymentRunRefused(Conflict):
    """A payment run cannot be started, re-run or approved in its current state."""
