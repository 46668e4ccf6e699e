"""The encrypted-file keystore: creation, reopening, and every way of opening it that must fail."""

from __future__ import annotations

import base64
import json
import os
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from jichitai.platform.crypto.file_keystore import FileKeystore
from jichitai.platform.crypto.keystore import KeyKind, KeystoreError
from jichitai.platform.zones import Zone

PASS = "correct horse battery staple"


@pytest.fixture
def store(tmp_path: Path) -> FileKeystore:
    ks = FileKeystore.create(tmp_path / "keys" / "lgwan.keystore.json", Zone.LGWAN, PASS)
    ks.create_tenant("131016", with_submission_key=False)
    return ks


def test_reopen_sees_the_same_keys(store: FileKeystore) -> None:
    key = os.urandom(32)
    wrapped = store.wrap("131016", 1, key, b"aad")
    signature = store.sign("131016", 1, b"data")
    again = FileKeystore(store.path, Zone.LGWAN, PASS)
    assert again.unwrap("131016", 1, wrapped, b"aad") == key
    again.signing_public_key("131016", 1).verify(signature, b"data", ec.ECDSA(hashes.SHA256()))


def test_file_is_private_and_holds_no_plain_key_material(store: FileKeystore) -> None:
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    doc = json.loads(store.path.read_text())
    assert doc["kdf"]["name"] == "scrypt"
    assert doc["kdf"]["n"] >= 2**15
    assert len(base64.b64decode(doc["kdf"]["salt"])) == 16
    text = store.path.read_text()
    assert "PRIVATE KEY" not in text
    # the key-check plaintext is stored only encrypted
    assert "jichitai keystore key check" not in text
    # no temporary files left behind by the atomic writes
    assert sorted(p.name for p in store.path.parent.iterdir()) == [
        "lgwan.keystore.json",
        "lgwan.keystore.json.lock",
    ]


def test_wrong_passphrase_is_named(store: FileKeystore) -> None:
    with pytest.raises(KeystoreError) as err:
        FileKeystore(store.path, Zone.LGWAN, "not the passphrase")
    assert err.value.message == "wrong keystore passphrase"
    assert "JICHITAI_KEYSTORE_PASSPHRASE" in err.value.one_line()


def test_missing_keystore_says_to_run_init(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.json"
    with pytest.raises(KeystoreError) as err:
        FileKeystore(path, Zone.LGWAN, PASS)
    assert err.value.one_line() == f"keystore not found at {path} (run `jichitai init`)"


def test_create_refuses_to_overwrite(store: FileKeystore) -> None:
    with pytest.raises(KeystoreError, match="already exists"):
        FileKeystore.create(store.path, Zone.LGWAN, PASS)


def test_create_refuses_empty_passphrase(tmp_path: Path) -> None:
    with pytest.raises(KeystoreError, match="empty keystore passphrase"):
        FileKeystore.create(tmp_path / "k.json", Zone.LGWAN, "")


def test_other_zones_keystore_is_refused(store: FileKeystore) -> None:
    with pytest.raises(KeystoreError, match="belongs to zone 'lgwan', not mynumber"):
        FileKeystore(store.path, Zone.MYNUMBER, PASS)


@pytest.mark.parametrize(
    ("content", "why"),
    [
        (b"{not json", "not valid JSON"),
        (b"\xff\xfe", "not valid JSON"),
        (b"[]", "not a jichitai-keystore/1 file"),
        (json.dumps({"format": "jichitai-keystore/1", "zone": "lgwan"}).encode(), "section is missing"),
    ],
)
def test_corrupted_file_is_reported(store: FileKeystore, content: bytes, why: str) -> None:
    store.path.write_bytes(content)
    with pytest.raises(KeystoreError, match=f"keystore at .* is corrupted: .*{why}") as err:
        FileKeystore(store.path, Zone.LGWAN, PASS)
    assert "backup" in err.value.one_line()


def test_damaged_kdf_section_is_corruption_not_wrong_passphrase(store: FileKeystore) -> None:
    doc = json.loads(store.path.read_text())
    doc["kdf"]["salt"] = "***"
    store.path.write_text(json.dumps(doc))
    with pytest.raises(KeystoreError, match="corrupted: the kdf parameters"):
        FileKeystore(store.path, Zone.LGWAN, PASS)


def test_altered_key_item_is_reported_when_used(store: FileKeystore) -> None:
    doc = json.loads(store.path.read_text())
    sealed = bytearray(base64.b64decode(doc["tenants"]["131016"]["kek"]["1"]["sealed"]))
    sealed[-1] ^= 1
    doc["tenants"]["131016"]["kek"]["1"]["sealed"] = base64.b64encode(bytes(sealed)).decode()
    store.path.write_text(json.dumps(doc))
    reopened = FileKeystore(store.path, Zone.LGWAN, PASS)
    with pytest.raises(KeystoreError, match="corrupted: the kek key 1 of tenant 131016 does not decrypt"):
        reopened.wrap("131016", 1, os.urandom(32), b"aad")


def test_key_item_copied_to_another_tenant_does_not_open(store: FileKeystore) -> None:
    store.create_tenant("141003", with_submission_key=False)
    doc = json.loads(store.path.read_text())
    doc["tenants"]["141003"]["kek"]["1"] = doc["tenants"]["131016"]["kek"]["1"]
    store.path.write_text(json.dumps(doc))
    reopened = FileKeystore(store.path, Zone.LGWAN, PASS)
    with pytest.raises(KeystoreError, match="kek key 1 of tenant 141003 does not decrypt"):
        reopened.wrap("141003", 1, os.urandom(32), b"aad")


def test_two_handles_see_each_others_writes(store: FileKeystore) -> None:
    other = FileKeystore(store.path, Zone.LGWAN, PASS)
    assert other.add_version("131016", KeyKind.KEK) == 2
    assert store.versions("131016", KeyKind.KEK) == [1, 2]
    assert store.add_version("131016", KeyKind.KEK) == 3
    assert other.versions("131016", KeyKind.KEK) == [1, 2, 3]
    wrapped = store.wrap("131016", 3, b"k" * 32, b"a")
    assert other.unwrap("131016", 3, wrapped, b"a") == b"k" * 32
    store.create_tenant("141003", with_submission_key=False)
    assert other.has_tenant("141003")
