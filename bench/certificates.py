"""Certificate issuance benchmark: unsigned render rate vs PAdES-signed rate on N processes.

Usage:
    .venv/bin/python bench/certificates.py [-n 2000] [--processes 2] [--key ec|rsa]

Issues ``n`` per-person 住民票の写し (個人票, names with MJ characters, QR code) twice: once
rendered only, once rendered and sealed (電子公印, PAdES-B-B). Each worker process loads the fonts
and prepares its sealer once, before timing starts. Prints rate (certificates/s), p50/p95 latency
and the signed/unsigned ratio; the goal from issue 3 is ≥ 50 signed/s on 2 cores, p95 < 150 ms and
signed ≥ 0.7 × unsigned.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import statistics
import time
from dataclasses import replace
from datetime import date

from cryptography.hazmat.primitives import serialization

from jichitai.mynumber.registry.certificates import issue_certificate, render_certificate
from jichitai.mynumber.registry.certificates.samples import sample_options, sample_person
from jichitai.platform.pdf import fonts, signing

NAMES = ("髙橋　一郎", "山﨑　花子", "𠮷田　健", "渡邊\U000e0109　美咲", "佐藤　翔太", "鈴木　陽菜")

_sealer: signing.PdfSealer | None = None


def _init(key_pem: bytes, cert_pem: bytes) -> None:
    global _sealer
    fonts.register_fonts()
    _sealer = signing.PdfSealer(signing.KeyRawSigner.from_pem(key_pem, cert_pem))
    _issue((0, True))  # warm up: font subsets, pyHanko template


def _issue(job: tuple[int, bool]) -> float:
    i, signed = job
    person = sample_person(name=NAMES[i % len(NAMES)], birth_date=date(1950 + i % 60, 1 + i % 12, 1 + i % 28))
    options = sample_options(serial=f"141003-2026-{i:06d}")
    options = replace(options, requested_items=frozenset())
    start = time.perf_counter()
    if signed:
        assert _sealer is not None
        issue_certificate(person, options, _sealer)
    else:
        render_certificate(person, options)
    return time.perf_counter() - start


def _ping(_: int) -> int:
    return 0


def _run(pool: mp.pool.Pool, n: int, signed: bool) -> tuple[float, list[float]]:
    start = time.perf_counter()
    latencies = pool.map(_issue, [(i, signed) for i in range(n)], chunksize=8)
    return time.perf_counter() - start, latencies


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("-n", type=int, default=2000, help="certificates per run")
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--key", choices=["ec", "rsa"], default="ec")
    args = parser.parse_args()

    # Fail here, once, when a font is missing: a worker whose initializer raises is replaced by
    # the pool forever, and the run would hang instead of saying what is wrong.
    try:
        fonts.register_fonts()
    except fonts.FontMissing as exc:
        raise SystemExit(f"{exc}; run `make sysdeps` first") from exc
    raw, _ = signing.new_test_sealer("横浜市", kind=args.key)
    key_pem = raw.private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    cert_pem = raw.certificate.public_bytes(serialization.Encoding.PEM)
    with mp.get_context("fork").Pool(args.processes, initializer=_init, initargs=(key_pem, cert_pem)) as pool:
        pool.map(_ping, range(args.processes * 4))  # wait for every worker's initializer
        results = {
            label: _run(pool, args.n, signed) for label, signed in (("unsigned", False), ("signed", True))
        }

    print(f"certificates: n={args.n}, processes={args.processes}, key={args.key}")
    print(f"{'run':<10}{'wall s':>9}{'cert/s':>10}{'p50 ms':>9}{'p95 ms':>9}{'mean ms':>9}")
    rates = {}
    for label, (wall, lat) in results.items():
        rates[label] = args.n / wall
        print(
            f"{label:<10}{wall:>9.2f}{rates[label]:>10.1f}{_pct(lat, 0.5):>9.1f}{_pct(lat, 0.95):>9.1f}"
            f"{statistics.mean(lat) * 1000:>9.1f}"
        )
    ratio = rates["signed"] / rates["unsigned"]
    p95 = _pct(results["signed"][1], 0.95)
    print(f"signed/unsigned ratio: {ratio:.2f} (goal ≥ 0.70)")
    print(
        f"goals: signed ≥ 50/s {'OK' if rates['signed'] >= 50 else 'MISSED'}, "
        f"p95 < 150 ms {'OK' if p95 < 150 else 'MISSED'}, ratio {'OK' if ratio >= 0.7 else 'MISSED'}"
    )


if __name__ == "__main__":
    main()
