"""Create the addressee-number tables: persons, business numbers, serial links, counters.

Why: every core system identifies a person by one 統合宛名番号 that never changes, linked to the
encrypted 個人番号 (blind index for duplicate checks) and to each business's 業務宛名番号; the
application-management side identifies applicants by certificate serial number through the serial
link table kept here with its history.

Revision ID: atena_0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "atena_0001"
down_revision = None
branch_labels = ("atena",)
depends_on = None

_COUNTER = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "atena_persons",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("atena_number", sa.String(15), nullable=False),
        sa.Column("kind", sa.String(12), nullable=False),
        sa.Column("individual_number_enc", sa.LargeBinary(), nullable=True),
        sa.Column("individual_number_bidx", sa.LargeBinary(32), nullable=True),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("name_kana", sa.Text(), nullable=False),
        sa.Column("birth_date", sa.Date(), nullable=False),
        sa.Column("sex", sa.String(1), nullable=True),
        sa.Column("address", sa.Text(), nullable=False),
        sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_atena_persons")),
        sa.UniqueConstraint("atena_number", name=op.f("uq_atena_persons_atena_number")),
        sa.UniqueConstraint("individual_number_bidx", name=op.f("uq_atena_persons_individual_number_bidx")),
    )
    op.create_table(
        "atena_business_numbers",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("atena_person_id", sa.String(32), nullable=False),
        sa.Column("atena_number", sa.String(15), nullable=False),
        sa.Column("business", sa.String(40), nullable=False),
        sa.Column("business_number", sa.String(30), nullable=False),
        sa.Column("linked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("unlinked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["atena_person_id"],
            ["atena_persons.id"],
            name=op.f("fk_atena_business_numbers_atena_person_id_atena_persons"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_atena_business_numbers")),
    )
    op.create_index(
        op.f("ix_atena_business_numbers_atena_person_id"), "atena_business_numbers", ["atena_person_id"]
    )
    op.create_index(
        "ix_atena_business_numbers_business_number", "atena_business_numbers", ["business", "business_number"]
    )
    op.create_table(
        "atena_serial_links",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("atena_person_id", sa.String(32), nullable=False),
        sa.Column("atena_number", sa.String(15), nullable=False),
        sa.Column("serial", sa.String(40), nullable=False),
        sa.Column("certificate_use", sa.String(16), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["atena_person_id"],
            ["atena_persons.id"],
            name=op.f("fk_atena_serial_links_atena_person_id_atena_persons"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_atena_serial_links")),
    )
    op.create_index(op.f("ix_atena_serial_links_atena_person_id"), "atena_serial_links", ["atena_person_id"])
    op.create_index(op.f("ix_atena_serial_links_changed_at"), "atena_serial_links", ["changed_at"])
    op.create_index(
        "ix_atena_serial_links_use_serial", "atena_serial_links", ["certificate_use", "serial"], unique=True
    )
    counters = op.create_table(
        "atena_counters",
        sa.Column("name", sa.String(30), nullable=False),
        sa.Column("next_value", _COUNTER, nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_atena_counters")),
    )
    # created here so that drawing a number only ever locks an existing row
    op.bulk_insert(counters, [{"name": "atena_number", "next_value": 1}])


def downgrade() -> None:
    op.drop_table("atena_counters")
    op.drop_index("ix_atena_serial_links_use_serial", table_name="atena_serial_links")
    op.drop_index(op.f("ix_atena_serial_links_changed_at"), table_name="atena_serial_links")
    op.drop_index(op.f("ix_atena_serial_links_atena_person_id"), table_name="atena_serial_links")
    op.drop_table("atena_serial_links")
    op.drop_index("ix_atena_business_numbers_business_number", table_name="atena_business_numbers")
    op.drop_index(op.f("ix_atena_business_numbers_atena_person_id"), table_name="atena_business_numbers")
    op.drop_table("atena_business_numbers")
    op.drop_table("atena_persons")
