"""Search by the other name a person is known by: its keys on the current row, partial indexes.

Why: a foreign resident with a 通称 (施行令第30条の26) lives and is known by it; staff asked for
"金田 一郎" must find the person registered as 金 一洙 with that 通称. The keys are those of the 氏名
(names.search_keys), NULL for a person without another name, so the indexes hold only those few
rows. Existing rows with a 通称 get their keys here. (The 旧氏 of revision 0800, with the 名, is the
other name of a Japanese resident; no row had one before it.)

Revision ID: registry_0700_other_name_search
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from jichitai.mynumber.registry.models import KeyType
from jichitai.mynumber.registry.names import name_keys

revision = "registry_0700_other_name_search"
down_revision = "registry_0600_stay_review"
branch_labels = None
depends_on = None

_TABLE = "registry_persons"
_COLUMNS = (
    "other_name_key_exact",
    "other_name_key_width",
    "other_name_key_folded",
    "other_kana_key_width",
    "other_kana_key_folded",
)
# as models.OTHER_NAME_WHERE / OTHER_KANA_WHERE
_INDEXES = (
    ("ix_registry_persons_other_name_folded", "other_name_key_folded"),
    ("ix_registry_persons_other_kana_folded", "other_kana_key_folded"),
)


def upgrade() -> None:
    for column in _COLUMNS:
        op.add_column(_TABLE, sa.Column(column, KeyType, nullable=True))
    conn = op.get_bind()
    rows = conn.execute(
        sa.text(
            f"SELECT id, alias, alias_kana FROM {_TABLE} WHERE alias IS NOT NULL OR alias_kana IS NOT NULL"
        )
    ).all()
    update = sa.text(
        f"UPDATE {_TABLE} SET other_name_key_exact = :e, other_name_key_width = :w, "
        "other_name_key_folded = :f, other_kana_key_width = :kw, other_kana_key_folded = :kf WHERE id = :id"
    )
    for row in rows:
        a = name_keys(row.alias) if row.alias else None
        k = name_keys(row.alias_kana) if row.alias_kana else None
        conn.execute(
            update,
            {
                "id": row.id,
                "e": a and a.exact,
                "w": a and a.width,
                "f": a and a.folded,
                "kw": k and k.width,
                "kf": k and k.folded,
            },
        )
    for name, column in _INDEXES:
        where = sa.text(f"{column} IS NOT NULL")
        op.create_index(
            name, _TABLE, [column, "birth_date", "id"], postgresql_where=where, sqlite_where=where
        )


def downgrade() -> None:
    for name, _column in _INDEXES:
        op.drop_index(name, _TABLE, if_exists=True)
    for column in reversed(_COLUMNS):
        op.drop_column(_TABLE, column)
