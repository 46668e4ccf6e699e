"""The declarative base of every table, and what a table says about itself.

Each table knows its component (the package that owns it, e.g. ``jichitai.mynumber.registry``);
the component list (:mod:`jichitai.platform.storage.components`) says which zones hold which
components, so each zone's database gets exactly its tables.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import DateTime, MetaData
from sqlalchemy.orm import DeclarativeBase

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Base of every mapped table of jichitai."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: DateTime(timezone=True)}

    # Set to True on tables that hold personal data: their inserts, updates and deletes are
    # recorded in the audit log automatically by the unit of work (see engine.UnitOfWork).
    __audited__: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        table = getattr(cls, "__table__", None)
        if table is not None:
            table.info.setdefault("component", component_of(cls.__module__))

    def audit_person(self) -> str:
        """The person concerned by this row (e.g. 統合宛名番号), for its audit entries."""
        return ""

    def audit_object_id(self) -> str:
        ident = getattr(self, "id", None)
        return "" if ident is None else str(ident)


def component_of(module: str) -> str:
    """``jichitai.mynumber.registry.models`` → ``jichitai.mynumber.registry``."""
    parts = module.split(".")
    if parts[-1] in {"models", "tables"} or parts[-1].endswith("_models"):
        parts = parts[:-1]
    return ".".join(parts)


def utcnow() -> datetime:
    return datetime.now(UTC)
