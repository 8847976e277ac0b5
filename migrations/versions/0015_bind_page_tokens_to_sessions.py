"""bind the tokens a page session asks for to that session

Revision ID: 0015
Revises: 0014

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade():
    # The session version of the page session a token was given to (POST /inspect/token);
    # NULL for a token from a login (POST /api/v1/auth/tokens). Such a token ends with its
    # session: once the user's session version is raised, it is refused.
    with op.batch_alter_table("api_tokens") as batch_op:
        batch_op.add_column(sa.Column("session_version", sa.Integer(), nullable=True))


def downgrade():
    with op.batch_alter_table("api_tokens") as batch_op:
        batch_op.drop_column("session_version")
