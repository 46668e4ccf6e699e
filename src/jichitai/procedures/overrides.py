"""Per-tenant customisation of procedures without code (団体ごとの設定).

A tenant (市区町村 or 都道府県) can switch a procedure on or off, add guidance text shown above the
form, and add its own fields. Extra fields live under the ``x_tenant`` property of the form and are
checked like any other field (same formats, same messages).

Every change saves a new *revision* holding the tenant's full settings for that procedure, so the
form an application was made with can always be rebuilt: its effective id names the base version
and the revision, ``child_allowance_claim@1+131016.3`` (base version 1, tenant 131016, revision 3).
A procedure the tenant has not customised has the plain id ``child_allowance_claim@1``.

The merge is pure (:func:`effective_definition`); storage sits behind :class:`OverrideStore`. The
JSON-file store here serves until overrides move into the tenant database.
"""

from __future__ import annotations

import contextlib
import copy
import fcntl
import json
import os
import re
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Final, Protocol

from jichitai.platform.errors import NotFound, PermissionDenied, ValidationError
from jichitai.platform.tenants import TenantCode
from jichitai.procedures.catalog import Catalog, DefinitionError, build_definition, parse_ref
from jichitai.procedures.model import OfferedBy, ProcedureDefinition

TENANT_SECTION: Final = "x_tenant"
_FIELD_NAME: Final = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
_EFFECTIVE_ID: Final = re.compile(
    r"^(?P<id>[a-z][a-z0-9_]*)@(?P<version>[1-9][0-9]*)(?:\+(?P<tenant>[0-9]{6})\.(?P<revision>[1-9][0-9]*))?$"
)
MAX_GUIDANCE_CHARS: Final = 2000
MAX_EXTRA_FIELDS: Final = 30


