"""Demo data of the internet zone for ``jichitai demo``: a test CA, virtual cards, the procedures.

``seed_demo`` creates the JPKI-style test CA under ``<home>/pki`` (where the settings look for the
trust anchor and the CRL), issues virtual My Number Cards with known PINs for two demo residents
into ``<home>/pki/cards`` (what ``jichitai card-reader --cards-dir`` serves), switches the demo
municipality's procedures on, and returns the lines the demo prints. Demo only: the passphrases
and PINs below are public.
"""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

from rich.console import Console

from jichitai.internet.submissions.procedures import tenant_procedures
from jichitai.platform.errors import JichitaiError
from jichitai.platform.pki import CardStore, Resident, TestCA, issue_card
from jichitai.platform.pki.rules import BasicFacts, Sex
from jichitai.platform.storage import Storage

DEMO_TENANT = "131016"
DEMO_CA_PASSPHRASE = "demo-ca-passphrase-not-for-production"  # noqa: S105 - demo only
DEMO_CARD_PASSPHRASE = "demo-card-passphrase-not-for-production"  # noqa: S105 - demo only
PORTAL_PORT_KEY = "internet"
CARD_READER_PORT = 8765

# (name, kana, birth date, sex, address, 利用者証明用暗証番号, 署名用パスワード)
DEMO_CARDS: tuple[tuple[str, str, date, Sex, str, str, str], ...] = (
    (
        "山田 花子",
        "ヤマダ ハナコ",
        date(1990, 4, 15),
        Sex.FEMALE,
        "東京都千代田区一番町10番地2",
        "1234",
        "YAMADA2026",
    ),
    (
        "佐藤 太郎",
        "サトウ タロウ",
        date(1985, 9, 1),
        Sex.MALE,
        "東京都千代田区麹町三丁目1番",
        "5678",
        "SATO1234",
    ),
)
GUIDANCE_JA = (
    "千代田区では、出生・転入の翌日から15日以内に請求してください（15日特例）。\n"
    "公金受取口座を登録している方は、口座の入力と通帳の写しの添付を省略できます。"
)


def _ca(pki_dir: Path, passphrase: bytes, console: Console) -> TestCA | None:
    if (pki_dir / TestCA.KEY_FILE).exists():
        try:
            return TestCA.open(pki_dir, passphrase)
        except JichitaiError:
            console.print(
                f"[yellow]a CA already exists in {pki_dir} with another passphrase; no cards issued[/]"
            )
            return None
    ca = TestCA.create(pki_dir, passphrase)
    ca.publish_crl()
    return ca


def seed_demo(storage: Storage, console: Console, residents: int) -> list[tuple[str, str]]:
    """Test CA, two virtual cards, procedures on; the notes for the demo printout."""
    del residents  # the cards are for two named demo residents whatever the registry holds
    settings = storage.settings
    pki_dir = settings.pki_dir
    ca_pass = os.environ.get("JICHITAI_CA_PASSPHRASE", DEMO_CA_PASSPHRASE).encode()
    card_pass = os.environ.get("JICHITAI_CARD_PASSPHRASE", DEMO_CARD_PASSPHRASE)
    cards_dir = pki_dir / "cards"
    portal = f"http://{settings.bind_host}:{settings.ports.get(PORTAL_PORT_KEY, 8000)}"
    notes: list[tuple[str, str]] = []

    ca = _ca(pki_dir, ca_pass, console)
    if ca is not None:
        store = CardStore(cards_dir, card_pass.encode())
        have = {c.holder_name for c in store.list_cards()}
        for name, kana, born, sex, address, auth_pin, sign_pin in DEMO_CARDS:
            if name not in have:
                resident = Resident(BasicFacts(name, address, born, sex), kana)
                issue_card(ca, store, resident, auth_pin=auth_pin, sign_pin=sign_pin)
            notes.append((f"マイナンバーカード {name}", f"利用者証明用 {auth_pin} / 署名用 {sign_pin}"))
        ca.publish_crl()
        console.print(f"test CA and {len(DEMO_CARDS)} virtual cards in {pki_dir}")

    procedures = tenant_procedures(storage)
    for effective in procedures.offered(DEMO_TENANT, include_disabled=True):
        if not effective.enabled and effective.base.offered_by.value == "municipality":
            procedures.enable(DEMO_TENANT, effective.base.id)
    if procedures.effective(DEMO_TENANT, "child_allowance_claim").guidance_ja is None:
        procedures.set_guidance(DEMO_TENANT, "child_allowance_claim", GUIDANCE_JA)

    notes.append(("電子申請サービス", f"{portal}/m/{DEMO_TENANT}/"))
    notes.append(
        (
            "card reader",
            f"JICHITAI_CARD_PASSPHRASE={card_pass} jichitai card-reader --cards-dir {cards_dir} "
            f"--port {CARD_READER_PORT} --origin {portal}"
            + ("  (2 cards: --card <id> or PUT /cards/inserted)" if len(DEMO_CARDS) > 1 else ""),
        )
    )
    return notes


__all__ = ["DEMO_CARDS", "seed_demo"]
