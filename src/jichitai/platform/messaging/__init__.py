"""Messaging between zones through the linkage server (連携サーバ): outbox, inbox and their endpoints.

- :func:`~jichitai.platform.messaging.outbox.enqueue` puts a message in the zone's transactional
  outbox, in the caller's unit of work;
- :func:`~jichitai.platform.messaging.inbox.receive` takes a delivered message in exactly once;
- :func:`~jichitai.platform.messaging.http.messaging_router` gives the endpoints the linkage
  server calls (a zone never calls out itself).
"""

from jichitai.platform.messaging import purposes as _purposes  # noqa: F401 - registers the purpose
from jichitai.platform.messaging.envelope import new_envelope, payload_sha256
from jichitai.platform.messaging.inbox import Handler, ReceiveOutcome, receive
from jichitai.platform.messaging.outbox import AckOutcome, acknowledge, enqueue, pending

__all__ = [
    "AckOutcome",
    "Handler",
    "ReceiveOutcome",
    "acknowledge",
    "enqueue",
    "new_envelope",
    "payload_sha256",
    "pending",
    "receive",
]
