"""The local card-reader helper (like the JPKI client software, JPKI利用者ソフト), as a FastAPI app.

The portal page's JavaScript calls it on the resident's own machine to read the authentication
certificate and to have the card authenticate or sign after the resident types the PIN. It listens
on the loopback interface only (:func:`check_loopback`), and because any web page could try to call
a loopback service, it also

- answers only requests whose ``Host`` is a loopback name (no DNS-rebinding through another name);
- refuses requests whose ``Origin`` is not one of the configured portal origins, before anything
  touches the card (CORS alone would still let a foreign page *send* guesses that lock the PIN);
- accepts request bodies only as JSON (no form posts that skip the CORS preflight);
- answers the Private Network Access preflight for the configured origins.

Errors are JSON: ``{"error": code, "message": Japanese text, "remaining_tries": n | null}``.

Endpoints::

    GET    /cards                       cards in the store and which one is inserted
    GET    /cards/inserted              the inserted card
    PUT    /cards/inserted              insert a card: {"card_id": ...}
    DELETE /cards/inserted              eject
    GET    /certificates/authentication the 利用者証明用 certificate (PEM), no PIN needed
    POST   /authenticate                {"pin", "challenge": base64} -> signature + certificate
    POST   /sign                        {"pin", "data": base64}      -> signature + certificate
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import threading
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from cryptography.hazmat.primitives import serialization
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from jichitai.platform.errors import ConfigurationError, JichitaiError, ValidationError
from jichitai.platform.pki.card import CardStore, CardSummary, VirtualCard
from jichitai.platform.pki.errors import (
    CardError,
    CardLocked,
    CardNotFound,
    NoSigningCertificate,
    PinFormatError,
    WrongPin,
)
from jichitai.platform.pki.rules import CertificateKind

LOOPBACK_HOSTNAMES = frozenset({"127.0.0.1", "localhost", "[::1]", "::1"})
MAX_CHALLENGE_BYTES = 1024
MAX_DATA_BYTES = 4 * 1024 * 1024


def check_loopback(host: str) -> str:
    """Refuse to bind anywhere but a loopback address: the helper must never be reachable from outside."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError as exc:
        raise ConfigurationError(
            f"the card reader binds to an IP address, not {host!r}", hint="use 127.0.0.1"
        ) from exc
    if not address.is_loopback:
        raise ConfigurationError(
            f"the card reader listens on loopback only, not {host}", hint="use 127.0.0.1"
        )
    return host


@dataclass
class CardReaderConfig:
    """What the helper serves: a card store, the portal origins allowed to call it, the inserted card."""

    store: CardStore
    portal_origins: Sequence[str]
    inserted_card_id: str | None = None
    max_data_bytes: int = MAX_DATA_BYTES

    def __post_init__(self) -> None:
        for origin in self.portal_origins:
            if origin == "*" or not origin.startswith(("http://", "https://")) or origin.endswith("/"):
                raise ConfigurationError(
                    f"bad portal origin {origin!r}", hint="give scheme://host[:port] with no path, never *"
                )


@dataclass
class _ReaderState:
    inserted: str | None
    lock: threading.Lock = field(default_factory=threading.Lock)


class InsertRequest(BaseModel):
    card_id: str = Field(min_length=1, max_length=64)


