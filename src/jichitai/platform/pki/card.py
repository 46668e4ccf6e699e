"""A virtual My Number Card (マイナンバーカード) and the store that keeps such cards.

The card holds the two JPKI key pairs and certificates behind their PINs, with the real rules
(:data:`jichitai.platform.pki.rules.PIN_RULES`):

- 利用者証明用暗証番号: 4 digits, locked after 3 wrong tries;
- 署名用パスワード: 6–16 upper-case letters and digits, locked after 5 wrong tries.

A wrong-format PIN is refused before it reaches the card and costs no try. The retry counter is
decremented and saved *before* the PIN is checked (as a smart card does), so stopping the process in
the middle of a check cannot give an attacker free guesses; the right PIN restores the full count. A
locked PIN refuses even the right PIN until the municipal office resets it (:meth:`CardStore.reset_pin`).

As on the real card, the authentication certificate can be read freely, while the signing certificate
(which carries the basic four facts) is only given out after its PIN.

At rest, in ``<store>/<card_id>/card.json``: private keys as PKCS#8 encrypted with the store
passphrase (which stands in for the card chip's tamper resistance), PINs as argon2id hashes, never
in plain text, and the retry counters. Every change is an atomic replace under an exclusive lock.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from jichitai.platform.errors import ConfigurationError, Conflict, ValidationError
from jichitai.platform.files import locked, read_json, write_json_atomic
from jichitai.platform.pki.errors import (
    CardLocked,
    CardNotFound,
    NoSigningCertificate,
    PinFormatError,
    WrongPin,
)
from jichitai.platform.pki.rules import PIN_RULES, CertificateKind, check_pin_format

_CARD_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
CARD_FILE = "card.json"


def default_pin_hasher() -> PasswordHasher:
    """argon2id with the OWASP minimum (19 MiB, 2 passes): a PIN check stays well under 100 ms."""
    return PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)


def _check_card_id(card_id: str) -> str:
    if not _CARD_ID.fullmatch(card_id):
        raise ValidationError(f"bad card id {card_id!r}", message_ja="カードの識別子が正しくありません")
    return card_id


def validate_pin(kind: CertificateKind, pin: str) -> None:
    """Refuse a PIN of the wrong shape with :class:`PinFormatError` (no try is used)."""
    try:
        check_pin_format(kind, pin)
    except ValidationError as exc:
        raise PinFormatError(exc.message, message_ja=exc.message_ja) from exc


@dataclass(frozen=True)
class CardSummary:
    """What the card reader lists: no keys, no facts beyond the holder's name on the card face."""

    card_id: str
    holder_name: str
    has_signing_certificate: bool
    auth_remaining_tries: int
    sign_remaining_tries: int | None

    @property
    def auth_locked(self) -> bool:
        return self.auth_remaining_tries <= 0

    @property
    def sign_locked(self) -> bool:
        return self.sign_remaining_tries is not None and self.sign_remaining_tries <= 0


