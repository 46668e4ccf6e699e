from __future__ import annotations

import base64

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient

from jichitai.platform.errors import ConfigurationError
from jichitai.platform.pki.ca import TestCA
from jichitai.platform.pki.card import CardStore, VirtualCard
from jichitai.platform.pki.card_reader import CardReaderConfig, check_loopback, create_app
from jichitai.platform.pki.issuance import issue_card
from jichitai.platform.pki.rules import CertificateKind
from jichitai.platform.pki.verify import CrlStore, TrustStore, verify_signature

from .conftest import ADULT, AUTH_PIN, NOW, SIGN_PIN

PORTAL = "http://127.0.0.1:8000"
AT = NOW.replace(hour=4)


@pytest.fixture
def client(store: CardStore, card: VirtualCard) -> TestClient:
    app = create_app(CardReaderConfig(store=store, portal_origins=[PORTAL]))
    return TestClient(app, base_url="http://127.0.0.1:8765", headers={"Origin": PORTAL})


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def test_list_and_inserted_card(client: TestClient, card: VirtualCard) -> None:
    listing = client.get("/cards").json()
    assert [c["card_id"] for c in listing["cards"]] == [card.card_id]
    assert listing["cards"][0]["auth_remaining_tries"] == 3
    assert listing["cards"][0]["sign_remaining_tries"] == 5
    inserted = client.get("/cards/inserted")
    assert inserted.status_code == 200
    assert inserted.json()["holder_name"] == ADULT.facts.name


def test_authentication_certificate(client: TestClient, card: VirtualCard) -> None:
    body = client.get("/certificates/authentication").json()
    assert x509.load_pem_x509_certificate(body["certificate"].encode()) == card.authentication_certificate()
    assert body["serial"] == f"{card.authentication_certificate().serial_number:X}"


def test_authenticate_and_verify(client: TestClient, trust_store: TrustStore, crls: CrlStore) -> None:
    challenge = b"login-challenge-42"
    r = client.post("/authenticate", json={"pin": AUTH_PIN, "challenge": _b64(challenge)})
    assert r.status_code == 200, r.text
    body = r.json()
    result = verify_signature(
        body["certificate"],
        challenge,
        base64.b64decode(body["signature"]),
        CertificateKind.AUTHENTICATION,
        trust_store=trust_store,
        crls=crls,
        at=AT,
    )
    assert result.serial == body["serial"]


def test_sign_and_verify(client: TestClient, trust_store: TrustStore, crls: CrlStore) -> None:
    data = b'{"procedure":"child-allowance","version":3}'
    r = client.post("/sign", json={"pin": SIGN_PIN, "data": _b64(data)})
    assert r.status_code == 200, r.text
    body = r.json()
    result = verify_signature(
        body["certificate"],
        data,
        base64.b64decode(body["signature"]),
        CertificateKind.SIGNING,
        trust_store=trust_store,
        crls=crls,
        at=AT,
    )
    assert result.facts == ADULT.facts


def test_wrong_pin_then_locked(client: TestClient) -> None:
    for left in (2, 1):
        r = client.post("/authenticate", json={"pin": "0000", "challenge": _b64(b"c")})
        assert r.status_code == 401
        assert r.json()["error"] == "wrong_pin"
        assert r.json()["remaining_tries"] == left
        assert f"残り{left}回" in r.json()["message"]
    r = client.post("/authenticate", json={"pin": "0000", "challenge": _b64(b"c")})
    assert r.status_code == 423
    assert r.json() == {
        "error": "locked",
        "message": r.json()["message"],
        "remaining_tries": 0,
    }
    assert client.post("/authenticate", json={"pin": AUTH_PIN, "challenge": _b64(b"c")}).status_code == 423


def test_pin_format_error_shows_tries_left(client: TestClient) -> None:
    r = client.post("/sign", json={"pin": "abc", "data": _b64(b"d")})
    assert r.status_code == 400
    assert r.json()["error"] == "pin_format"
    assert r.json()["remaining_tries"] == 5
    assert "署名用パスワード" in r.json()["message"]


def test_bad_requests(client: TestClient) -> None:
    r = client.post("/sign", json={"pin": SIGN_PIN, "data": "***not base64***"})
    assert r.status_code == 400
    assert r.json()["error"] == "invalid_request"
    r = client.post("/sign", json={"pin": SIGN_PIN})
    assert r.status_code == 422
    r = client.post("/authenticate", json={"pin": "SECRET9", "challenge": _b64(b"x" * 2000)})
    assert r.status_code == 422
    assert "SECRET9" not in r.text  # the PIN is never echoed back


