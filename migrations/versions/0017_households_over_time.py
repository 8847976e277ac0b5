"""households over time: moved out (with its forfeit date) and merged into another

Revision ID: 0017
Revises: 0016

"""

from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


@contextmanager
def rebuilding_households() -> Iterator[None]:
    """Let SQLite rebuild the households table with foreign keys off (as revision 0013 does
    for journals).

    The batch copies the table, drops the old one and renames the copy: with foreign
    keys on, dropping a table that accounts, inspections and users point at fails as soon
    as the village has a household. The keys are checked again before the commit.
    """
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        yield
        return
    raw = bind.connection.dbapi_connection
    if raw.in_transaction:
        raw.execute("COMMIT")
    raw.execute("PRAGMA foreign_keys = OFF")
    raw.execute("BEGIN")
    try:
        yield
        broken = raw.execute("PRAGMA foreign_key_check").fetchall()
        if broken:
            raise RuntimeError(f"Rebuilding households broke foreign keys: {broken[:5]}")
        raw.execute("COMMIT")
    except BaseException:
        raw.execute("ROLLBACK")
        raise
    finally:
        raw.execute("PRAGMA foreign_keys = ON")
        raw.execute("BEGIN")


def upgrade():
    # A household that moved out (status moved_out) keeps the day it left and the day
    # what is left of its points is forfeited; a merged one (status merged) names the
    # household it went into, whose page shows its history.
    with rebuilding_households(), op.batch_alter_table("households") as batch_op:
        batch_op.add_column(sa.Column("moved_out_on", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("forfeit_on", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("merged_into_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            "fk_households_merged_into_id_households", "households", ["merged_into_id"], ["id"]
        )
        batch_op.create_index("ix_households_forfeit_on", ["forfeit_on"])


def downgrade():
    with rebuilding_households(), op.batch_alter_table("households") as batch_op:
        batch_op.drop_index("ix_households_forfeit_on")
        batch_op.drop_constraint("fk_households_merged_into_id_households", type_="foreignkey")
        batch_op.drop_column("merged_into_id")
        batch_op.drop_column("forfeit_on")
        batch_op.drop_column("moved_out_on")