class VirtualCard:
    """One card in a :class:`CardStore`. Every operation reads the saved state afresh."""

    def __init__(self, store: CardStore, card_id: str) -> None:
        self._store = store
        self.card_id = card_id

    @property
    def _dir(self) -> Path:
        return self._store.directory / self.card_id

    def _state(self) -> dict[str, Any]:
        return self._store._read(self.card_id)

    def summary(self) -> CardSummary:
        return self._store._summary(self._state())

    @property
    def holder_name(self) -> str:
        return str(self._state()["holder_name"])

    @property
    def has_signing_certificate(self) -> bool:
        return self._state()["sign"] is not None

    def remaining_tries(self, kind: CertificateKind) -> int:
        slot = self._state()[_slot(kind)]
        if slot is None:
            raise NoSigningCertificate(
                "the card holds no signing certificate",
                message_ja="このカードには署名用電子証明書がありません",
            )
        return int(slot["remaining"])

    def authentication_certificate(self) -> x509.Certificate:
        """The 利用者証明用 certificate: readable without a PIN, as on the real card."""
        return x509.load_pem_x509_certificate(self._state()["auth"]["certificate"].encode("ascii"))

    def signing_certificate(self, pin: str) -> x509.Certificate:
        """The 署名用 certificate: it carries the basic four facts, so the 署名用 PIN is needed."""
        slot = self._verify_pin(CertificateKind.SIGNING, pin)
        return x509.load_pem_x509_certificate(slot["certificate"].encode("ascii"))

    def authenticate(self, pin: str, challenge: bytes) -> bytes:
        """Sign the server's challenge with the 利用者証明用 key (PKCS#1 v1.5, SHA-256)."""
        slot = self._verify_pin(CertificateKind.AUTHENTICATION, pin)
        return self._sign_with(slot, challenge)

    def sign(self, pin: str, data: bytes) -> bytes:
        """Sign ``data`` with the 署名用 key (PKCS#1 v1.5, SHA-256)."""
        return self.sign_with_certificate(pin, data)[0]

    def sign_with_certificate(self, pin: str, data: bytes) -> tuple[bytes, x509.Certificate]:
        """One PIN check, then the signature and the 署名用 certificate to send along with it."""
        slot = self._verify_pin(CertificateKind.SIGNING, pin)
        cert = x509.load_pem_x509_certificate(slot["certificate"].encode("ascii"))
        return self._sign_with(slot, data), cert

    def _sign_with(self, slot: dict[str, Any], data: bytes) -> bytes:
        key = self._store._load_key(slot["key"])
        return key.sign(data, padding.PKCS1v15(), hashes.SHA256())

    def _verify_pin(self, kind: CertificateKind, pin: str) -> dict[str, Any]:
        validate_pin(kind, pin)
        name = _slot(kind)
        with locked(self._dir):
            state = self._state()
            slot = state[name]
            if slot is None:
                raise NoSigningCertificate(
                    "the card holds no signing certificate",
                    message_ja="このカードには署名用電子証明書がありません",
                )
            if slot["remaining"] <= 0:
                raise CardLocked(kind)
            # Count the try before checking, so an interrupted check still costs it.
            slot["remaining"] -= 1
            self._store._write(state)
        ok: bool
        try:
            ok = bool(self._store.pin_hasher.verify(slot["pin_hash"], pin))
        except (VerificationError, InvalidHashError):
            ok = False
        with locked(self._dir):
            state = self._state()
            slot = state[name]
            if ok:
                slot["remaining"] = PIN_RULES[kind].max_tries
                self._store._write(state)
                return dict(slot)
        remaining = int(slot["remaining"])
        if remaining <= 0:
            raise CardLocked(kind)
        raise WrongPin(kind, remaining)


def _slot(kind: CertificateKind) -> str:
    return "sign" if kind is CertificateKind.SIGNING else "auth"


