"""add household search keys and how a redemption found its household

Revision ID: 0008
Revises: 0007

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("households", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("name_pinyin", sa.String(length=400), server_default="", nullable=False)
        )
        batch_op.add_column(
            sa.Column("name_initials", sa.String(length=100), server_default="", nullable=False)
        )
    with op.batch_alter_table("redemptions", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("found_by", sa.String(length=8), server_default="card", nullable=False)
        )
    fill_search_keys()


def fill_search_keys() -> None:
    """Give every existing household the pinyin keys a new one gets when it is made."""
    from app.households.pinyin import name_keys

    bind = op.get_bind()
    households = sa.table(
        "households",
        sa.column("id", sa.Integer),
        sa.column("name", sa.String),
        sa.column("name_pinyin", sa.String),
        sa.column("name_initials", sa.String),
    )
    rows = bind.execute(sa.select(households.c.id, households.c.name)).all()
    update = (
        households.update()
        .where(households.c.id == sa.bindparam("row_id"))
        .values(name_pinyin=sa.bindparam("full"), name_initials=sa.bindparam("initials"))
    )
    batch = []
    for row_id, name in rows:
        full, initials = name_keys(name)
        batch.append({"row_id": row_id, "full": full, "initials": initials})
        if len(batch) == 1000:
            bind.execute(update, batch)
            batch = []
    if batch:
        bind.execute(update, batch)


def downgrade():
    # Plain DROP COLUMN (SQLite 3.35+): a batch would copy these tables, which others'
    # foreign keys point at.
    op.drop_column("redemptions", "found_by")
    op.drop_column("households", "name_initials")
    op.drop_column("households", "name_pinyin")
