"""end sessions: a per-user session version

Revision ID: 0006
Revises: 0005

"""

import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade():
    # Every session carries the version it was opened under; raising the version
    # (password change, logout, disabling) ends every older session.
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("session_version", sa.Integer(), server_default="0", nullable=False)
        )


def downgrade():
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("session_version")
