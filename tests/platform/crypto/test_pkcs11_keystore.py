"""What only the PKCS#11 backend has: keys that cannot leave the token, PIN and token errors."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from pkcs11 import Attribute, ObjectClass

from jichitai.platform.crypto.factory import create_keystore, open_keystore
from jichitai.platform.crypto.keystore import KeyKind, KeystoreError
from jichitai.platform.crypto.pkcs11_keystore import Pkcs11Keystore
from jichitai.platform.zones import Zone

pytestmark = pytest.mark.hsm


def test_private_keys_are_not_extractable(
    hsm_keystore: Pkcs11Keystore, new_tenant: Callable[[], str]
) -> None:
    tenant = new_tenant()
    hsm_keystore.create_tenant(tenant, with_submission_key=False)
    session = hsm_keystore._session
    for kind, cls in ((KeyKind.KEK, ObjectClass.SECRET_KEY), (KeyKind.SIGNING, ObjectClass.PRIVATE_KEY)):
        (obj,) = session.get_objects({Attribute.CLASS: cls, Attribute.LABEL: f"{tenant}/{kind}/1"})
        assert obj[Attribute.EXTRACTABLE] is False
        assert obj[Attribute.SENSITIVE] is True
        assert obj[Attribute.TOKEN] is True


def test_wrong_pin(hsm_token: tuple[str, Path, str, str]) -> None:
    module, _conf, label, _pin = hsm_token
    with pytest.raises(KeystoreError, match=f"wrong PKCS#11 PIN for token '{label}'") as err:
        Pkcs11Keystore(module, label, "00000000", Zone.LGWAN)
    assert "JICHITAI_PKCS11_PIN" in err.value.one_line()


def test_missing_token_and_module(hsm_token: tuple[str, Path, str, str]) -> None:
    module, _conf, _label, pin = hsm_token
    with pytest.raises(KeystoreError, match="token 'no-such-token' not found"):
        Pkcs11Keystore(module, "no-such-token", pin, Zone.LGWAN)
    with pytest.raises(KeystoreError, match="cannot be loaded"):
        Pkcs11Keystore("/nonexistent/libpkcs11.so", "x", pin, Zone.LGWAN)


def test_factory_opens_the_zone_token(hsm_token: tuple[str, Path, str, str], tmp_path: Path) -> None:
    module, _conf, label, pin = hsm_token
    prefix, zone = label.rsplit("-", 1)
    ks = open_keystore(
        "pkcs11", Zone(zone), home=tmp_path, pkcs11_module=module, pkcs11_pin=pin, token_prefix=prefix + "-"
    )
    assert isinstance(ks, Pkcs11Keystore)
    assert ks.token_label == label
    ks2 = create_keystore(
        "pkcs11", Zone(zone), home=tmp_path, pkcs11_module=module, pkcs11_pin=pin, token_prefix=prefix + "-"
    )
    assert isinstance(ks2, Pkcs11Keystore)
    with pytest.raises(KeystoreError, match="token 'jichitai-mynumber' not found"):
        open_keystore("pkcs11", Zone.MYNUMBER, home=tmp_path, pkcs11_module=module, pkcs11_pin=pin)
