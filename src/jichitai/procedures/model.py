"""The procedure definition (手続定義) as the rest of the system sees it.

A definition is data loaded from one YAML file; :class:`ProcedureDefinition` gives typed access to
its parts and keeps the raw mapping (``raw``) for the form schema and for hashing. Treat ``raw`` and
``form`` as read-only: the content hash was computed over them at load.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Category(StrEnum):
    """The four groups of the 31 priority procedures."""

    CHILDCARE = "子育て"
    CARE = "介護"
    DISASTER = "被災者支援"
    VEHICLE = "自動車保有"


class OfferedBy(StrEnum):
    MUNICIPALITY = "municipality"  # 市区町村
    PREFECTURE = "prefecture"  # 都道府県


class CertificateKind(StrEnum):
    """Which JPKI certificate the resident uses to submit."""

    SIGNING = "signing"  # 署名用電子証明書: the resident signs the canonical form bytes
    AUTHENTICATION = "authentication"  # 利用者証明用電子証明書: login is enough

    @property
    def label_ja(self) -> str:
        return "署名用電子証明書" if self is CertificateKind.SIGNING else "利用者証明用電子証明書"


class HandledBy(StrEnum):
    """Where a submitted application goes today."""

    CHILD_ALLOWANCE = "child_allowance"  # the 児童手当 core system of this project
    GENERIC = "generic"  # a case inbox for staff, until the core system exists


LIFE_EVENTS: tuple[str, ...] = (
    "妊娠", "出産", "子育て", "入学", "ひとり親", "結婚・離婚",
    "引越し", "就職・転職", "介護", "死亡・相続", "災害", "自動車",
)  # fmt: skip


@dataclass(frozen=True)
class LegalBasis:
    law: str  # 児童手当法
    article: str  # 第7条 (empty when the basis is a whole ordinance)
    citation: str  # 児童手当法第7条
    note: str | None = None


@dataclass(frozen=True)
class AttachmentSpec:
    """One kind of file the resident may or must attach (添付書類)."""

    kind: str
    name: str  # Japanese name shown to the resident
    description: str
    min_count: int
    max_count: int
    max_size_bytes: int
    content_types: tuple[str, ...]
    required_when: Mapping[str, Any] | None = None  # JSON Schema over the form data


@dataclass(frozen=True)
class Source:
    """Where the fields of a form came from, and whether they were checked against it."""

    title: str
    publisher: str
    kind: str
    verified: bool
    note: str


@dataclass(frozen=True)
class ProcedureDefinition:
    """One procedure in one version."""

    id: str
    version: int
    number: int
    name: str
    short_name: str
    category: Category
    life_events: tuple[str, ...]
    offered_by: OfferedBy
    legal_basis: tuple[LegalBasis, ...]
    certificate: CertificateKind
    certificate_reason: str
    receiving_system: str
    handled_by: HandledBy
    description: str
    attachments: tuple[AttachmentSpec, ...]
    sources: tuple[Source, ...]
    content_hash: str  # sha256 hex of the canonical bytes of ``raw``
    raw: Mapping[str, Any] = field(repr=False, compare=False)

    @property
    def ref(self) -> str:
        """``child_allowance_claim@1``: what an application records."""
        return f"{self.id}@{self.version}"

    @property
    def form(self) -> Mapping[str, Any]:
        """The form as a JSON Schema (draft 2020-12)."""
        form: Mapping[str, Any] = self.raw["form"]
        return form

    @property
    def requires_signature(self) -> bool:
        return self.certificate is CertificateKind.SIGNING

    def attachment(self, kind: str) -> AttachmentSpec | None:
        return next((a for a in self.attachments if a.kind == kind), None)

    @classmethod
    def from_raw(cls, raw: Mapping[str, Any], content_hash: str) -> ProcedureDefinition:
        """Build from a mapping already checked against the meta-schema."""
        return cls(
            id=raw["id"],
            version=raw["version"],
            number=raw["number"],
            name=raw["name"],
            short_name=raw["short_name"],
            category=Category(raw["category"]),
            life_events=tuple(raw["life_events"]),
            offered_by=OfferedBy(raw["offered_by"]),
            legal_basis=tuple(
                LegalBasis(lb["law"], lb["article"], lb["citation"], lb.get("note"))
                for lb in raw["legal_basis"]
            ),
            certificate=CertificateKind(raw["certificate"]),
            certificate_reason=raw["certificate_reason"],
            receiving_system=raw["receiving_system"],
            handled_by=HandledBy(raw["handled_by"]),
            description=raw["description"],
            attachments=tuple(
                AttachmentSpec(
                    kind=a["kind"],
                    name=a["name"],
                    description=a["description"],
                    min_count=a["min_count"],
                    max_count=a["max_count"],
                    max_size_bytes=a["max_size_bytes"],
                    content_types=tuple(a["content_types"]),
                    required_when=a.get("required_when"),
                )
                for a in raw["attachments"]
            ),
            sources=tuple(
                Source(s["title"], s["publisher"], s["kind"], s["verified"], s["note"])
                for s in raw["sources"]
            ),
            content_hash=content_hash,
            raw=raw,
        )
