"""The client side of the portal's receiving API (受付API): the LGWAN zone always opens the connection.

Token by client credentials (cached until shortly before it expires, in the process across
runs, since the portal checks the client secret with argon2 at every login; renewed once on a 401),
paged listing of new applications, fetch, acknowledge, and posting signed status events.
Transport problems and unexpected answers become :class:`PortalUnavailable`, so a caller keeps
what it has (queued events, unacknowledged applications) for the next run.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Sequence
from typing import Any

import httpx

from jichitai.contracts.status import StatusEvent
from jichitai.platform.errors import JichitaiError

API = "/api/v1"
MAX_PER_PAGE = 200
MAX_BATCH = 100  # applications or events per batch request (the portal's limit)
BATCH = "/applications-batch"


class PortalUnavailable(JichitaiError):
    """The portal did not answer as expected (network, 5xx, refused credentials)."""


class PortalRefused(JichitaiError):
    """The portal refused one request for a reason of its own (4xx other than auth)."""

    def __init__(self, message: str, status: int, body: str) -> None:
        super().__init__(message, message_ja="受付APIが要求を受け付けませんでした")
        self.status = status
        self.body = body


# (portal URL, tenant, client id, secret digest) -> (token, monotonic time to renew it). A pull
# runs every few seconds on a busy day; logging in each time made the portal verify the secret
# (argon2, tens of ms of CPU) for every run.
_tokens: dict[tuple[str, str, str, str], tuple[str, float]] = {}
_tokens_lock = threading.Lock()


class PortalClient:
    """One tenant's session with its portal, over an ``httpx.Client`` whose base URL is the portal."""

    def __init__(self, http: httpx.Client, tenant: str, client_id: str, client_secret: str) -> None:
        self.http = http
        self.tenant = tenant
        self.client_id = client_id
        self._secret = client_secret
        self._cache_key = (
            str(http.base_url),
            tenant,
            client_id,
            hashlib.sha256(client_secret.encode()).hexdigest(),
        )
        self._token: str | None = None
        self._token_until = 0.0
        with _tokens_lock:
            cached = _tokens.get(self._cache_key)
        if cached is not None:
            self._token, self._token_until = cached
        self._lock = threading.Lock()
        self.batches = True  # until the portal shows it has no batch routes (an older version)

    # -- plumbing ---------------------------------------------------------------------------------
    def _fetch_token(self) -> str:
        try:
            answer = self.http.post(
                f"{API}/token",
                data={
                    "grant_type": "client_credentials",
                    "client_id": self.client_id,
                    "client_secret": self._secret,
                },
            )
        except httpx.HTTPError as exc:
            raise PortalUnavailable(
                f"portal token request failed: {exc!r}", message_ja="受付APIに接続できません"
            ) from exc
        if answer.status_code != 200:
            raise PortalUnavailable(
                f"portal refused the client credentials ({answer.status_code}): {answer.text[:300]}",
                hint="check `jichitai lgwan configure` and the API client in the internet zone",
                message_ja="受付APIの認証に失敗しました",
            )
        body = answer.json()
        token = self._token = str(body["access_token"])
        self._token_until = time.monotonic() + max(10.0, float(body.get("expires_in", 300)) - 30.0)
        with _tokens_lock:
            _tokens[self._cache_key] = (token, self._token_until)
        return token

    def _bearer(self) -> str:
        with self._lock:  # workers share one token; only one of them renews it
            if self._token is None or time.monotonic() >= self._token_until:
                return self._fetch_token()
            return self._token

    def _call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        for attempt in (1, 2):
            headers = {"Authorization": f"Bearer {self._bearer()}", **kwargs.pop("headers", {})}
            try:
                answer = self.http.request(
                    method, f"{API}/tenants/{self.tenant}{path}", headers=headers, **kwargs
                )
            except httpx.HTTPError as exc:
                raise PortalUnavailable(
                    f"{method} {path} failed: {exc!r}", message_ja="受付APIに接続できません"
                ) from exc
            if answer.status_code == 401 and attempt == 1:
                with self._lock:  # expired or revoked: one fresh token, then give up
                    self._token = None
                    with _tokens_lock:
                        _tokens.pop(self._cache_key, None)
                continue
            if answer.status_code >= 500 or answer.status_code in (401, 403, 429):
                raise PortalUnavailable(
                    f"{method} {path}: {answer.status_code} {answer.text[:300]}",
                    message_ja="受付APIが応答しません",
                )
            if answer.status_code >= 400:
                raise PortalRefused(
                    f"{method} {path}: {answer.status_code}", answer.status_code, answer.text[:2000]
                )
            return answer
        raise AssertionError("unreachable")

    # -- the receiving API --------------------------------------------------------------------------
    def list_new(self, limit: int) -> list[dict[str, Any]]:
        """Up to ``limit`` applications not yet acknowledged (status 受付済み), oldest first.

        Pages are read before anything is acknowledged, so acknowledging does not shift them.
        """
        found: list[dict[str, Any]] = []
        page = 1
        per_page = min(MAX_PER_PAGE, max(1, limit))
        while len(found) < limit:
            body = self._call(
                "GET", "/applications", params={"status": "received", "page": page, "per_page": per_page}
            ).json()
            found.extend(body["items"])
            if not body.get("has_next"):
                break
            page += 1
        return found[:limit]

    def fetch(self, receipt_number: str) -> dict[str, Any]:
        body: dict[str, Any] = self._call("GET", f"/applications/{receipt_number}").json()
        return body

    def ack(self, receipt_number: str) -> None:
        self._call("POST", f"/applications/{receipt_number}/ack")

    def post_event(self, event: StatusEvent) -> None:
        self._call(
            "POST",
            f"/applications/{event.receipt_number}/events",
            content=event.model_dump_json(),
            headers={"Content-Type": "application/json"},
        )

    # -- the receiving API in batches (one request per up to MAX_BATCH) ----------------------------
    def _batch(self, path: str, body: dict[str, Any]) -> dict[str, Any] | None:
        """POST a batch; None when the portal has no batch routes (then the caller goes one by one)."""
        if not self.batches:
            return None
        try:
            answer: dict[str, Any] = self._call("POST", f"{BATCH}/{path}", json=body).json()
        except PortalRefused as exc:
            if exc.status not in (404, 405):
                raise
            self.batches = False
            return None
        return answer

    def fetch_many(self, receipt_numbers: Sequence[str]) -> tuple[list[dict[str, Any]], list[str]]:
        """The applications with their ciphertexts, in order; and the receipts the portal does not have."""
        found: list[dict[str, Any]] = []
        missing: list[str] = []
        for start in range(0, len(receipt_numbers), MAX_BATCH):
            part = list(receipt_numbers[start : start + MAX_BATCH])
            body = self._batch("fetch", {"receipt_numbers": part})
            if body is None:
                for receipt in part:
                    try:
                        found.append(self.fetch(receipt))
                    except PortalRefused as exc:
                        if exc.status != 404:
                            raise
                        missing.append(receipt)
                continue
            found.extend(body["items"])
            missing.extend(str(r) for r in body.get("not_found", []))
        return found, missing

    def ack_many(self, receipt_numbers: Sequence[str]) -> list[str]:
        """Acknowledge; the receipts the portal confirmed (repeating is harmless)."""
        acked: list[str] = []
        for start in range(0, len(receipt_numbers), MAX_BATCH):
            part = list(receipt_numbers[start : start + MAX_BATCH])
            body = self._batch("ack", {"receipt_numbers": part})
            if body is None:
                for receipt in part:
                    try:
                        self.ack(receipt)
                    except PortalRefused as exc:
                        if exc.status != 404:
                            raise
                        continue
                    acked.append(receipt)
                continue
            acked.extend(str(item["receipt_number"]) for item in body["items"])
        return acked

    def post_events(self, events: Sequence[StatusEvent]) -> list[tuple[str, int, str]]:
        """Post signed events; per event (event_id, status as the single post answers, reason)."""
        results: list[tuple[str, int, str]] = []
        for start in range(0, len(events), MAX_BATCH):
            part = list(events[start : start + MAX_BATCH])
            body = self._batch("events", {"events": [e.model_dump(mode="json") for e in part]})
            if body is None:
                for event in part:
                    try:
                        self.post_event(event)
                    except PortalRefused as exc:
                        results.append((event.event_id, exc.status, exc.body))
                        continue
                    results.append((event.event_id, 201, ""))
                continue
            for item in body["results"]:
                reason = (
                    f"{item.get('error', '')}: {item.get('message', '')}" if item["status"] >= 400 else ""
                )
                results.append((str(item["event_id"]), int(item["status"]), reason))
        return results
