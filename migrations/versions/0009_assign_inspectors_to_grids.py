"""assign inspectors to grids

Revision ID: 0009
Revises: 0008

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade():
    # The grids an inspector works; none means the whole village.
    op.create_table(
        "user_grids",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("grid_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_user_grids_user_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["grid_id"], ["grids.id"], name=op.f("fk_user_grids_grid_id_grids")
        ),
        sa.PrimaryKeyConstraint("user_id", "grid_id", name=op.f("pk_user_grids")),
    )
    with op.batch_alter_table("user_grids", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_user_grids_grid_id"), ["grid_id"], unique=False)


def downgrade():
    with op.batch_alter_table("user_grids", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_user_grids_grid_id"))
    op.drop_table("user_grids")
