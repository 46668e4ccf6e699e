"""What a use case says when it records an audit entry (before it is chained and stored)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class PendingEntry:
    """One audit entry as recorded by a use case.

    Actor, role, purpose and legal basis come from the tenant context; the use case says what it
    did (``action``), to what (``object_type``/``object_id``) and whose data it was (``person``).
    """

    action: str  # e.g. "read", "create", "update", "issue_certificate", "login_failed"
    object_type: str  # e.g. "registry.person"
    object_id: str = ""
    person: str = ""  # the person concerned (e.g. 統合宛名番号), empty when none
    detail: dict[str, Any] = field(default_factory=dict)
    # Who acted, when it was not the unit of work's own actor: a transaction that stores the work
    # of several callers at once (group commit) still names each caller in its own entry.
    party: AuditParty | None = None


@dataclass(frozen=True)
class AuditParty:
    """The actor and purpose fields of an entry, as :class:`~jichitai.platform.context.TenantContext`
    would give them."""

    actor: str
    actor_kind: str
    role: str
    purpose: str
    legal_basis: str