class AuthenticateRequest(BaseModel):
    pin: str = Field(max_length=64)
    challenge: str = Field(min_length=1, max_length=4 * MAX_CHALLENGE_BYTES // 3 + 4)


class SignRequest(BaseModel):
    pin: str = Field(max_length=64)
    data: str = Field(min_length=1)


class SignatureResponse(BaseModel):
    signature: str  # base64
    certificate: str  # PEM
    serial: str  # upper-case hex


class CertificateResponse(BaseModel):
    certificate: str
    serial: str


class CardView(BaseModel):
    card_id: str
    holder_name: str
    has_signing_certificate: bool
    auth_remaining_tries: int
    sign_remaining_tries: int | None
    auth_locked: bool
    sign_locked: bool

    @classmethod
    def of(cls, s: CardSummary) -> CardView:
        return cls(
            card_id=s.card_id,
            holder_name=s.holder_name,
            has_signing_certificate=s.has_signing_certificate,
            auth_remaining_tries=s.auth_remaining_tries,
            sign_remaining_tries=s.sign_remaining_tries,
            auth_locked=s.auth_locked,
            sign_locked=s.sign_locked,
        )


class CardList(BaseModel):
    cards: list[CardView]
    inserted: str | None


def _error(status: int, code: str, message: str, remaining: int | None = None) -> JSONResponse:
    return JSONResponse(
        status_code=status, content={"error": code, "message": message, "remaining_tries": remaining}
    )


def _b64(text: str, what: str, limit: int) -> bytes:
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValidationError(
            f"{what} is not base64", message_ja="データの形式（Base64）が正しくありません"
        ) from exc
    if not raw:
        raise ValidationError(f"{what} is empty", message_ja="署名するデータが空です")
    if len(raw) > limit:
        raise ValidationError(f"{what} is too large", message_ja="データが大きすぎます")
    return raw


def _host_name(host_header: str) -> str:
    if host_header.startswith("["):
        return host_header.split("]", 1)[0] + "]"
    return host_header.rsplit(":", 1)[0] if ":" in host_header else host_header


def create_app(config: CardReaderConfig) -> FastAPI:
    """The card-reader app for one card store."""
    app = FastAPI(title="jichitai card reader (JPKI利用者ソフト相当)", docs_url=None, redoc_url=None)
    store = config.store
    state = _ReaderState(inserted=config.inserted_card_id)
    allowed_origins = frozenset(config.portal_origins)

    app.add_middleware(
        CORSMiddleware,
        allow_origins=list(config.portal_origins),
        allow_methods=["GET", "POST", "PUT", "DELETE"],
        allow_headers=["Content-Type"],
        allow_credentials=False,
        allow_private_network=True,  # Private Network Access preflight, for the listed origins only
        max_age=600,
    )

    # Added after CORS, so it runs first (outermost): foreign callers never reach the card, not even
    # through a preflight.
    @app.middleware("http")
    async def guard(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        if _host_name(request.headers.get("host", "")) not in LOOPBACK_HOSTNAMES:
            return _error(403, "host_not_allowed", "このカードリーダーはこのパソコンの中からのみ利用できます")
        origin = request.headers.get("origin")
        if origin is not None and origin not in allowed_origins:
            return _error(403, "origin_not_allowed", "このサイトからはカードリーダーを利用できません")
        if request.method in ("POST", "PUT"):
            ctype = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
            if ctype != "application/json":
                return _error(415, "unsupported_media_type", "リクエストの形式が正しくありません")
        response = await call_next(request)
        if (
            request.method == "OPTIONS"
            and request.headers.get("access-control-request-private-network") == "true"
        ):
            response.headers["Access-Control-Allow-Private-Network"] = "true"
        return response

    def remaining_of(card: VirtualCard | None, kind: CertificateKind) -> int | None:
        if card is None:
            return None
        try:
            return card.remaining_tries(kind)
        except JichitaiError:
            return None

    @app.exception_handler(JichitaiError)
    async def on_error(request: Request, exc: JichitaiError) -> JSONResponse:
        message = exc.message_ja or "処理できませんでした"
        if isinstance(exc, CardLocked):
            return _error(423, exc.code, message, 0)
        if isinstance(exc, WrongPin):
            return _error(401, exc.code, message, exc.remaining_tries)
        if isinstance(exc, PinFormatError):
            remaining = getattr(request.state, "pin_remaining", None)
            return _error(400, exc.code, message, remaining)
        if isinstance(exc, CardNotFound | NoSigningCertificate):
            return _error(404, exc.code, message)
        if isinstance(exc, CardError):
            return _error(403, exc.code, message, exc.remaining_tries)
        if isinstance(exc, ValidationError):
            return _error(400, "invalid_request", message)
        return _error(500, "card_reader_error", message)

    @app.exception_handler(RequestValidationError)
    async def on_invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        # Never echo the input back: it may hold a PIN.
        fields = [".".join(str(p) for p in e.get("loc", ())[1:]) for e in exc.errors()]
        return JSONResponse(
            status_code=422,
            content={
                "error": "invalid_request",
                "message": "リクエストの内容が正しくありません",
                "remaining_tries": None,
                "fields": fields,
            },
        )

    def inserted_card() -> VirtualCard:
        with state.lock:
            card_id = state.inserted
        if card_id is None:
            cards = store.list_cards()
            if len(cards) != 1:  # one card in the store counts as inserted; otherwise ask
                raise CardNotFound(
                    "no card is inserted",
                    message_ja="カードが読み取れません。カードをカードリーダーに置いてください",
                )
            card_id = cards[0].card_id
        return store.open(card_id)

    @app.get("/cards")
    def list_cards() -> CardList:
        with state.lock:
            inserted = state.inserted
        return CardList(cards=[CardView.of(c) for c in store.list_cards()], inserted=inserted)

    @app.get("/cards/inserted")
    def get_inserted() -> CardView:
        return CardView.of(inserted_card().summary())

    @app.put("/cards/inserted")
    def insert(body: InsertRequest) -> CardView:
        card = store.open(body.card_id)
        with state.lock:
            state.inserted = card.card_id
        return CardView.of(card.summary())

    @app.delete("/cards/inserted", status_code=204)
    def eject() -> Response:
        with state.lock:
            state.inserted = None
        return Response(status_code=204)

    @app.get("/certificates/authentication")
    def auth_certificate() -> CertificateResponse:
        cert = inserted_card().authentication_certificate()
        return CertificateResponse(
            certificate=cert.public_bytes(serialization.Encoding.PEM).decode("ascii"),
            serial=f"{cert.serial_number:X}",
        )

    @app.post("/authenticate")
    def authenticate(body: AuthenticateRequest, request: Request) -> SignatureResponse:
        card = inserted_card()
        request.state.pin_remaining = remaining_of(card, CertificateKind.AUTHENTICATION)
        challenge = _b64(body.challenge, "challenge", MAX_CHALLENGE_BYTES)
        signature = card.authenticate(body.pin, challenge)
        cert = card.authentication_certificate()
        return SignatureResponse(
            signature=base64.b64encode(signature).decode("ascii"),
            certificate=cert.public_bytes(serialization.Encoding.PEM).decode("ascii"),
            serial=f"{cert.serial_number:X}",
        )

    @app.post("/sign")
    def sign(body: SignRequest, request: Request) -> SignatureResponse:
        card = inserted_card()
        request.state.pin_remaining = remaining_of(card, CertificateKind.SIGNING)
        data = _b64(body.data, "data", config.max_data_bytes)
        signature, cert = card.sign_with_certificate(body.pin, data)
        return SignatureResponse(
            signature=base64.b64encode(signature).decode("ascii"),
            certificate=cert.public_bytes(serialization.Encoding.PEM).decode("ascii"),
            serial=f"{cert.serial_number:X}",
        )

    return app
