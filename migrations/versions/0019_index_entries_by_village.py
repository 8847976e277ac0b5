"""index ledger entries by village: one village's verify reads its own entries only

Issue 32: with 300 villages in one database, `flask ledger verify --village` reached a
village's entries through its accounts (the index on account ids), and PostgreSQL
preferred to scan every entry of the county; entries.village_id (written by the one
posting path since 0001) had no index. This index lets every village-scoped check
read the village's entries through it (a deduplicated B-tree: about 7 bytes an entry).

Revision ID: 0019
Revises: 0018

"""

from alembic import op

# revision identifiers, used by Alembic.
revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade():
    # A plain CREATE INDEX (no batch): SQLite keeps the table and its append-only triggers.
    op.create_index(op.f("ix_entries_village_id"), "entries", ["village_id"], unique=False)


def downgrade():
    op.drop_index(op.f("ix_entries_village_id"), table_name="entries")
