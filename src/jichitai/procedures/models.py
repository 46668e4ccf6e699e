"""Per-tenant procedure settings, stored in the tenant's database (LGWAN and internet zones).

Each row is one revision of one procedure's settings (the full state, never updated): the LGWAN
zone holds the municipality's own copy, and the internet zone a published copy the portal reads.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from jichitai.platform.storage.base import Base, utcnow


class ProcedureOverride(Base):
    __tablename__ = "procedure_overrides"
    __table_args__ = (UniqueConstraint("procedure_id", "revision", name="uq_procedure_overrides_revision"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    procedure_id: Mapped[str] = mapped_column(String(80), index=True)
    revision: Mapped[int] = mapped_column(Integer)
    settings: Mapped[dict[str, object]] = mapped_column(JSON)  # TenantOverride.to_json()
    changed_by: Mapped[str] = mapped_column(String(120), default="")
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
