"""index journals by village and time: a village's month reads its month's journals only

Issue 32: a village's summary sums the month's adjustments and expiries from journals
filtered by village and created_at; with only ix_journals_village_id, PostgreSQL read
every journal of the village (a year of them, scattered over a county's pages) and then
filtered by date: 1.79 x the same summary on a one-village server at county size. The
index on (village_id, created_at) replaces ix_journals_village_id, which it also serves
(any lookup by village alone), so a posting still writes one journal index for it.

Revision ID: 0020
Revises: 0019

"""

from alembic import op

# revision identifiers, used by Alembic.
revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade():
    # CONCURRENTLY on PostgreSQL, outside a transaction, as 0019: postings go on while the
    # index builds. SQLite: plain CREATE/DROP INDEX (no batch), which keeps the table and
    # its append-only triggers.
    with op.get_context().autocommit_block():
        op.create_index(
            "ix_journals_village_id_created_at",
            "journals",
            ["village_id", "created_at"],
            unique=False,
            postgresql_concurrently=True,
        )
        op.drop_index(
            "ix_journals_village_id", table_name="journals", postgresql_concurrently=True
        )


def downgrade():
    with op.get_context().autocommit_block():
        op.create_index(
            "ix_journals_village_id",
            "journals",
            ["village_id"],
            unique=False,
            postgresql_concurrently=True,
        )
        op.drop_index(
            "ix_journals_village_id_created_at",
            table_name="journals",
            postgresql_concurrently=True,
        )
