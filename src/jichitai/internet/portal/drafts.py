"""Saved drafts (一時保存): what a resident typed, and the files they attached, before submitting.

One draft per resident and procedure. Everything in it is field-encrypted with the tenant's key
(the row id bound in as associated data); the resident is found through a keyed blind index of
the resident key. A draft is deleted once its application is submitted.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from jichitai.internet.portal.models import PortalDraft, PortalDraftFile, new_id
from jichitai.internet.portal.purposes import PORTAL_DRAFT
from jichitai.internet.submissions import AttachmentUpload
from jichitai.platform.context import Actor, ActorKind, Purpose, TenantContext
from jichitai.platform.errors import NotFound
from jichitai.platform.storage import Storage, UnitOfWork
from jichitai.platform.tenants import TenantCode
from jichitai.platform.zones import Zone

DRAFTS = "portal_drafts"
FILES = "portal_draft_files"
RESIDENT_INDEX_COLUMN = "portal_drafts.resident_key"
MAX_DRAFT_BYTES = 256 * 1024


@dataclass(frozen=True)
class DraftFile:
    file_id: str
    kind: str
    filename: str
    content_type: str
    size: int


@dataclass(frozen=True)
class Draft:
    draft_id: str
    procedure_id: str
    procedure_version: str
    data: dict[str, Any]
    validated: bool
    updated_at: datetime
    files: tuple[DraftFile, ...]


def resident_ctx(tenant: str, resident_key: str, purpose: Purpose, reason: str = "") -> TenantContext:
    """The resident acting on their own data; the actor id is a hash, never the key itself."""
    digest = hashlib.sha256(resident_key.encode()).hexdigest()[:24]
    actor = Actor(id=f"resident:{digest}", kind=ActorKind.RESIDENT, role="applicant")
    return TenantContext(TenantCode(tenant), actor, purpose, reason)


def _row(uow: UnitOfWork, resident_key: str, procedure_id: str) -> PortalDraft | None:
    index = uow.keyring.blind_index(RESIDENT_INDEX_COLUMN, resident_key)
    return uow.session.scalars(
        select(PortalDraft).where(
            PortalDraft.resident_index == index, PortalDraft.procedure_id == procedure_id
        )
    ).one_or_none()


def _files(uow: UnitOfWork, draft_id: str) -> list[PortalDraftFile]:
    return list(
        uow.session.scalars(
            select(PortalDraftFile)
            .where(PortalDraftFile.draft_id == draft_id)
            .order_by(PortalDraftFile.created_at, PortalDraftFile.id)
        ).all()
    )


def _as_draft(uow: UnitOfWork, row: PortalDraft) -> Draft:
    data = json.loads(uow.keyring.field_decrypt(DRAFTS, "data", row.id, row.data))
    files = tuple(
        DraftFile(
            f.id,
            f.kind,
            uow.keyring.field_decrypt(FILES, "filename", f.id, f.filename),
            f.content_type,
            f.size,
        )
        for f in _files(uow, row.id)
    )
    updated = row.updated_at if row.updated_at.tzinfo else row.updated_at.replace(tzinfo=UTC)
    return Draft(row.id, row.procedure_id, row.procedure_version, data, row.validated, updated, files)


def load_draft(storage: Storage, tenant: str, resident_key: str, procedure_id: str) -> Draft | None:
    with storage.unit_of_work(resident_ctx(tenant, resident_key, PORTAL_DRAFT), Zone.INTERNET) as uow:
        row = _row(uow, resident_key, procedure_id)
        return None if row is None else _as_draft(uow, row)


def save_draft(
    storage: Storage,
    tenant: str,
    resident_key: str,
    procedure_id: str,
    procedure_version: str,
    data: dict[str, Any],
    *,
    validated: bool = False,
    now: datetime | None = None,
) -> Draft:
    """Create or replace the resident's draft for this procedure (files are kept)."""
    now = now or datetime.now(UTC)
    text = json.dumps(data, ensure_ascii=False, sort_keys=True)
    if len(text.encode()) > MAX_DRAFT_BYTES:
        raise ValueError("draft too large")
    with storage.unit_of_work(resident_ctx(tenant, resident_key, PORTAL_DRAFT), Zone.INTERNET) as uow:
        row = _row(uow, resident_key, procedure_id)
        if row is None:
            draft_id = new_id()
            # complete before it joins the session: the keyring's own queries autoflush
            row = PortalDraft(
                id=draft_id,
                resident_index=uow.keyring.blind_index(RESIDENT_INDEX_COLUMN, resident_key),
                procedure_id=procedure_id,
                procedure_version=procedure_version,
                data=uow.keyring.field_encrypt(DRAFTS, "data", draft_id, text),
                validated=validated,
                created_at=now,
                updated_at=now,
            )
            uow.session.add(row)
        else:
            row.procedure_version = procedure_version
            row.data = uow.keyring.field_encrypt(DRAFTS, "data", row.id, text)
            row.validated = validated
            row.updated_at = now
        uow.session.flush()
        return _as_draft(uow, row)


