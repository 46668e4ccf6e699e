"""Why a submission, an acknowledgement or a status event is refused: one class per kind of refusal.

Each carries an ``error_code`` for JSON answers and a Japanese message for the resident or the
municipality's system; form problems carry one :class:`FieldError` per field.
"""

from __future__ import annotations

from collections.abc import Sequence

from jichitai.platform.errors import Conflict, NotFound, ValidationError
from jichitai.procedures import FieldError


class SubmissionInvalid(ValidationError):
    """The form or its attachments break the procedure's rules; ``errors`` says where (422)."""

    error_code = "invalid_form"
    http_status = 422

    def __init__(self, message: str, errors: Sequence[FieldError], *, message_ja: str | None = None) -> None:
        super().__init__(
            message,
            message_ja=message_ja or "入力内容に誤りがあります。各項目のメッセージを確認してください",
        )
        self.errors = tuple(errors)


class SignedBytesMismatch(ValidationError):
    """The bytes the card signed are not the canonical bytes of the form that was sent."""

    error_code = "signed_bytes_mismatch"

    def __init__(self) -> None:
        super().__init__(
            "the signed bytes are not the canonical bytes of the submitted form",
            message_ja="署名された内容と送信された申請内容が一致しません。もう一度署名してください",
        )


class IdempotencyConflict(Conflict):
    """The idempotency key was already used for a different submission (409)."""

    error_code = "idempotency_conflict"

    def __init__(self, key: str) -> None:
        super().__init__(
            f"idempotency key {key[:16]}… was already used for a different submission",
            message_ja="同じ送信番号で異なる内容の申請が送られました。画面を読み込み直してから申請してください",
        )


class ApplicationNotFound(NotFound):
    error_code = "application_not_found"

    def __init__(self, receipt_number: str) -> None:
        super().__init__(
            f"no application {receipt_number!r} in this tenant",
            message_ja="指定された受付番号の申請は見つかりません",
        )


class ProcedureNotOffered(ValidationError):
    """The procedure is unknown, disabled for the tenant, or the version is not one of its forms."""

    error_code = "procedure_not_offered"


class EventRejected(ValidationError):
    """A status event that does not fit its application or whose signature does not verify."""

    error_code = "invalid_event"


class EventConflict(Conflict):
    """The same event id was posted before with other content (409)."""

    error_code = "event_conflict"


__all__ = [
    "ApplicationNotFound",
    "EventConflict",
    "EventRejected",
    "IdempotencyConflict",
    "ProcedureNotOffered",
    "SignedBytesMismatch",
    "SubmissionInvalid",
]
