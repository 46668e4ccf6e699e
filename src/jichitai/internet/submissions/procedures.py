"""Which form a submission must follow: the tenant's procedure, enabled, in the version it names.

The effective definitions are memoised: a revision of a tenant's settings never changes once
written, and the latest revision is looked up on every call, so switching a procedure off takes
effect on the next submission without rebuilding the form schema each time.
"""

from __future__ import annotations

import os
import threading
import weakref
from pathlib import Path

from jichitai.internet.submissions.errors import ProcedureNotOffered
from jichitai.platform.errors import JichitaiError, NotFound
from jichitai.platform.storage import Storage
from jichitai.platform.tenants import TenantCode
from jichitai.procedures import (
    EffectiveDefinition,
    JsonFileOverrideStore,
    TenantOverride,
    TenantProcedures,
    default_catalog,
    effective_definition,
)

_lock = threading.Lock()
_procedures: dict[Path, TenantProcedures] = {}
_effective: dict[tuple[str, str, int, str], EffectiveDefinition] = {}
_resolved: dict[tuple[Path, str, str], EffectiveDefinition] = {}
_latest: dict[tuple[Path, str, str], tuple[tuple[int, int, int] | None, TenantOverride | None]] = {}
# the settings file each (directory, tenant) reads, as a path string
_override_files: dict[tuple[Path, str], str] = {}
_dirs: weakref.WeakKeyDictionary[Storage, Path] = weakref.WeakKeyDictionary()


def overrides_dir(storage: Storage) -> Path:
    """Where the tenants' procedure settings are kept until they move into the tenant database
    (worked out once per storage: every submission asks)."""
    directory = _dirs.get(storage)
    if directory is None:
        directory = _dirs[storage] = storage.settings.home / "procedures" / "overrides"
    return directory


def tenant_procedures(storage: Storage) -> TenantProcedures:
    directory = overrides_dir(storage)
    found = _procedures.get(directory)
    if found is None:
        with _lock:
            found = _procedures.setdefault(
                directory, TenantProcedures(default_catalog(), JsonFileOverrideStore(directory))
            )
    return found


def _latest_override(procedures: TenantProcedures, tenant: str, procedure_id: str) -> TenantOverride | None:
    """The newest settings revision, read again only when the tenant's settings file changed.

    The JSON file store replaces the file by renaming a new one over it, so (inode, mtime, size)
    of one ``stat`` tells whether the last read is still what the file says; a change is seen by
    the next submission, as before, without reading and parsing the file on every one.
    """
    store = procedures.store
    if not isinstance(store, JsonFileOverrideStore):
        return store.latest(tenant, procedure_id)
    path = _override_files.get((store.directory, tenant))
    if path is None:
        path = str(store.directory / f"{TenantCode(tenant)}.overrides.json")
        _override_files[(store.directory, tenant)] = path
    try:
        st = os.stat(path)
        stamp: tuple[int, int, int] | None = (st.st_ino, st.st_mtime_ns, st.st_size)
    except FileNotFoundError:
        stamp = None
    key = (store.directory, tenant, procedure_id)
    hit = _latest.get(key)
    if hit is not None and hit[0] == stamp:  # also "still no file"
        return hit[1]
    override = store.latest(tenant, procedure_id)
    with _lock:
        _latest[key] = (stamp, override)
    return override


def current_definition(storage: Storage, tenant: str, procedure_id: str) -> EffectiveDefinition:
    """The form the tenant offers today (latest base version, latest settings revision)."""
    procedures = tenant_procedures(storage)
    try:
        base = procedures.catalog.get(procedure_id)
    except NotFound:
        raise ProcedureNotOffered(
            f"no procedure {procedure_id!r}", message_ja="指定された手続は見つかりません"
        ) from None
    override = _latest_override(procedures, tenant, procedure_id)
    key = (tenant, procedure_id, override.revision if override else 0, base.content_hash)
    effective = _effective.get(key)
    if effective is None:
        effective = effective_definition(base, tenant, override)
        with _lock:
            _effective[key] = effective
    return effective


def definition_for_submission(
    storage: Storage, tenant: str, procedure_id: str, procedure_version: str
) -> EffectiveDefinition:
    """The definition to check a submission against; refuses a disabled procedure or a foreign version.

    The version may be an earlier form of the same procedure (the resident opened the form before
    a change); the procedure itself must be offered today.
    """
    current = current_definition(storage, tenant, procedure_id)
    if not current.enabled:
        raise ProcedureNotOffered(
            f"{procedure_id} is not offered by tenant {tenant}",
            message_ja="この手続は現在オンラインで受け付けていません",
        )
    if procedure_version == current.effective_id:
        return current
    key = (overrides_dir(storage), tenant, procedure_version)
    resolved = _resolved.get(key)
    if resolved is None:
        try:
            resolved = tenant_procedures(storage).resolve(tenant, procedure_version)
        except JichitaiError:
            raise ProcedureNotOffered(
                f"{procedure_version!r} is not a form version of {procedure_id} for tenant {tenant}",
                message_ja="申請書の版が見つかりません。申請画面を開き直してください",
            ) from None
        with _lock:
            _resolved[key] = resolved
    if resolved.base.id != procedure_id:
        raise ProcedureNotOffered(
            f"{procedure_version!r} is not a version of {procedure_id}",
            message_ja="申請書の版が手続と一致しません",
        )
    return resolved


__all__ = ["current_definition", "definition_for_submission", "overrides_dir", "tenant_procedures"]
