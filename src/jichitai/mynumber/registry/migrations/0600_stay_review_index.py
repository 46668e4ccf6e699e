"""Index the 在留期間満了日 of foreign residents living here, for the review of ending stays.

Why: staff list the foreign residents whose 在留期間 ends by a given day (stay_review.py), the
earliest first. Without an index that is a scan of every person (3.8 million at Yokohama's size)
for the few percent who are foreign residents; the partial index holds only those rows.

Revision ID: registry_0600_stay_review
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "registry_0600_stay_review"
down_revision = "registry_0500_covering_index"
branch_labels = None
depends_on = None

_WHERE = "status = 'resident' AND stay_expires_on IS NOT NULL"  # as models.STAY_REVIEW_WHERE


def upgrade() -> None:
    op.create_index(
        "ix_registry_persons_stay_expires",
        "registry_persons",
        ["stay_expires_on", "id"],
        postgresql_where=sa.text(_WHERE),
        sqlite_where=sa.text(_WHERE),
    )


def downgrade() -> None:
    op.drop_index("ix_registry_persons_stay_expires", "registry_persons", if_exists=True)
