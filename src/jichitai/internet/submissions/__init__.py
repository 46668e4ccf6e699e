"""The submission store: receive (verify, encrypt, store), hand over to application management,
show residents their applications.

Public API (import from here):

- :func:`submit` (or :func:`submit_async` on an event loop) → :class:`Receipt`; :class:`AttachmentUpload`
- receiving side: :func:`list_applications`, :func:`get_application`, :func:`acknowledge`,
  :func:`post_event`, :func:`list_events`, :func:`list_replies`
- resident side: :func:`list_for_resident`, :func:`get_for_resident`, :func:`reply_to_message`,
  :class:`AmendmentPayload`
- keys: :func:`publish_status_signing_key`
- errors: see :mod:`jichitai.internet.submissions.errors`
"""

from jichitai.internet.submissions.errors import (
    ApplicationNotFound,
    EventConflict,
    EventRejected,
    IdempotencyConflict,
    ProcedureNotOffered,
    SignedBytesMismatch,
    SubmissionInvalid,
)
from jichitai.internet.submissions.receiving import (
    ApplicationInfo,
    ApplicationPage,
    ReplyInfo,
    acknowledge,
    get_application,
    list_applications,
    list_events,
    list_replies,
    post_event,
)
from jichitai.internet.submissions.resident import (
    AmendmentPayload,
    ReplySummary,
    ResidentApplication,
    ResidentApplicationDetail,
    ResidentEvent,
    get_for_resident,
    list_for_resident,
    reply_to_message,
)
from jichitai.internet.submissions.service import (
    AttachmentUpload,
    Receipt,
    find_by_idempotency_key,
    resident_key_for_certificate,
    submit,
    submit_async,
)
from jichitai.internet.submissions.status_events import publish_status_signing_key

__all__ = [
    "AmendmentPayload",
    "ApplicationInfo",
    "ApplicationNotFound",
    "ApplicationPage",
    "AttachmentUpload",
    "EventConflict",
    "EventRejected",
    "IdempotencyConflict",
    "ProcedureNotOffered",
    "Receipt",
    "ReplyInfo",
    "ReplySummary",
    "ResidentApplication",
    "ResidentApplicationDetail",
    "ResidentEvent",
    "SignedBytesMismatch",
    "SubmissionInvalid",
    "acknowledge",
    "find_by_idempotency_key",
    "get_application",
    "get_for_resident",
    "list_applications",
    "list_events",
    "list_for_resident",
    "list_replies",
    "post_event",
    "publish_status_signing_key",
    "reply_to_message",
    "resident_key_for_certificate",
    "submit",
    "submit_async",
]
