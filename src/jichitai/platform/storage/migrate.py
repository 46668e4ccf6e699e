"""Alembic migrations applied per tenant (and to the catalog), driven from code.

Every component keeps its revisions in its own ``migrations`` folder as an Alembic branch. A
tenant's database in a zone is upgraded to the heads of the zone's components; on PostgreSQL the
version table lives in the tenant's schema, so each tenant migrates on its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from alembic.config import Config
from alembic.runtime.environment import EnvironmentContext
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection

from jichitai.platform.errors import JichitaiError

TEMPLATE_DIR = Path(__file__).parent / "alembic"
_scripts: dict[tuple[str, ...], ScriptDirectory] = {}


class DatabaseNotMigrated(JichitaiError):
    """The tenant's database is behind the code."""


def script_directory(locations: Sequence[Path]) -> ScriptDirectory:
    key = tuple(str(p) for p in locations)
    script = _scripts.get(key)
    if script is None:
        script = ScriptDirectory(str(TEMPLATE_DIR), version_locations=list(key))
        _scripts[key] = script
    return script


def expected_heads(locations: Sequence[Path]) -> set[str]:
    return set(script_directory(locations).get_heads())


def current_heads(conn: Connection, schema: str | None) -> set[str]:
    opts: dict[str, Any] = {"version_table_schema": schema} if schema else {}
    ctx = MigrationContext.configure(conn, opts=opts)
    return set(ctx.get_current_heads())


def upgrade(conn: Connection, locations: Sequence[Path], schema: str | None) -> None:
    """Upgrade the database behind ``conn`` to the heads of ``locations`` (inside conn's transaction)."""
    script = script_directory(locations)

    def _fn(rev: Any, _context: Any) -> Any:
        return script._upgrade_revs("heads", rev)

    cfg = Config()
    with EnvironmentContext(cfg, script, fn=_fn, destination_rev="heads") as env:
        env.configure(
            connection=conn,
            version_table_schema=schema,
            render_as_batch=conn.dialect.name == "sqlite",
            transactional_ddl=True,
        )
        with env.begin_transaction():
            env.run_migrations()


def check_migrated(conn: Connection, locations: Sequence[Path], schema: str | None, what: str) -> None:
    have = current_heads(conn, schema)
    want = expected_heads(locations)
    if have != want:
        raise DatabaseNotMigrated(
            f"the database of {what} is not migrated "
            f"(at {sorted(have) or 'nothing'}, code needs {sorted(want)})",
            hint="run `jichitai db upgrade`",
        )
