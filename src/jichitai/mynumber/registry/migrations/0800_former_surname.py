"""The 旧氏 (former surname) of a Japanese resident, with its reading, on every version.

Why: since 2019 a resident may have the 旧氏 from the 戸籍 recorded in the 住民票 (住民基本台帳法
施行令第30条の13) and printed with the 氏名 on certificates and the My Number Card; people known
by it at work are also found by it. The columns are nullable, without a default: adding them does
not rewrite the tables.

Revision ID: registry_0800_former_surname
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "registry_0800_former_surname"
down_revision = "registry_0700_other_name_search"
branch_labels = None
depends_on = None

_TABLES = ("registry_persons", "registry_person_versions")
_COLUMNS = ("former_surname", "former_surname_kana")


def upgrade() -> None:
    for table in _TABLES:
        for column in _COLUMNS:
            op.add_column(table, sa.Column(column, sa.Text(), nullable=True))


def downgrade() -> None:
    for table in _TABLES:
        for column in reversed(_COLUMNS):
            op.drop_column(table, column)
