"""Fixtures for certificate tests: a seal under a test CA, and text extraction with pdftotext."""

from __future__ import annotations

import subprocess
from collections.abc import Callable

import pytest

from jichitai.platform.pdf import fonts, signing


@pytest.fixture(scope="session", autouse=True)
def _fonts_once() -> None:
    fonts.register_fonts()  # IPAmj (46 MB) is loaded once for the session


@pytest.fixture(scope="session")
def seal() -> tuple[signing.KeyRawSigner, signing.CertificateAuthority]:
    return signing.new_test_sealer("横浜市")


@pytest.fixture(scope="session")
def text_of() -> Callable[[bytes], str]:
    def extract(pdf: bytes) -> str:
        return subprocess.run(
            ["pdftotext", "-enc", "UTF-8", "-", "-"], input=pdf, capture_output=True, check=True
        ).stdout.decode()

    return extract


@pytest.fixture(scope="session")
def page_count() -> Callable[[bytes], int]:
    def count(pdf: bytes) -> int:
        out = subprocess.run(["pdfinfo", "-"], input=pdf, capture_output=True, check=True).stdout.decode()
        return int(next(line.split()[-1] for line in out.splitlines() if line.startswith("Pages:")))

    return count
