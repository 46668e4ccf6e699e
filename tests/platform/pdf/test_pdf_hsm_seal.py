"""A seal key that lives in SoftHSM2 signs PDFs through the same RawSigner protocol."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from jichitai.platform.pdf import signing

pytestmark = pytest.mark.hsm

MODULES = ("/usr/lib/softhsm/libsofthsm2.so", "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so")
PIN = "1234"


@pytest.fixture(scope="module")
def hsm_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    module = next((m for m in MODULES if os.path.exists(m)), None)
    if module is None or shutil.which("softhsm2-util") is None:
        if os.environ.get("CI"):
            pytest.fail("SoftHSM2 is required in CI (apt-get install softhsm2)")
        pytest.skip("SoftHSM2 not installed")
    import pkcs11

    base = tmp_path_factory.mktemp("seal-hsm")
    (base / "tokens").mkdir()
    conf = base / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {base / 'tokens'}\nobjectstore.backend = file\n")
    previous = os.environ.get("SOFTHSM2_CONF")
    os.environ["SOFTHSM2_CONF"] = str(conf)
    subprocess.run(
        ["softhsm2-util", "--init-token", "--free", "--label", "seal", "--pin", PIN, "--so-pin", "5678"],
        check=True,
        capture_output=True,
    )
    lib = pkcs11.lib(module)
    # another test module may have loaded SoftHSM with another config
    with contextlib.suppress(Exception):
        lib.reinitialize()
    token = lib.get_token(token_label="seal")
    with token.open(rw=True, user_pin=PIN) as session:
        yield session
    if previous is None:
        os.environ.pop("SOFTHSM2_CONF", None)
    else:
        os.environ["SOFTHSM2_CONF"] = previous


def test_hsm_ec_key_seals_a_pdf(
    hsm_session: Any, test_ca: signing.CertificateAuthority, unsigned_pdf: bytes
) -> None:
    from cryptography.hazmat.primitives.serialization import load_der_public_key
    from pkcs11 import Attribute, KeyType
    from pkcs11.util.ec import encode_ec_public_key, encode_named_curve_parameters

    params = hsm_session.create_domain_parameters(
        KeyType.EC, {Attribute.EC_PARAMS: encode_named_curve_parameters("secp256r1")}, local=True
    )
    public, private = params.generate_keypair(store=False)
    pub = load_der_public_key(encode_ec_public_key(public))
    assert isinstance(pub, ec.EllipticCurvePublicKey)
    cert = signing.issue_seal_certificate(test_ca, pub, "相模原市")
    signer = signing.Pkcs11RawSigner(private, cert)
    signed = signing.sign_pdf(unsigned_pdf, signer, reason="r", location="l")
    result = signing.verify_pdf(signed, [test_ca.certificate])
    assert result.valid, result.problems
    assert result.signer_organization == "相模原市"
