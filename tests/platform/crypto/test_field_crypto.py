"""Field encryption bound to tenant, table, column and row; blind indexes; nonces."""

from __future__ import annotations

import hmac
import os

import pytest

from jichitai.platform.crypto.fields import (
    BlindIndexer,
    FieldCipher,
    FieldCryptoError,
    blob_key_id,
    new_nonce,
)

KEY = os.urandom(32)
MY_NUMBER = "123456789018"  # 個人番号 (12 digits)


@pytest.fixture
def cipher() -> FieldCipher:
    return FieldCipher("131016", (7, KEY))


def test_round_trip_and_layout(cipher: FieldCipher) -> None:
    blob = cipher.encrypt("residents", "my_number", 42, MY_NUMBER)
    assert blob[0] == 1
    assert blob_key_id(blob) == 7
    assert blob[1:5] == (7).to_bytes(4, "big")
    assert len(blob) == 1 + 4 + 12 + len(MY_NUMBER) + 16
    assert MY_NUMBER.encode() not in blob
    assert cipher.decrypt("residents", "my_number", 42, blob) == MY_NUMBER
    assert cipher.decrypt("residents", "my_number", "42", blob) == MY_NUMBER  # row ids compare as text


@pytest.mark.parametrize("text", ["", "髙橋 﨑子", "東京都千代田区九段南1-2-1"])
def test_round_trip_of_any_text(cipher: FieldCipher, text: str) -> None:
    assert cipher.decrypt("t", "c", 1, cipher.encrypt("t", "c", 1, text)) == text


def test_same_value_encrypts_differently(cipher: FieldCipher) -> None:
    blobs = {cipher.encrypt("residents", "my_number", 1, MY_NUMBER) for _ in range(100)}
    assert len(blobs) == 100


@pytest.mark.parametrize(
    ("table", "column", "row_id", "tenant"),
    [
        ("residents", "my_number", 43, "131016"),  # moved to another row
        ("residents", "kana_name", 42, "131016"),  # another column
        ("applicants", "my_number", 42, "131016"),  # another table
        ("residents", "my_number", 42, "141003"),  # another tenant, even with the same key
    ],
)
def test_ciphertext_moved_elsewhere_fails(
    cipher: FieldCipher, table: str, column: str, row_id: int, tenant: str
) -> None:
    blob = cipher.encrypt("residents", "my_number", 42, MY_NUMBER)
    reader = cipher if tenant == "131016" else FieldCipher(tenant, (7, KEY))
    with pytest.raises(FieldCryptoError, match="belongs to another row, column or tenant") as err:
        reader.decrypt(table, column, row_id, blob)
    assert f"{table}.{column} of row {row_id}" in err.value.message


def test_separator_cannot_shift_the_binding(cipher: FieldCipher) -> None:
    with pytest.raises(FieldCryptoError, match="invalid table"):
        cipher.encrypt("residents\x1fmy", "number", 1, MY_NUMBER)


def test_altered_truncated_or_relabelled_ciphertext_fails(cipher: FieldCipher) -> None:
    blob = cipher.encrypt("residents", "my_number", 42, MY_NUMBER)
    for i in (5, 17, len(blob) - 1):
        altered = bytearray(blob)
        altered[i] ^= 0x01
        with pytest.raises(FieldCryptoError, match="does not decrypt"):
            cipher.decrypt("residents", "my_number", 42, bytes(altered))
    with pytest.raises(FieldCryptoError, match="does not decrypt"):
        cipher.decrypt("residents", "my_number", 42, blob[:-3])
    with pytest.raises(FieldCryptoError, match="not a jichitai field ciphertext"):
        cipher.decrypt("residents", "my_number", 42, b"\x02" + blob[1:])
    with pytest.raises(FieldCryptoError, match="not a jichitai field ciphertext"):
        cipher.decrypt("residents", "my_number", 42, blob[:10])
    relabelled = blob[:1] + (8).to_bytes(4, "big") + blob[5:]
    with pytest.raises(FieldCryptoError, match="data key 8 is unknown"):
        cipher.decrypt("residents", "my_number", 42, relabelled)


def test_old_keys_are_loaded_on_demand() -> None:
    old = FieldCipher("131016", (1, KEY))
    blob = old.encrypt("residents", "my_number", 1, MY_NUMBER)
    asked: list[int] = []

    def load(key_id: int) -> bytes:
        asked.append(key_id)
        return KEY

    new = FieldCipher("131016", (2, os.urandom(32)), load)
    assert new.decrypt("residents", "my_number", 1, blob) == MY_NUMBER
    assert new.decrypt("residents", "my_number", 1, blob) == MY_NUMBER
    assert asked == [1]  # loaded once, then cached
    assert blob_key_id(new.encrypt("residents", "my_number", 1, MY_NUMBER)) == 2


def test_relabelled_to_an_existing_key_fails() -> None:
    other = os.urandom(32)
    cipher = FieldCipher("131016", (2, KEY), lambda _id: other)
    blob = cipher.encrypt("residents", "my_number", 1, MY_NUMBER)
    with pytest.raises(FieldCryptoError, match="does not decrypt"):
        cipher.decrypt("residents", "my_number", 1, blob[:1] + (1).to_bytes(4, "big") + blob[5:])


def test_blind_index_is_hmac_sha256_per_column() -> None:
    bkey = os.urandom(32)
    indexer = BlindIndexer("131016", bkey)
    a = indexer.index("my_number", MY_NUMBER)
    assert len(a) == 32
    assert a == indexer.index("my_number", MY_NUMBER)
    assert a != indexer.index("my_number", "123456789026")
    assert a != indexer.index("applicant_my_number", MY_NUMBER)
    assert a == hmac.digest(indexer.column_key("my_number"), MY_NUMBER.encode(), "sha256")
    assert a != BlindIndexer("141003", bkey).index("my_number", MY_NUMBER)
    assert a != BlindIndexer("131016", os.urandom(32)).index("my_number", MY_NUMBER)


def test_nonces_are_unique() -> None:
    nonces = {new_nonce() for _ in range(10_000)}
    assert len(nonces) == 10_000
    assert all(len(n) == 12 for n in nonces)


def test_forked_child_does_not_repeat_parent_nonces() -> None:
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        os.close(read_fd)
        os.write(write_fd, b"".join(new_nonce() for _ in range(8)))
        os._exit(0)
    os.close(write_fd)
    parent = {new_nonce() for _ in range(8)}
    data = b""
    while chunk := os.read(read_fd, 1024):
        data += chunk
    os.close(read_fd)
    os.waitpid(pid, 0)
    child = {data[i : i + 12] for i in range(0, len(data), 12)}
    assert len(child) == 8
    assert not parent & child
