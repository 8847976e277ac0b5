"""households over time: moved out (with its forfeit date) and merged into another

Revision ID: 0017
Revises: 0016

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade():
    # A household that moved out (status moved_out) keeps the day it left and the day
    # what is left of its points is forfeited; a merged one (status merged) names the
    # household it went into, whose page shows its history.
    with op.batch_alter_table("households") as batch_op:
        batch_op.add_column(sa.Column("moved_out_on", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("forfeit_on", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("merged_into_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            "fk_households_merged_into_id_households", "households", ["merged_into_id"], ["id"]
        )
        batch_op.create_index("ix_households_forfeit_on", ["forfeit_on"])


def downgrade():
    with op.batch_alter_table("households") as batch_op:
        batch_op.drop_index("ix_households_forfeit_on")
        batch_op.drop_constraint("fk_households_merged_into_id_households", type_="foreignkey")
        batch_op.drop_column("merged_into_id")
        batch_op.drop_column("forfeit_on")
        batch_op.drop_column("moved_out_on")