def test_foreign_origin_is_refused_before_the_card(client: TestClient, card: VirtualCard) -> None:
    r = client.post(
        "/authenticate",
        json={"pin": "0000", "challenge": _b64(b"c")},
        headers={"Origin": "https://evil.example"},
    )
    assert r.status_code == 403
    assert r.json()["error"] == "origin_not_allowed"
    assert card.remaining_tries(CertificateKind.AUTHENTICATION) == 3  # no try used


def test_cors_for_the_portal(client: TestClient) -> None:
    r = client.get("/cards")
    assert r.headers["access-control-allow-origin"] == PORTAL
    pre = client.options(
        "/sign",
        headers={
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
            "Access-Control-Request-Private-Network": "true",
        },
    )
    assert pre.status_code == 200
    assert pre.headers["access-control-allow-origin"] == PORTAL
    assert pre.headers["access-control-allow-private-network"] == "true"


def test_non_loopback_host_header_is_refused(store: CardStore, card: VirtualCard) -> None:
    app = create_app(CardReaderConfig(store=store, portal_origins=[PORTAL]))
    rebound = TestClient(app, base_url="http://attacker.example:8765")
    r = rebound.get("/certificates/authentication")
    assert r.status_code == 403
    assert r.json()["error"] == "host_not_allowed"


def test_form_posts_are_refused(client: TestClient) -> None:
    r = client.post("/authenticate", content=b"pin=1234", headers={"Content-Type": "text/plain"})
    assert r.status_code == 415


def test_insert_and_eject(
    client: TestClient, ca: TestCA, store: CardStore, card: VirtualCard, key_pool: list[rsa.RSAPrivateKey]
) -> None:
    second = issue_card(
        ca, store, ADULT, auth_pin="5555", sign_pin="ZZZ999", now=NOW, keys=(key_pool[4], key_pool[5])
    )
    # Two cards and none chosen: the reader does not guess.
    r = client.get("/cards/inserted")
    assert r.status_code == 404
    assert r.json()["error"] == "no_card"
    assert client.put("/cards/inserted", json={"card_id": second.card_id}).status_code == 200
    assert client.get("/cards").json()["inserted"] == second.card_id
    r = client.post("/authenticate", json={"pin": "5555", "challenge": _b64(b"c")})
    assert r.status_code == 200
    assert client.put("/cards/inserted", json={"card_id": "NOSUCH"}).status_code == 404
    assert client.delete("/cards/inserted").status_code == 204
    assert client.get("/cards/inserted").status_code == 404


def test_child_card_cannot_sign(
    ca: TestCA,
    tmp_path_factory: pytest.TempPathFactory,
    fast_hasher: object,
    key_pool: list[rsa.RSAPrivateKey],
) -> None:
    from datetime import date

    from argon2 import PasswordHasher

    from jichitai.platform.pki.issuance import Resident
    from jichitai.platform.pki.rules import BasicFacts, Sex

    assert isinstance(fast_hasher, PasswordHasher)
    store = CardStore(tmp_path_factory.mktemp("child"), b"child-store-pass", pin_hasher=fast_hasher)
    child = Resident(
        BasicFacts("山田　一郎", "東京都千代田区1", date(2016, 6, 1), Sex.MALE), "ヤマダ　イチロウ"
    )
    issue_card(ca, store, child, auth_pin=AUTH_PIN, sign_pin=None, now=NOW, keys=(key_pool[2], key_pool[3]))
    client = TestClient(
        create_app(CardReaderConfig(store=store, portal_origins=[PORTAL])), base_url="http://127.0.0.1:8765"
    )
    r = client.post("/sign", json={"pin": SIGN_PIN, "data": _b64(b"d")})
    assert r.status_code == 404
    assert r.json()["error"] == "no_signing_certificate"


@pytest.mark.parametrize("host", ["127.0.0.1", "::1", "127.0.0.2"])
def test_loopback_bind_ok(host: str) -> None:
    assert check_loopback(host) == host


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.10", "::", "localhost", "example.com"])
def test_other_bind_addresses_refused(host: str) -> None:
    with pytest.raises(ConfigurationError):
        check_loopback(host)


@pytest.mark.parametrize("origin", ["*", "http://portal.example/", "portal.example"])
def test_bad_origin_configuration(store: CardStore, origin: str) -> None:
    with pytest.raises(ConfigurationError):
        CardReaderConfig(store=store, portal_origins=[origin])
