"""Settings of an installation.

Values come from ``<home>/jichitai.toml`` (written by ``jichitai init``) and are overridden by
environment variables named ``JICHITAI_<FIELD>`` (e.g. ``JICHITAI_KEYSTORE_PASSPHRASE``). Outside
development the settings refuse insecure defaults.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from jichitai.platform.errors import ConfigurationError

SETTINGS_FILE = "jichitai.toml"
DEMO_PASSPHRASE = "demo-passphrase-not-for-production"  # noqa: S105 - refused outside development


class Settings(BaseSettings):
    """Settings of one installation (one operator, many tenants)."""

    model_config = SettingsConfigDict(env_prefix="JICHITAI_", extra="ignore")

    home: Path = Field(default=Path("var"), description="data directory: catalog, SQLite files, keystores")
    environment: Literal["development", "test", "production"] = "development"
    backend: Literal["sqlite", "postgresql"] = "sqlite"
    # PostgreSQL servers by name: an admin URL each (superuser or a role with CREATEROLE/CREATEDB).
    # Tenants are placed on one of them (placement map in the catalog); the catalog lives on "default".
    pg_servers: dict[str, str] = Field(default_factory=dict)
    db_prefix: str = Field(default="jichitai", pattern=r"^[a-z][a-z0-9_]{0,20}$")
    keystore: Literal["file", "pkcs11"] = "file"
    keystore_passphrase: SecretStr | None = None
    pkcs11_module: str | None = None
    pkcs11_pin: SecretStr | None = None
    pkcs11_token_prefix: str = "jichitai-"  # noqa: S105 - a token label prefix, e.g. jichitai-lgwan
    # scrypt cost of a new file keystore; tests lower it, production refuses less than 2**15
    keystore_scrypt_n: int = Field(default=2**15, ge=2**10)
    audit_checkpoint_every: int = Field(default=1000, ge=1)
    # the internet zone deletes a submission's ciphertext this many days after the LGWAN zone
    # acknowledged it (routing metadata and status events stay for the resident)
    submission_retention_days: int = Field(default=30, ge=0)
    # JPKI trust: anchors (CA certificates, PEM) and CRLs. Empty means the test CA under
    # <home>/pki (``jichitai pki init-ca``); production lists the J-LIS CA certificates here.
    trust_anchors: list[Path] = Field(default_factory=list)
    crls: list[Path] = Field(default_factory=list)
    # zone servers (loopback by default); each zone lists the peers it may reach
    bind_host: str = "127.0.0.1"
    ports: dict[str, int] = Field(
        default_factory=lambda: {
            "internet": 8000,
            "lgwan": 8100,
            "linkage": 8200,
            "mynumber": 8300,
            "card_reader": 8765,
        }
    )

    @model_validator(mode="after")
    def _refuse_insecure(self) -> Settings:
        if self.environment == "production":
            pw = self.keystore_passphrase.get_secret_value() if self.keystore_passphrase else ""
            if self.keystore == "file" and (pw == DEMO_PASSPHRASE or len(pw) < 16):
                raise ValueError("production needs a keystore passphrase of at least 16 characters")
            if self.keystore_scrypt_n < 2**15:
                raise ValueError("production needs keystore_scrypt_n of at least 2**15")
        if self.backend == "postgresql" and "default" not in self.pg_servers:
            raise ValueError("backend 'postgresql' needs pg_servers.default (an admin URL)")
        return self

    @property
    def pki_dir(self) -> Path:
        return self.home / "pki"

    def trust_anchor_paths(self) -> list[Path]:
        return self.trust_anchors or [self.pki_dir / "ca-cert.pem"]

    def crl_paths(self) -> list[Path]:
        return self.crls or [self.pki_dir / "crl.pem"]

    def passphrase(self) -> str:
        if self.keystore_passphrase is None:
            raise ConfigurationError(
                "no keystore passphrase given",
                hint="set JICHITAI_KEYSTORE_PASSPHRASE or answer the prompt",
            )
        return self.keystore_passphrase.get_secret_value()


def load_settings(home: Path | None = None, **overrides: Any) -> Settings:
    """Settings from ``<home>/jichitai.toml`` with the environment taking precedence."""
    home = Path(home or os.environ.get("JICHITAI_HOME", "var"))
    values: dict[str, Any] = {}
    path = home / SETTINGS_FILE
    if path.exists():
        try:
            values = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigurationError(f"{path} is not valid TOML: {exc}") from exc
    # environment variables win over the file
    for key in list(values):
        if f"JICHITAI_{key.upper()}" in os.environ:
            values.pop(key)
    values.update(overrides)
    values["home"] = home.resolve()  # processes started elsewhere (zones, workers) see the same place
    try:
        return Settings(**values)
    except ValueError as exc:
        raise ConfigurationError(f"invalid settings: {exc}") from exc


def write_settings(settings: Settings) -> Path:
    """Write the non-secret settings to ``<home>/jichitai.toml``."""
    settings.home.mkdir(parents=True, exist_ok=True)
    lines = [
        "# jichitai settings; secrets come from the environment (JICHITAI_KEYSTORE_PASSPHRASE ...)",
        f'environment = "{settings.environment}"',
        f'backend = "{settings.backend}"',
        f'db_prefix = "{settings.db_prefix}"',
        f'keystore = "{settings.keystore}"',
        f"audit_checkpoint_every = {settings.audit_checkpoint_every}",
        f'bind_host = "{settings.bind_host}"',
    ]
    if settings.pkcs11_module:
        lines.append(f'pkcs11_module = "{settings.pkcs11_module}"')
    lines.append(f'pkcs11_token_prefix = "{settings.pkcs11_token_prefix}"')
    lines.append("")
    lines.append("[ports]")
    lines += [f"{k} = {v}" for k, v in settings.ports.items()]
    if settings.pg_servers:
        lines.append("")
        lines.append("[pg_servers]")
        lines += [f'{k} = "{v}"' for k, v in settings.pg_servers.items()]
    path = settings.home / SETTINGS_FILE
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