def add_files(
    storage: Storage,
    tenant: str,
    resident_key: str,
    procedure_id: str,
    files: list[AttachmentUpload],
    *,
    now: datetime | None = None,
) -> None:
    """Attach files to the draft (which must exist); the procedure's limits are checked at review."""
    now = now or datetime.now(UTC)
    with storage.unit_of_work(resident_ctx(tenant, resident_key, PORTAL_DRAFT), Zone.INTERNET) as uow:
        row = _row(uow, resident_key, procedure_id)
        if row is None:
            raise NotFound("no draft", message_ja="一時保存された申請書がありません")
        for f in files:
            file_id = new_id()
            name = uow.keyring.field_encrypt(FILES, "filename", file_id, f.filename)
            content = uow.keyring.field_encrypt(
                FILES, "content", file_id, base64.b64encode(f.data).decode("ascii")
            )
            uow.session.add(
                PortalDraftFile(
                    id=file_id,
                    draft_id=row.id,
                    kind=f.kind,
                    content_type=f.content_type,
                    size=len(f.data),
                    filename=name,
                    content=content,
                    created_at=now,
                )
            )
        row.validated = False
        row.updated_at = now


def remove_file(storage: Storage, tenant: str, resident_key: str, procedure_id: str, file_id: str) -> None:
    with storage.unit_of_work(resident_ctx(tenant, resident_key, PORTAL_DRAFT), Zone.INTERNET) as uow:
        row = _row(uow, resident_key, procedure_id)
        if row is None:
            return
        for f in _files(uow, row.id):
            if f.id == file_id:
                uow.session.delete(f)
                row.validated = False


def draft_attachments(
    storage: Storage, tenant: str, resident_key: str, procedure_id: str
) -> list[AttachmentUpload]:
    """The draft's files with their content, for the submission."""
    with storage.unit_of_work(resident_ctx(tenant, resident_key, PORTAL_DRAFT), Zone.INTERNET) as uow:
        row = _row(uow, resident_key, procedure_id)
        if row is None:
            return []
        return [
            AttachmentUpload(
                f.kind,
                uow.keyring.field_decrypt(FILES, "filename", f.id, f.filename),
                f.content_type,
                base64.b64decode(uow.keyring.field_decrypt(FILES, "content", f.id, f.content)),
            )
            for f in _files(uow, row.id)
        ]


def delete_draft(storage: Storage, tenant: str, resident_key: str, procedure_id: str) -> None:
    with storage.unit_of_work(resident_ctx(tenant, resident_key, PORTAL_DRAFT), Zone.INTERNET) as uow:
        row = _row(uow, resident_key, procedure_id)
        if row is None:
            return
        for f in _files(uow, row.id):
            uow.session.delete(f)
        uow.session.flush()
        uow.session.delete(row)


def list_drafts(storage: Storage, tenant: str, resident_key: str) -> list[tuple[str, datetime]]:
    """(procedure id, last saved) of the resident's drafts, newest first."""
    with storage.unit_of_work(resident_ctx(tenant, resident_key, PORTAL_DRAFT), Zone.INTERNET) as uow:
        index = uow.keyring.blind_index(RESIDENT_INDEX_COLUMN, resident_key)
        rows = uow.session.execute(
            select(PortalDraft.procedure_id, PortalDraft.updated_at)
            .where(PortalDraft.resident_index == index)
            .order_by(PortalDraft.updated_at.desc())
        ).all()
        return [
            (r.procedure_id, r.updated_at if r.updated_at.tzinfo else r.updated_at.replace(tzinfo=UTC))
            for r in rows
        ]


__all__ = [
    "Draft",
    "DraftFile",
    "add_files",
    "delete_draft",
    "draft_attachments",
    "list_drafts",
    "load_draft",
    "remove_file",
    "resident_ctx",
    "save_draft",
]
