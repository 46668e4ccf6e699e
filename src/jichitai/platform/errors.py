"""Base errors of the platform.

Every error the platform raises on purpose derives from :class:`JichitaiError`. It carries a message
for the operator (what is wrong) and a hint (what to do). The CLI prints them as one line; web layers
turn them into HTTP answers at the edge. Resident-facing code adds a Japanese message (``message_ja``).
"""

from __future__ import annotations


class JichitaiError(Exception):
    """An expected failure with a clear message and, where one exists, what to do about it."""

    hint: str | None = None
    message_ja: str | None = None

    def __init__(self, message: str, *, hint: str | None = None, message_ja: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if hint is not None:
            self.hint = hint
        if message_ja is not None:
            self.message_ja = message_ja

    def one_line(self) -> str:
        text = self.message
        if self.message_ja and self.message_ja not in text:
            text += f" — {self.message_ja}"
        return f"{text} ({self.hint})" if self.hint else text


class ValidationError(JichitaiError):
    """Input that breaks a rule."""


class NotFound(JichitaiError):
    """The thing asked for does not exist (in this tenant)."""


class Conflict(JichitaiError):
    """The request contradicts the current state (duplicate, already done, ...)."""


class PermissionDenied(JichitaiError):
    """The actor may not do this, or not for this purpose."""


class ConfigurationError(JichitaiError):
    """The installation is not set up the way this operation needs."""
