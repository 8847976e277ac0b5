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
    # PostgreSQL builds it CONCURRENTLY, outside a transaction (README: Upgrading): a
    # county's 20 million entries take minutes to index, and a plain CREATE INDEX holds
    # every posting, so every credit and redemption, for that long. SQLite: a plain
    # CREATE INDEX (no batch), which keeps the table and its append-only triggers.
    with op.get_context().autocommit_block():
        op.create_index(
            op.f("ix_entries_village_id"),
            "entries",
            ["village_id"],
            unique=False,
            postgresql_concurrently=True,
        )


def downgrade():
    with op.get_context().autocommit_block():
        op.drop_index(
            op.f("ix_entries_village_id"), table_name="entries", postgresql_concurrently=True
        )
