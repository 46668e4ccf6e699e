"""The audit migration: it matches the models, is a proper Alembic branch, and undoes cleanly."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.operations import Operations
from alembic.script import ScriptDirectory
from sqlalchemy import MetaData, inspect, text

from jichitai.platform.audit.chain import GENESIS_HASH
from jichitai.platform.audit.models import AuditCheckpoint, AuditEntry, AuditHead
from jichitai.platform.storage.base import Base
from tests.platform.audit.audit_support import MIGRATION, AuditDb, load_migration


def _audit_metadata() -> MetaData:
    md = MetaData(naming_convention=Base.metadata.naming_convention)
    for model in (AuditEntry, AuditCheckpoint, AuditHead):
        Base.metadata.tables[model.__tablename__].to_metadata(md)
    return md


def test_migration_matches_the_models(db: AuditDb) -> None:
    with db.engine.connect() as conn:
        diff = compare_metadata(
            MigrationContext.configure(conn, opts={"compare_type": True}), _audit_metadata()
        )
    assert diff == []


def test_head_row_starts_at_genesis(db: AuditDb) -> None:
    with db.engine.connect() as conn:
        assert conn.execute(text("SELECT id, last_seq, last_hash FROM audit_head")).all() == [
            (1, 0, GENESIS_HASH)
        ]


def test_is_the_root_of_the_platform_audit_branch() -> None:
    script = ScriptDirectory(str(MIGRATION.parent), version_locations=[str(MIGRATION.parent)])
    rev = script.get_revision("audit_0001")
    assert rev is not None
    assert rev.down_revision is None
    assert rev.branch_labels == {"platform_audit"}
    assert rev.doc.startswith("Create the audit log")
    assert "Why:" in (rev.module.__doc__ or "")


def test_downgrade_removes_everything(db: AuditDb) -> None:
    module = load_migration()
    with db.engine.begin() as conn, Operations.context(MigrationContext.configure(conn)):
        module.downgrade()
    with db.engine.connect() as conn:
        names = set(inspect(conn).get_table_names())
        assert not names & {"audit_entries", "audit_checkpoints", "audit_head"}
        if db.kind == "sqlite":
            assert (
                conn.execute(text("SELECT count(*) FROM sqlite_master WHERE type = 'trigger'")).scalar() == 0
            )
        else:
            assert (
                conn.execute(
                    text("SELECT count(*) FROM pg_proc WHERE proname = 'audit_refuse_change'")
                ).scalar()
                == 0
            )
    with db.engine.begin() as conn, Operations.context(MigrationContext.configure(conn)):
        module.upgrade()  # and it can be applied again
