"""Fixtures of the crypto tests: keystores of both backends, a private SoftHSM2 token, a key DB.

PKCS#11 tests carry ``@pytest.mark.hsm``. In CI (CI=true) a missing SoftHSM2 fails them; elsewhere
they are skipped when SoftHSM2 is not installed.
"""

from __future__ import annotations

import itertools
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pkcs11
import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from jichitai.platform.crypto.file_keystore import FileKeystore
from jichitai.platform.crypto.keyring import clear_data_key_cache
from jichitai.platform.crypto.keystore import Keystore
from jichitai.platform.crypto.models import DataKey, PublicKey
from jichitai.platform.crypto.pkcs11_keystore import Pkcs11Keystore
from jichitai.platform.crypto.softhsm import find_softhsm_module, init_softhsm_token
from jichitai.platform.zones import Zone

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
PASSPHRASE = "correct horse battery staple"
SO_PIN = "87654321"
_tenant_numbers = itertools.count(1)


def softhsm_token(
    tmpdir: Path, label: str = "jichitai-lgwan", pin: str = "12345678"
) -> tuple[str, Path, str, str]:
    """A SoftHSM2 token in a private directory: (module_path, conf_path, label, pin).

    Points SOFTHSM2_CONF at it; if this process already initialised the module, re-initialises
    it so that the new token directory is scanned.
    """
    if find_softhsm_module() is None or shutil.which("softhsm2-util") is None:
        if IN_CI:
            pytest.fail("SoftHSM2 is required in CI (apt-get install softhsm2)")
        pytest.skip("SoftHSM2 is not installed")
    token = init_softhsm_token(Path(tmpdir), label, pin, SO_PIN)
    os.environ["SOFTHSM2_CONF"] = str(token.conf_path)
    loaded = pkcs11._loaded.get(token.module_path)
    if loaded is not None:
        loaded.reinitialize()
    return token.module_path, token.conf_path, token.label, token.pin


def _next_tenant() -> str:
    return f"9{next(_tenant_numbers):05d}"


@pytest.fixture(scope="session")
def new_tenant() -> Callable[[], str]:
    """Makes tenant codes not used before in this run (keystores are shared per module)."""
    return _next_tenant


@pytest.fixture(scope="session")
def hsm_token(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path, str, str]:
    return softhsm_token(tmp_path_factory.mktemp("softhsm"))


@pytest.fixture(scope="module")
def file_keystore(tmp_path_factory: pytest.TempPathFactory) -> FileKeystore:
    return FileKeystore.create(tmp_path_factory.mktemp("ks") / "lgwan.keystore.json", Zone.LGWAN, PASSPHRASE)


@pytest.fixture(scope="module")
def hsm_keystore(hsm_token: tuple[str, Path, str, str]) -> Iterator[Pkcs11Keystore]:
    module, _conf, label, pin = hsm_token
    ks = Pkcs11Keystore(module, label, pin, Zone.LGWAN)
    yield ks
    ks.close()


@pytest.fixture(params=["file", pytest.param("pkcs11", marks=pytest.mark.hsm)], scope="module")
def keystore(request: pytest.FixtureRequest) -> Keystore:
    """Each contract test runs against the file keystore and against SoftHSM2."""
    name = "file_keystore" if request.param == "file" else "hsm_keystore"
    ks: Keystore = request.getfixturevalue(name)
    return ks


@pytest.fixture
def key_db() -> Iterator[Session]:
    """A tenant database holding only the key tables (in-memory SQLite)."""
    engine = create_engine("sqlite://")
    for table in (DataKey.__table__, PublicKey.__table__):
        table.create(engine)  # type: ignore[attr-defined]
    clear_data_key_cache()
    with Session(engine) as session:
        yield session
    engine.dispose()
