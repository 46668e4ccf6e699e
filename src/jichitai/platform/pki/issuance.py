"""Issuing a virtual My Number Card: new key pairs, certificates from the CA, the card in the store."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography.hazmat.primitives.asymmetric import rsa

from jichitai.platform.pki.ca import TestCA, new_rsa_key
from jichitai.platform.pki.card import CardStore, VirtualCard, validate_pin
from jichitai.platform.pki.errors import PinFormatError
from jichitai.platform.pki.rules import (
    JST,
    SIGNING_MINIMUM_AGE,
    BasicFacts,
    CertificateKind,
    age_on,
    check_kana,
)


@dataclass(frozen=True)
class Resident:
    """The person a card is issued to: the basic four facts plus フリガナ for the card face."""

    facts: BasicFacts
    name_kana: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "name_kana", check_kana(self.name_kana))


def issue_card(
    ca: TestCA,
    store: CardStore,
    resident: Resident,
    *,
    auth_pin: str,
    sign_pin: str | None,
    holder_ref: str | None = None,
    now: datetime | None = None,
    keys: tuple[rsa.RSAPrivateKey, rsa.RSAPrivateKey] | None = None,
    card_id: str | None = None,
) -> VirtualCard:
    """Issue both certificates (only the 利用者証明用 one under 15) and write the card.

    ``keys`` (authentication, signing) lets tests reuse pre-generated RSA-2048 keys; otherwise new
    ones are made, as the card generates its own keys at issue.
    """
    now = now or datetime.now(UTC)
    gets_signing = age_on(resident.facts.birth_date, now.astimezone(JST).date()) >= SIGNING_MINIMUM_AGE
    # Check both PINs before any key or certificate is made: nothing is issued half.
    validate_pin(CertificateKind.AUTHENTICATION, auth_pin)
    if gets_signing:
        if sign_pin is None:
            raise PinFormatError("a signing PIN is required", message_ja="署名用パスワードを設定してください")
        validate_pin(CertificateKind.SIGNING, sign_pin)
    sign_key: rsa.RSAPrivateKey | None
    if keys is not None:
        auth_key, sign_key = keys
    else:
        auth_key, sign_key = new_rsa_key(), (new_rsa_key() if gets_signing else None)
    card_id = card_id or secrets.token_hex(6).upper()
    auth_cert = ca.issue_authentication_certificate(
        auth_key.public_key(), resident.facts.birth_date, holder_ref=holder_ref, card_id=card_id, now=now
    )
    sign_cert = None
    if gets_signing and sign_key is not None:
        sign_cert = ca.issue_signing_certificate(
            sign_key.public_key(), resident.facts, holder_ref=holder_ref, card_id=card_id, now=now
        )
    return store.create_card(
        holder_name=resident.facts.name,
        holder_kana=resident.name_kana,
        auth_key=auth_key,
        auth_certificate=auth_cert,
        auth_pin=auth_pin,
        sign_key=sign_key if sign_cert is not None else None,
        sign_certificate=sign_cert,
        sign_pin=sign_pin if sign_cert is not None else None,
        card_id=card_id,
    )
