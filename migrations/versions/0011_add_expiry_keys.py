"""add expiry business keys: the expiry policy in the rules, and a business key on journals

Revision ID: 0011
Revises: 0010

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade():
    # Both are nullable columns, which SQLite adds in place (ALTER TABLE ADD COLUMN):
    # no table copy, so the append-only triggers on journals stay as they are.
    with op.batch_alter_table("rule_sets", schema=None) as batch_op:
        batch_op.add_column(sa.Column("expiry", sa.Text(), nullable=True))
    with op.batch_alter_table("journals", schema=None) as batch_op:
        batch_op.add_column(sa.Column("business_key", sa.String(length=64), nullable=True))
    op.create_index(
        "uq_journals_village_id_business_key",
        "journals",
        ["village_id", "business_key"],
        unique=True,
    )


def downgrade():
    op.drop_index("uq_journals_village_id_business_key", table_name="journals")
    # SQLite 3.35+ drops a column in place too (the column is in no index or trigger).
    op.execute("ALTER TABLE journals DROP COLUMN business_key")
    op.execute("ALTER TABLE rule_sets DROP COLUMN expiry")