class CardStore:
    """A directory of virtual cards, one sub-directory each."""

    def __init__(
        self, directory: Path | str, passphrase: bytes, *, pin_hasher: PasswordHasher | None = None
    ) -> None:
        if len(passphrase) < 8:
            raise ConfigurationError("the card store passphrase must have at least 8 characters")
        self.directory = Path(directory)
        self._passphrase = passphrase
        self.pin_hasher = pin_hasher or default_pin_hasher()

    # --- persistence -----------------------------------------------------------------------------

    def _path(self, card_id: str) -> Path:
        return self.directory / _check_card_id(card_id) / CARD_FILE

    def _read(self, card_id: str) -> dict[str, Any]:
        path = self._path(card_id)
        if not path.exists():
            raise CardNotFound(f"no card {card_id}", message_ja="カードが見つかりません")
        data: dict[str, Any] = read_json(path)
        return data

    def _write(self, state: dict[str, Any]) -> None:
        write_json_atomic(self._path(state["card_id"]), state)

    def _encrypt_key(self, key: rsa.RSAPrivateKey) -> str:
        return key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(self._passphrase),
        ).decode("ascii")

    def _load_key(self, pem: str) -> rsa.RSAPrivateKey:
        try:
            key = serialization.load_pem_private_key(pem.encode("ascii"), self._passphrase)
        except (ValueError, TypeError) as exc:
            raise ConfigurationError(
                "cannot unlock the card key", hint="check the card store passphrase"
            ) from exc
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ConfigurationError("the card key is not an RSA key")
        return key

    def _slot(
        self, kind: CertificateKind, key: rsa.RSAPrivateKey, cert: x509.Certificate, pin: str
    ) -> dict[str, Any]:
        validate_pin(kind, pin)
        cert_key = cert.public_key()
        if not isinstance(cert_key, rsa.RSAPublicKey) or (
            cert_key.public_numbers() != key.public_key().public_numbers()
        ):
            raise ValidationError("the certificate does not belong to the key")
        return {
            "certificate": cert.public_bytes(serialization.Encoding.PEM).decode("ascii"),
            "key": self._encrypt_key(key),
            "pin_hash": self.pin_hasher.hash(pin),
            "remaining": PIN_RULES[kind].max_tries,
        }

    def _summary(self, state: dict[str, Any]) -> CardSummary:
        return CardSummary(
            card_id=state["card_id"],
            holder_name=state["holder_name"],
            has_signing_certificate=state["sign"] is not None,
            auth_remaining_tries=int(state["auth"]["remaining"]),
            sign_remaining_tries=None if state["sign"] is None else int(state["sign"]["remaining"]),
        )

    # --- use cases -------------------------------------------------------------------------------

    def create_card(
        self,
        *,
        holder_name: str,
        holder_kana: str,
        auth_key: rsa.RSAPrivateKey,
        auth_certificate: x509.Certificate,
        auth_pin: str,
        sign_key: rsa.RSAPrivateKey | None = None,
        sign_certificate: x509.Certificate | None = None,
        sign_pin: str | None = None,
        card_id: str | None = None,
    ) -> VirtualCard:
        """Write a new card. The signing slot is optional (no 署名用 certificate under 15)."""
        card_id = _check_card_id(card_id or secrets.token_hex(6).upper())
        if (sign_key is None) != (sign_certificate is None) or (sign_key is not None and sign_pin is None):
            raise ValidationError("a signing slot needs its key, certificate and PIN together")
        state: dict[str, Any] = {
            "card_id": card_id,
            "holder_name": holder_name,
            "holder_kana": holder_kana,
            "created_at": datetime.now(UTC).isoformat(),
            "auth": self._slot(CertificateKind.AUTHENTICATION, auth_key, auth_certificate, auth_pin),
            "sign": None,
        }
        if sign_key is not None and sign_certificate is not None and sign_pin is not None:
            state["sign"] = self._slot(CertificateKind.SIGNING, sign_key, sign_certificate, sign_pin)
        with locked(self.directory / card_id):
            if self._path(card_id).exists():
                raise Conflict(f"card {card_id} already exists")
            self._write(state)
        return VirtualCard(self, card_id)

    def open(self, card_id: str) -> VirtualCard:
        self._read(card_id)  # raises CardNotFound
        return VirtualCard(self, card_id)

    def list_cards(self) -> list[CardSummary]:
        if not self.directory.exists():
            return []
        found = []
        for sub in sorted(self.directory.iterdir()):
            if (sub / CARD_FILE).exists() and _CARD_ID.fullmatch(sub.name):
                found.append(self._summary(self._read(sub.name)))
        return found

    def reset_pin(self, card_id: str, kind: CertificateKind, new_pin: str) -> None:
        """初期化 at the municipal office: a new PIN and the full number of tries (unlocks)."""
        validate_pin(kind, new_pin)
        with locked(self.directory / _check_card_id(card_id)):
            state = self._read(card_id)
            slot = state[_slot(kind)]
            if slot is None:
                raise NoSigningCertificate(
                    "the card holds no signing certificate",
                    message_ja="このカードには署名用電子証明書がありません",
                )
            slot["pin_hash"] = self.pin_hasher.hash(new_pin)
            slot["remaining"] = PIN_RULES[kind].max_tries
            self._write(state)

    def install_signing_certificate(
        self, card_id: str, key: rsa.RSAPrivateKey, certificate: x509.Certificate, pin: str
    ) -> None:
        """Put a new 署名用 key and certificate on the card (after a change of facts or at renewal)."""
        slot = self._slot(CertificateKind.SIGNING, key, certificate, pin)
        with locked(self.directory / _check_card_id(card_id)):
            state = self._read(card_id)
            state["sign"] = slot
            self._write(state)
