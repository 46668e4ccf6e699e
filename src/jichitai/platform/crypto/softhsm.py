"""SoftHSM2 tokens in a private directory, for tests and the demo (a software stand-in for an HSM).

SoftHSM reads ``SOFTHSM2_CONF`` when the PKCS#11 module is initialised, once per process; the
caller sets that variable to :attr:`SoftHsmToken.conf_path` before opening a
:class:`~jichitai.platform.crypto.pkcs11_keystore.Pkcs11Keystore`.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from jichitai.platform.crypto.keystore import KeystoreError

_MODULE_CANDIDATES = (
    "/usr/lib/softhsm/libsofthsm2.so",
    "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/local/lib/softhsm/libsofthsm2.so",
)


@dataclass(frozen=True)
class SoftHsmToken:
    module_path: str
    conf_path: Path
    label: str
    pin: str


def find_softhsm_module() -> str | None:
    """Path of ``libsofthsm2.so`` (as ``dpkg -L libsofthsm2`` lists it), or None if not installed."""
    for candidate in _MODULE_CANDIDATES:
        if Path(candidate).is_file():
            return candidate
    dpkg = shutil.which("dpkg")
    if dpkg is not None:
        # fixed argument list, no shell
        listing = subprocess.run(  # noqa: S603
            [dpkg, "-L", "libsofthsm2"], capture_output=True, text=True, check=False
        )
        for line in listing.stdout.splitlines():
            if line.endswith("/libsofthsm2.so") and Path(line).is_file():
                return line
    return None


def init_softhsm_token(directory: Path, label: str, pin: str, so_pin: str) -> SoftHsmToken:
    """Create ``directory/softhsm2.conf`` and a token directory, and initialise a token in it.

    Further tokens may be added to the same directory; a process that already initialised the
    module sees them only after ``pkcs11.lib(...).reinitialize()``.
    """
    module = find_softhsm_module()
    util = shutil.which("softhsm2-util")
    if module is None or util is None:
        raise KeystoreError("SoftHSM2 is not installed", hint="apt-get install softhsm2")
    directory = Path(directory)
    tokens = directory / "tokens"
    tokens.mkdir(parents=True, exist_ok=True, mode=0o700)
    conf = directory / "softhsm2.conf"
    if not conf.exists():
        conf.write_text(
            f"directories.tokendir = {tokens}\nobjectstore.backend = file\nlog.level = ERROR\n"
            "slots.removable = false\n"
        )
    result = subprocess.run(  # noqa: S603 - argument list, no shell
        [util, "--init-token", "--free", "--label", label, "--pin", pin, "--so-pin", so_pin],
        env={"SOFTHSM2_CONF": str(conf), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise KeystoreError(f"softhsm2-util could not initialise token {label!r}: {result.stderr.strip()}")
    return SoftHsmToken(module_path=module, conf_path=conf, label=label, pin=pin)
