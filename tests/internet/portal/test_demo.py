"""``jichitai demo`` seeding of the internet zone: test CA, virtual cards with known PINs, procedures."""

from __future__ import annotations

from rich.console import Console

from jichitai.internet.demo import DEMO_CARDS, seed_demo
from jichitai.internet.submissions.procedures import tenant_procedures
from jichitai.platform.pki import CardStore, TestCA
from jichitai.platform.storage import Storage


def test_the_demo_has_a_ca_cards_with_known_pins_and_the_claim_with_guidance(sqlite_storage: Storage) -> None:
    notes = dict(seed_demo(sqlite_storage, Console(quiet=True), 10))
    pki_dir = sqlite_storage.settings.pki_dir
    assert (pki_dir / TestCA.CERT_FILE).exists() and (pki_dir / "crl.pem").exists()
    assert sqlite_storage.settings.trust_anchor_paths() == [pki_dir / "ca-cert.pem"]
    name, *_, auth_pin, sign_pin = DEMO_CARDS[0]
    assert notes[f"マイナンバーカード {name}"] == f"利用者証明用 {auth_pin} / 署名用 {sign_pin}"
    assert "card-reader" in notes["card reader"] and "/m/131016/" in notes["電子申請サービス"]
    store = CardStore(pki_dir / "cards", b"demo-card-passphrase-not-for-production")
    card = store.open(store.list_cards()[0].card_id)
    assert card.sign(sign_pin if card.holder_name == name else DEMO_CARDS[1][6], b"data")
    claim = tenant_procedures(sqlite_storage).effective("131016", "child_allowance_claim")
    assert claim.enabled and claim.guidance_ja and "15日" in claim.guidance_ja
    again = seed_demo(sqlite_storage, Console(quiet=True), 10)  # a second run issues nothing new
    assert len(store.list_cards()) == len(DEMO_CARDS) and len(again) == len(notes)
