"""Which component (package with tables and migrations) lives in which zone.

A component owns tables (its ``models`` module) and an Alembic branch (its ``migrations`` folder,
branch label = component label). A zone's tenant database gets the tables of its components only.
Platform components live in every zone.
"""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import MetaData

from jichitai.platform.storage.base import Base
from jichitai.platform.zones import ALL_ZONES, Zone


@dataclass(frozen=True)
class Component:
    package: str  # e.g. jichitai.platform.audit
    zones: tuple[Zone, ...]
    models: tuple[str, ...] = ("models",)

    def package_dir(self) -> Path | None:
        """The package's folder, or None when the package is not part of this build."""
        try:
            spec = importlib.util.find_spec(self.package)
        except ModuleNotFoundError:
            return None
        if spec is None or not spec.submodule_search_locations:
            return None
        return Path(next(iter(spec.submodule_search_locations)))

    def migrations_dir(self) -> Path | None:
        pkg = self.package_dir()
        return None if pkg is None else pkg / "migrations"

    def import_models(self) -> None:
        if self.package_dir() is None:
            return
        from jichitai.platform.plugins import optional_module

        for name in self.models:
            optional_module(f"{self.package}.{name}")  # a package may hold no tables (yet)


COMPONENTS: tuple[Component, ...] = (
    Component("jichitai.platform.crypto", ALL_ZONES),
    Component("jichitai.platform.audit", ALL_ZONES),
    Component("jichitai.platform.identity", ALL_ZONES),
    # transactional outbox and idempotent inbox of the messages the linkage server carries
    Component("jichitai.platform.messaging", ALL_ZONES),
    # per-tenant procedure settings (enabled, guidance, extra fields): read by the portal and the back office
    Component("jichitai.procedures", (Zone.INTERNET, Zone.LGWAN)),
    Component("jichitai.internet", (Zone.INTERNET,), models=("models", "portal.models")),
    Component("jichitai.lgwan", (Zone.LGWAN,)),
    Component("jichitai.linkage", (Zone.LINKAGE,)),
    Component("jichitai.mynumber.atena", (Zone.MYNUMBER,)),
    Component(
        "jichitai.mynumber.registry",
        (Zone.MYNUMBER,),
        models=("models", "issuance_models", "migration.models"),
    ),
    Component("jichitai.mynumber.intake", (Zone.MYNUMBER,)),
    Component("jichitai.mynumber.child_allowance", (Zone.MYNUMBER,)),
)


def components_of(zone: Zone) -> list[Component]:
    return [c for c in COMPONENTS if zone in c.zones]


def migration_dirs(zone: Zone) -> list[Path]:
    return [d for c in components_of(zone) if (d := c.migrations_dir()) is not None and d.is_dir()]


def metadata_for(zone: Zone) -> MetaData:
    """A MetaData holding exactly the tables of the zone's components (for drift checks)."""
    comps = components_of(zone)
    for c in comps:
        c.import_models()
    names = {c.package for c in comps}
    md = MetaData(naming_convention=Base.metadata.naming_convention)
    for table in Base.metadata.sorted_tables:
        if table.info.get("component") in names:
            table.to_metadata(md)
    return md
