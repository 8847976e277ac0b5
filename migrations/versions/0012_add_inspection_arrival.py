"""record when an inspection arrived and its client key

Revision ID: 0012
Revises: 0011

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade():
    # When the server took an inspection; until now that was when it was graded.
    with op.batch_alter_table("inspections") as batch_op:
        batch_op.add_column(
            sa.Column(
                "recorded_at",
                sa.DateTime(timezone=True),
                server_default=sa.func.now(),
                nullable=False,
            )
        )
    op.execute("UPDATE inspections SET recorded_at = created_at")


def downgrade():
    with op.batch_alter_table("inspections") as batch_op:
        batch_op.drop_column("recorded_at")