@dataclass(frozen=True)
class TenantOverride:
    """One revision of one tenant's settings for one procedure (the full state, not a change)."""

    tenant_code: str
    procedure_id: str
    revision: int
    enabled: bool | None = None  # None: the default for the kind of body (see default_enabled)
    guidance_ja: str | None = None
    extra_fields: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    extra_required: tuple[str, ...] = ()
    extra_title: str | None = None  # heading of the tenant's section; a default is used when None

    @property
    def changes_form(self) -> bool:
        """Whether this revision changes what the resident sees (and so the effective id)."""
        return bool(self.extra_fields) or bool(self.guidance_ja)

    def to_json(self) -> dict[str, Any]:
        return {
            "tenant_code": self.tenant_code,
            "procedure_id": self.procedure_id,
            "revision": self.revision,
            "enabled": self.enabled,
            "guidance_ja": self.guidance_ja,
            "extra_fields": copy.deepcopy(dict(self.extra_fields)),
            "extra_required": list(self.extra_required),
            "extra_title": self.extra_title,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> TenantOverride:
        return cls(
            tenant_code=str(data["tenant_code"]),
            procedure_id=str(data["procedure_id"]),
            revision=int(data["revision"]),
            enabled=data.get("enabled"),
            guidance_ja=data.get("guidance_ja"),
            extra_fields=dict(data.get("extra_fields") or {}),
            extra_required=tuple(data.get("extra_required") or ()),
            extra_title=data.get("extra_title"),
        )


@dataclass(frozen=True)
class EffectiveDefinition:
    """A procedure as one tenant offers it: base definition plus that tenant's override, frozen."""

    effective_id: str
    tenant_code: str
    enabled: bool
    guidance_ja: str | None
    base: ProcedureDefinition
    definition: ProcedureDefinition  # the merged definition; validate applications against this
    override_revision: int | None

    @property
    def content_hash(self) -> str:
        return self.definition.content_hash

    def require_enabled(self) -> None:
        if not self.enabled:
            raise PermissionDenied(
                f"{self.base.id} is not offered by tenant {self.tenant_code}",
                message_ja="この手続は現在オンラインで受け付けていません",
            )


@dataclass(frozen=True)
class EffectiveRef:
    procedure_id: str
    version: int
    tenant_code: str | None
    revision: int | None


def parse_effective_id(text: str) -> EffectiveRef:
    """``child_allowance_claim@1+131016.3`` → its parts (tenant and revision absent for a plain id)."""
    m = _EFFECTIVE_ID.match(text)
    if not m:
        raise ValidationError(
            f"not an effective procedure id: {text!r}", hint="write <id>@<version>[+<tenant>.<rev>]"
        )
    return EffectiveRef(
        m["id"], int(m["version"]), m["tenant"], int(m["revision"]) if m["revision"] else None
    )


def default_enabled(definition: ProcedureDefinition, tenant_code: str) -> bool:
    """Municipal procedures are on for municipalities, prefectural ones for prefectures."""
    is_prefecture = TenantCode(tenant_code).is_prefecture
    return (definition.offered_by is OfferedBy.PREFECTURE) == is_prefecture


def _check_override_shape(override: TenantOverride) -> None:
    if override.guidance_ja is not None and len(override.guidance_ja) > MAX_GUIDANCE_CHARS:
        raise ValidationError(
            f"guidance text is longer than {MAX_GUIDANCE_CHARS} characters",
            message_ja=f"案内文は{MAX_GUIDANCE_CHARS}文字以内にしてください",
        )
    if len(override.extra_fields) > MAX_EXTRA_FIELDS:
        raise ValidationError(f"at most {MAX_EXTRA_FIELDS} extra fields", message_ja="追加項目が多すぎます")
    for name in override.extra_fields:
        if not _FIELD_NAME.match(name):
            raise ValidationError(
                f"extra field name {name!r}: use a-z, 0-9 and _, starting with a letter",
            )
    for name in override.extra_required:
        if name not in override.extra_fields:
            raise ValidationError(f"required extra field {name!r} is not among the extra fields")


def effective_definition(
    base: ProcedureDefinition, tenant_code: str, override: TenantOverride | None = None
) -> EffectiveDefinition:
    """Merge a tenant's override into a base definition. Raises ValidationError when it does not fit."""
    code = str(TenantCode(tenant_code))
    if override is None:
        return EffectiveDefinition(base.ref, code, default_enabled(base, code), None, base, base, None)
    if override.tenant_code != code or override.procedure_id != base.id:
        raise ValidationError(
            f"override of {override.tenant_code}/{override.procedure_id} applied to {code}/{base.id}"
        )
    _check_override_shape(override)
    enabled = default_enabled(base, code) if override.enabled is None else override.enabled
    if not override.changes_form:
        return EffectiveDefinition(base.ref, code, enabled, None, base, base, override.revision)
    raw = copy.deepcopy(dict(base.raw))
    raw["tenant"] = {"code": code, "revision": override.revision, "guidance_ja": override.guidance_ja}
    if override.extra_fields:
        form = raw["form"]
        if TENANT_SECTION in form["properties"]:
            raise ValidationError(f"{base.ref} already has a {TENANT_SECTION} section")
        default_title = (
            "都道府県からの追加項目" if TenantCode(code).is_prefecture else "市区町村からの追加項目"
        )
        form["properties"][TENANT_SECTION] = {
            "type": "object",
            "title": override.extra_title or default_title,
            "description": "この団体が独自に確認する項目です。",
            "properties": copy.deepcopy(dict(override.extra_fields)),
            "required": list(override.extra_required),
            "additionalProperties": False,
        }
        if override.extra_required:
            form["required"] = [*form["required"], TENANT_SECTION]
    try:
        merged = build_definition(raw, where=f"{base.ref}+{code}.{override.revision}")
    except DefinitionError as exc:
        raise ValidationError(
            f"the tenant's extra fields do not fit the form: {exc.message}",
            message_ja="追加項目の定義に誤りがあります",
            hint="each extra field needs a Japanese title, a description, a known format and an example",
        ) from exc
    effective_id = f"{base.ref}+{code}.{override.revision}"
    return EffectiveDefinition(
        effective_id, code, enabled, override.guidance_ja, base, merged, override.revision
    )


class OverrideStore(Protocol):
    """Where tenants' override revisions are kept (later: the tenant database)."""

    def latest(self, tenant_code: str, procedure_id: str) -> TenantOverride | None:
        """The newest revision, or None when the tenant never changed this procedure."""

    def get(self, tenant_code: str, procedure_id: str, revision: int) -> TenantOverride:
        """One revision; raises NotFound."""

    def append(self, override: TenantOverride) -> TenantOverride:
        """Store the next revision; its ``revision`` must be the latest + 1 (else Conflict-like error)."""

    def list_latest(self, tenant_code: str) -> list[TenantOverride]:
        """The newest revision of every procedure the tenant changed."""


class JsonFileOverrideStore:
    """Overrides in one JSON file per tenant: ``<directory>/<tenant>.overrides.json``.

    Writes go to a temporary file renamed over the old one, under an exclusive lock, so a reader
    never sees half a file and two writers never lose each other's revision.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)

    def _path(self, tenant_code: str) -> Path:
        return self.directory / f"{TenantCode(tenant_code)}.overrides.json"

    def _read(self, tenant_code: str) -> dict[str, list[dict[str, Any]]]:
        path = self._path(tenant_code)
        if not path.exists():
            return {}
        data = json.loads(path.read_text(encoding="utf-8"))
        procedures = data.get("procedures", {})
        if not isinstance(procedures, dict):
            raise ValidationError(f"{path}: malformed override file")
        return procedures

    @contextlib.contextmanager
    def _locked(self, tenant_code: str) -> Iterator[None]:
        lock_path = self._path(tenant_code).with_suffix(".lock")
        with lock_path.open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def latest(self, tenant_code: str, procedure_id: str) -> TenantOverride | None:
        revisions = self._read(tenant_code).get(procedure_id) or []
        return TenantOverride.from_json(revisions[-1]) if revisions else None

    def get(self, tenant_code: str, procedure_id: str, revision: int) -> TenantOverride:
        for item in self._read(tenant_code).get(procedure_id) or []:
            if item.get("revision") == revision:
                return TenantOverride.from_json(item)
        raise NotFound(f"no revision {revision} of {procedure_id} for tenant {tenant_code}")

    def append(self, override: TenantOverride) -> TenantOverride:
        with self._locked(override.tenant_code):
            data = self._read(override.tenant_code)
            revisions = data.setdefault(override.procedure_id, [])
            expected = (revisions[-1]["revision"] if revisions else 0) + 1
            if override.revision != expected:
                raise ValidationError(
                    f"revision {override.revision} of {override.procedure_id} is stale (next is {expected})",
                    hint="reload the settings and apply the change again",
                )
            revisions.append(override.to_json())
            path = self._path(override.tenant_code)
            fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=path.name, suffix=".tmp")
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump({"procedures": data}, handle, ensure_ascii=False, indent=2, sort_keys=True)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        return override

    def list_latest(self, tenant_code: str) -> list[TenantOverride]:
        return [TenantOverride.from_json(revs[-1]) for revs in self._read(tenant_code).values() if revs]


class TenantProcedures:
    """The procedures as a tenant offers them; backs ``jichitai procedures enable|disable|show``."""

    def __init__(self, catalog: Catalog, store: OverrideStore) -> None:
        self.catalog = catalog
        self.store = store

    def effective(self, tenant_code: str, procedure_id: str) -> EffectiveDefinition:
        """The current form: latest base version and latest override."""
        base = self.catalog.get(procedure_id)
        return effective_definition(base, tenant_code, self.store.latest(tenant_code, procedure_id))

    def resolve(self, tenant_code: str, effective_id: str) -> EffectiveDefinition:
        """Exactly the definition an application was made with, from the id it recorded."""
        ref = parse_effective_id(effective_id)
        if ref.tenant_code is not None and ref.tenant_code != str(TenantCode(tenant_code)):
            raise PermissionDenied(f"{effective_id} belongs to another tenant")
        base = self.catalog.get(ref.procedure_id, ref.version)
        override = (
            None if ref.revision is None else self.store.get(tenant_code, ref.procedure_id, ref.revision)
        )
        effective = effective_definition(base, tenant_code, override)
        if effective.effective_id != effective_id and ref.revision is not None:
            raise NotFound(f"{effective_id} does not name a form version")
        return effective

    def offered(self, tenant_code: str, *, include_disabled: bool = False) -> list[EffectiveDefinition]:
        found = [self.effective(tenant_code, d.id) for d in self.catalog.latest()]
        return [e for e in found if include_disabled or e.enabled]

    def _change(self, tenant_code: str, procedure_id: str, **changes: Any) -> EffectiveDefinition:
        base = self.catalog.get(procedure_id)
        code = str(TenantCode(tenant_code))
        current = self.store.latest(code, procedure_id) or TenantOverride(code, procedure_id, 0)
        candidate = replace(current, revision=current.revision + 1, **changes)
        effective = effective_definition(base, code, candidate)  # refuses what does not fit before storing
        self.store.append(candidate)
        return effective

    def enable(self, tenant_code: str, procedure_id: str) -> EffectiveDefinition:
        base = self.catalog.get(procedure_id)
        if (base.offered_by is OfferedBy.PREFECTURE) != TenantCode(tenant_code).is_prefecture:
            raise ValidationError(
                f"{procedure_id} is offered by a {base.offered_by.value}, not by tenant {tenant_code}",
                message_ja="この手続は別の種類の団体（都道府県又は市区町村）が提供する手続です",
            )
        return self._change(tenant_code, procedure_id, enabled=True)

    def disable(self, tenant_code: str, procedure_id: str) -> EffectiveDefinition:
        return self._change(tenant_code, procedure_id, enabled=False)

    def set_guidance(
        self, tenant_code: str, procedure_id: str, guidance_ja: str | None
    ) -> EffectiveDefinition:
        text = guidance_ja.strip() if guidance_ja else None
        return self._change(tenant_code, procedure_id, guidance_ja=text or None)

    def set_extra_fields(
        self,
        tenant_code: str,
        procedure_id: str,
        fields: Mapping[str, Mapping[str, Any]],
        required: Sequence[str] = (),
        *,
        title: str | None = None,
    ) -> EffectiveDefinition:
        return self._change(
            tenant_code,
            procedure_id,
            extra_fields=copy.deepcopy(dict(fields)),
            extra_required=tuple(required),
            extra_title=title,
        )

    def show(self, tenant_code: str, procedure_id: str) -> dict[str, Any]:
        """A summary for the CLI and the staff screen."""
        e = self.effective(tenant_code, procedure_id)
        return {
            "effective_id": e.effective_id,
            "number": e.base.number,
            "name": e.base.name,
            "enabled": e.enabled,
            "certificate": e.base.certificate.label_ja,
            "handled_by": e.base.handled_by.value,
            "guidance_ja": e.guidance_ja,
            "extra_fields": list(
                e.definition.form["properties"].get(TENANT_SECTION, {}).get("properties", {})
            ),
            "override_revision": e.override_revision,
            "content_hash": e.content_hash,
        }


__all__ = [
    "TENANT_SECTION",
    "EffectiveDefinition",
    "EffectiveRef",
    "JsonFileOverrideStore",
    "OverrideStore",
    "TenantOverride",
    "TenantProcedures",
    "default_enabled",
    "effective_definition",
    "parse_effective_id",
    "parse_ref",
]
