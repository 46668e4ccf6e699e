"""Where the internet zone keeps each application's JWE, and how it gets it back.

Two places, by backend:

- in a row of ``internet_application_ciphertexts`` (:class:`ApplicationCiphertext`): PostgreSQL,
  and rows an embedded installation stored before it had segment files;
- in the tenant's segment files, with the JWE head and the location in a row of
  ``internet_ciphertext_segments`` (:class:`ApplicationCiphertextSegment`): the embedded (SQLite)
  backend, where a blob in a row was written twice and read back once more (why:
  :mod:`jichitai.platform.storage.segments`).

Readers do not care which: :func:`tokens` answers the compact JWE either way. Retention deletes
both kinds of row with :func:`delete` and then removes the segment files nothing points into
(:func:`collect_segments`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import delete as sql_delete
from sqlalchemy import select

from jichitai.internet.models import ApplicationCiphertext, ApplicationCiphertextSegment
from jichitai.internet.submissions.encryption import join_compact
from jichitai.platform.storage import Storage, segments
from jichitai.platform.storage.engine import UnitOfWork
from jichitai.platform.storage.segments import Location
from jichitai.platform.zones import Zone


def blob_dir(storage: Storage, tenant: str) -> Path | None:
    """The tenant's segment directory in the internet zone, or None when rows keep ciphertexts."""
    return storage.backend.blob_dir(Zone.INTERNET, tenant)


def segment_row(receipt_number: str, head: str, location: Location) -> dict[str, Any]:
    """The ``internet_ciphertext_segments`` row of a ciphertext written at ``location``."""
    return {
        "receipt_number": receipt_number,
        "head": head,
        "segment": location.segment,
        "position": location.offset,
        "length": location.length,
    }


def tokens(uow: UnitOfWork, receipt_numbers: Sequence[str]) -> dict[str, str]:
    """The compact JWE of each application that still has one (purged ones are absent).

    Read inside the caller's transaction, so retention cannot remove a segment meanwhile.
    """
    wanted = list(receipt_numbers)
    if not wanted:
        return {}
    found: dict[str, str] = {
        row.receipt_number: join_compact(row.head, row.ciphertext)
        for row in uow.session.scalars(
            select(ApplicationCiphertext).where(ApplicationCiphertext.receipt_number.in_(wanted))
        )
    }
    rest = [r for r in wanted if r not in found]
    if rest:
        placed = list(
            uow.session.scalars(
                select(ApplicationCiphertextSegment).where(
                    ApplicationCiphertextSegment.receipt_number.in_(rest)
                )
            )
        )
        if placed:
            directory = _required_dir(uow)
            for row in placed:
                data = segments.read(
                    directory, Location(row.segment, row.position, row.length), row.receipt_number
                )
                found[row.receipt_number] = join_compact(row.head, data)
    return found


def token(uow: UnitOfWork, receipt_number: str) -> str | None:
    """The compact JWE of one application, or None once purged."""
    return tokens(uow, [receipt_number]).get(receipt_number)


def delete(uow: UnitOfWork, receipt_numbers: Sequence[str]) -> None:
    """Delete the ciphertext rows of these applications (the segment files go by
    :func:`collect_segments` once nothing points into them)."""
    numbers = list(receipt_numbers)
    uow.session.execute(
        sql_delete(ApplicationCiphertext).where(ApplicationCiphertext.receipt_number.in_(numbers))
    )
    uow.session.execute(
        sql_delete(ApplicationCiphertextSegment).where(
            ApplicationCiphertextSegment.receipt_number.in_(numbers)
        )
    )


def stored(uow: UnitOfWork) -> set[str]:
    """The receipt numbers whose ciphertext is kept (in either place)."""
    return set(uow.session.scalars(select(ApplicationCiphertext.receipt_number))) | set(
        uow.session.scalars(select(ApplicationCiphertextSegment.receipt_number))
    )


def referenced_segments(uow: UnitOfWork) -> set[str]:
    """The segment files some row still points into."""
    return set(uow.session.scalars(select(ApplicationCiphertextSegment.segment).distinct()))


def collect_segments(uow: UnitOfWork, *, grace_seconds: float = segments.COLLECT_GRACE_SECONDS) -> list[str]:
    """Remove the tenant's segment files that no row points into any more (and that no writer
    can still be filling: see :data:`~jichitai.platform.storage.segments.COLLECT_GRACE_SECONDS`);
    the names removed. Run inside the transaction that read the references."""
    directory = blob_dir(uow.storage, uow.tenant.code)
    if directory is None:
        return []
    return segments.collect(directory, referenced_segments(uow), grace_seconds=grace_seconds)


def _required_dir(uow: UnitOfWork) -> Path:
    directory = blob_dir(uow.storage, uow.tenant.code)
    if directory is None:
        raise segments.SegmentError("ciphertexts are recorded in segment files, but this backend keeps none")
    return directory


__all__ = [
    "blob_dir",
    "collect_segments",
    "delete",
    "referenced_segments",
    "segment_row",
    "stored",
    "token",
    "tokens",
]
