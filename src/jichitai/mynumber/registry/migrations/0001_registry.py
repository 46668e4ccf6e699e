"""Create the resident registry: current persons, bitemporal versions, households, changes, events.

Why: the registry is the record every core system leans on. Facts are kept as bitemporal versions
that are only ever inserted and superseded (nothing overwritten or deleted, 除票 kept), next to a
current-state table indexed for the searches staff run at city scale (names.py keys with a byte-wise
collation on PostgreSQL for prefix scans, kana, birth date, household, address). Changes carry an
idempotency key; events get gap-free sequence numbers under a locked head row so that pollers
reading ``seq > n`` never miss one.

Revision ID: registry_0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "registry_0001"
down_revision = None
branch_labels = ("registry",)
depends_on = None

_SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_KEY = sa.String(200).with_variant(postgresql.VARCHAR(200, collation="C"), "postgresql")
_ADDRESS_KEY = sa.Text().with_variant(postgresql.TEXT(collation="C"), "postgresql")


def _facts() -> list[sa.Column[object]]:
    return [
        sa.Column("household_id", sa.String(32), nullable=False),
        sa.Column("relationship", sa.String(40), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("name_kana", sa.Text(), nullable=False),
        sa.Column("alias", sa.Text(), nullable=True),
        sa.Column("alias_kana", sa.Text(), nullable=True),
        sa.Column("birth_date", sa.Date(), nullable=False),
        sa.Column("sex", sa.String(1), nullable=False),
        sa.Column("kind", sa.String(4), nullable=False),
        sa.Column("became_resident_on", sa.Date(), nullable=False),
        sa.Column("address_text", sa.Text(), nullable=False),
        sa.Column("address_prefecture", sa.String(10), nullable=False),
        sa.Column("address_city", sa.String(60), nullable=False),
        sa.Column("address_town", sa.Text(), nullable=False),
        sa.Column("address_chome", sa.Integer(), nullable=True),
        sa.Column("address_block", sa.String(60), nullable=False),
        sa.Column("address_building", sa.Text(), nullable=False),
        sa.Column("address_note", sa.Text(), nullable=True),
        sa.Column("address_since", sa.Date(), nullable=False),
        sa.Column("previous_address", sa.Text(), nullable=True),
        sa.Column("address_before_move_in", sa.Text(), nullable=True),
        sa.Column("honseki", sa.Text(), nullable=True),
        sa.Column("hittosha", sa.Text(), nullable=True),
        sa.Column("nationality", sa.Text(), nullable=True),
        sa.Column("residence_status", sa.Text(), nullable=True),
        sa.Column("stay_expires_on", sa.Date(), nullable=True),
        sa.Column("residence_card_number", sa.String(12), nullable=True),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("removal_reason", sa.String(20), nullable=True),
        sa.Column("removed_on", sa.Date(), nullable=True),
        sa.Column("moved_out_to", sa.Text(), nullable=True),
        sa.Column("move_out_confirmed", sa.Boolean(), nullable=True),
        sa.Column("last_change", sa.String(20), nullable=False),
        sa.Column("last_change_on", sa.Date(), nullable=False),
        sa.Column("last_notified_on", sa.Date(), nullable=True),
    ]


def upgrade() -> None:
    op.create_table(
        "registry_persons",
        *_facts(),
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("atena_number", sa.String(15), nullable=False),
        sa.Column("juminhyo_code", sa.String(11), nullable=False),
        sa.Column("individual_number_enc", sa.LargeBinary(), nullable=True),
        sa.Column("individual_number_bidx", sa.LargeBinary(32), nullable=True),
        sa.Column("name_key_exact", _KEY, nullable=False),
        sa.Column("name_key_width", _KEY, nullable=False),
        sa.Column("name_key_folded", _KEY, nullable=False),
        sa.Column("kana_key_width", _KEY, nullable=False),
        sa.Column("kana_key_folded", _KEY, nullable=False),
        sa.Column("address_key", _ADDRESS_KEY, nullable=False),
        sa.Column("version_no", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_registry_persons")),
        sa.UniqueConstraint("atena_number", name=op.f("uq_registry_persons_atena_number")),
        sa.UniqueConstraint("juminhyo_code", name=op.f("uq_registry_persons_juminhyo_code")),
        sa.UniqueConstraint(
            "individual_number_bidx", name=op.f("uq_registry_persons_individual_number_bidx")
        ),
    )
    op.create_index(
        "ix_registry_persons_name_folded_birth", "registry_persons", ["name_key_folded", "birth_date"]
    )
    op.create_index(
        "ix_registry_persons_kana_folded_birth", "registry_persons", ["kana_key_folded", "birth_date"]
    )
    op.create_index("ix_registry_persons_birth_date", "registry_persons", ["birth_date"])
    op.create_index("ix_registry_persons_household_id", "registry_persons", ["household_id"])
    op.create_index("ix_registry_persons_address_key", "registry_persons", ["address_key"])
    op.create_index("ix_registry_persons_status_removed_on", "registry_persons", ["status", "removed_on"])

    op.create_table(
        "registry_person_versions",
        *_facts(),
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("person_id", sa.String(32), nullable=False),
        sa.Column("atena_number", sa.String(15), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("superseded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("change_id", sa.String(32), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_registry_person_versions")),
    )
    op.create_index(
        "ix_registry_person_versions_person", "registry_person_versions", ["person_id", "valid_from"]
    )
    op.create_index(
        "ix_registry_person_versions_household", "registry_person_versions", ["household_id", "valid_from"]
    )
    op.create_index(op.f("ix_registry_person_versions_change_id"), "registry_person_versions", ["change_id"])

    op.create_table(
        "registry_households",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("household_number", sa.String(15), nullable=False),
        sa.Column("created_on", sa.Date(), nullable=False),
        sa.Column("dissolved_on", sa.Date(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_registry_households")),
        sa.UniqueConstraint("household_number", name=op.f("uq_registry_households_household_number")),
    )

    op.create_table(
        "registry_changes",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("idempotency_key", sa.String(100), nullable=False),
        sa.Column("change_type", sa.String(30), nullable=False),
        sa.Column("request_digest", sa.String(64), nullable=False),
        sa.Column("event_date", sa.Date(), nullable=False),
        sa.Column("notified_on", sa.Date(), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(100), nullable=False),
        sa.Column("result_json", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_registry_changes")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_registry_changes_idempotency_key")),
    )
    op.create_index(op.f("ix_registry_changes_recorded_at"), "registry_changes", ["recorded_at"])

    op.create_table(
        "registry_events",
        sa.Column("seq", _SEQ, autoincrement=False, nullable=False),
        sa.Column("event_type", sa.String(20), nullable=False),
        sa.Column("change_id", sa.String(32), nullable=False),
        sa.Column("atena_number", sa.String(15), nullable=False),
        sa.Column("household_number", sa.String(15), nullable=True),
        sa.Column("event_date", sa.Date(), nullable=False),
        sa.Column("notified_on", sa.Date(), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_registry_events")),
    )
    op.create_index(op.f("ix_registry_events_atena_number"), "registry_events", ["atena_number"])

    head = op.create_table(
        "registry_event_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("last_seq", _SEQ, nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_registry_event_head_single_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_registry_event_head")),
    )
    op.bulk_insert(head, [{"id": 1, "last_seq": 0}])

    counters = op.create_table(
        "registry_counters",
        sa.Column("name", sa.String(30), nullable=False),
        sa.Column("next_value", _SEQ, nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_registry_counters")),
    )
    op.bulk_insert(counters, [{"name": "household_number", "next_value": 1}])


def downgrade() -> None:
    for table in (
        "registry_counters",
        "registry_event_head",
        "registry_events",
        "registry_changes",
        "registry_households",
        "registry_person_versions",
        "registry_persons",
    ):
        op.drop_table(table)
