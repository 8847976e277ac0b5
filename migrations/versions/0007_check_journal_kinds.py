"""check journal kinds: the database refuses a journal of no known kind

Revision ID: 0007
Revises: 0006

"""
from collections.abc import Iterator
from contextlib import contextmanager

from alembic import op


# revision identifiers, used by Alembic.
revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

# The JournalKind values of app/ledger/models.py when this revision was written.
KINDS = "kind IN ('inspection', 'redemption', 'adjustment', 'reversal', 'expiry')"


def upgrade():
    with rebuilding_journals():
        with op.batch_alter_table('journals', schema=None) as batch_op:
            batch_op.create_check_constraint(batch_op.f('ck_journals_kind'), KINDS)


def downgrade():
    with rebuilding_journals():
        with op.batch_alter_table('journals', schema=None) as batch_op:
            batch_op.drop_constraint(batch_op.f('ck_journals_kind'), type_='check')


@contextmanager
def rebuilding_journals() -> Iterator[None]:
    """Let SQLite rebuild the journals table, the way its documentation says to.

    SQLite cannot add or drop a CHECK in place, so the batch copies the table, drops
    the old one and renames the copy. The drop would trip the foreign keys of every
    table that points at journals, and SQLite ignores PRAGMA foreign_keys inside a
    transaction: so end Alembic's transaction, rebuild in one of our own with the keys
    off, check them, and commit. The drop also takes the append-only triggers with
    it: make them again. PostgreSQL alters the table in place and needs none of this.
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
        for action in ("UPDATE", "DELETE"):
            raw.execute(f"""
                CREATE TRIGGER journals_no_{action.lower()} BEFORE {action} ON journals
                BEGIN SELECT RAISE(ABORT, 'ledger table journals is append-only'); END
            """)
        broken = raw.execute("PRAGMA foreign_key_check").fetchall()
        if broken:
            raise RuntimeError(f"Rebuilding journals broke foreign keys: {broken[:5]}")
        raw.execute("COMMIT")
    except BaseException:
        raw.execute("ROLLBACK")
        raise
    finally:
        raw.execute("PRAGMA foreign_keys = ON")
        # Hand Alembic back the open transaction it expects to commit.
        raw.execute("BEGIN")
