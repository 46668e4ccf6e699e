"""Field crypto throughput on one core: a 12-digit 個人番号 against raw AES-GCM.

Usage::

    .venv/bin/python bench/field_crypto.py [--runs 5] [--ops 200000]

Measures, in the same process and interleaved run by run:

- raw: ``cryptography``'s AESGCM encrypt + decrypt of the 12-byte value, fixed nonce, no AAD
  (the floor the goal is stated against);
- raw+nonce: the same with a fresh ``os.urandom(12)`` nonce per encryption, i.e. the least any
  correct use of AES-GCM does;
- field: ``FieldCipher.encrypt`` + ``decrypt`` (AAD = tenant, table, column, row) + one
  ``BlindIndexer.index`` (HMAC-SHA256) of the same value.

Prints ops/s per run, then medians and the ratio field / raw (goal ≥ 0.5) and field / raw+nonce.
The machine is shared and noisy (±25%); compare the ratios, which are measured side by side.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from jichitai.platform.crypto.fields import BlindIndexer, FieldCipher

MY_NUMBER = "123456789018"


def rate(fn: Callable[[int], None], ops: int) -> float:
    start = time.perf_counter()
    fn(ops)
    return ops / (time.perf_counter() - start)


def raw_loop(ops: int) -> None:
    aead = AESGCM(os.urandom(32))
    nonce = os.urandom(12)
    data = MY_NUMBER.encode()
    enc, dec = aead.encrypt, aead.decrypt
    for _ in range(ops):
        dec(nonce, enc(nonce, data, None), None)


def raw_nonce_loop(ops: int) -> None:
    aead = AESGCM(os.urandom(32))
    data = MY_NUMBER.encode()
    enc, dec, urandom = aead.encrypt, aead.decrypt, os.urandom
    for _ in range(ops):
        nonce = urandom(12)
        dec(nonce, enc(nonce, data, None), None)


def field_loop(ops: int) -> None:
    cipher = FieldCipher("131016", (1, os.urandom(32)))
    indexer = BlindIndexer("131016", os.urandom(32))
    enc, dec, index = cipher.encrypt, cipher.decrypt, indexer.index
    for row in range(ops):
        blob = enc("residents", "my_number", row, MY_NUMBER)
        if dec("residents", "my_number", row, blob) != MY_NUMBER:
            raise AssertionError("round trip failed")
        index("my_number", MY_NUMBER)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--ops", type=int, default=200_000)
    args = parser.parse_args()

    field_loop(10_000)  # warm caches
    raws, raw_nonces, fields = [], [], []
    for run in range(1, args.runs + 1):
        raws.append(rate(raw_loop, args.ops))
        raw_nonces.append(rate(raw_nonce_loop, args.ops))
        fields.append(rate(field_loop, args.ops))
        print(
            f"run {run}: raw {raws[-1]:>10,.0f}/s   raw+nonce {raw_nonces[-1]:>10,.0f}/s   "
            f"field enc+dec+index {fields[-1]:>10,.0f}/s"
        )
    raw, raw_nonce, field = (statistics.median(v) for v in (raws, raw_nonces, fields))
    print(f"median raw AES-GCM enc+dec (fixed nonce)   {raw:>10,.0f} ops/s")
    print(f"median raw AES-GCM enc+dec (fresh nonce)   {raw_nonce:>10,.0f} ops/s")
    print(f"median field enc+dec + blind index         {field:>10,.0f} ops/s")
    print(f"ratio field / raw        {field / raw:.2f}  (goal >= 0.5)")
    print(f"ratio field / raw+nonce  {field / raw_nonce:.2f}")


if __name__ == "__main__":
    main()
