"""add resident reports (cases), collection points, and the journal kinds they and households need

Revision ID: 0013
Revises: 0012

"""

from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

# The JournalKind values of app/ledger/models.py when this revision was written.
OLD_KINDS = "kind IN ('inspection', 'redemption', 'adjustment', 'reversal', 'expiry')"
KINDS = (
    "kind IN ('inspection', 'redemption', 'adjustment', 'reversal', 'expiry', "
    "'report', 'transfer', 'forfeit')"
)
STATES = (
    "state IN ('dispatched', 'accepted', 'resolved', 'closed', 'withdrawn', 'duplicate', "
    "'invalid')"
)


def _timestamp(name: str, nullable: bool = True) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade():
    op.create_table(
        "stations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("village_id", sa.Integer(), nullable=False),
        sa.Column("grid_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("lng", sa.Float(), nullable=True),
        sa.Column("card_version", sa.Integer(), server_default="1", nullable=False),
        _timestamp("created_at", nullable=False),
        sa.ForeignKeyConstraint(["grid_id"], ["grids.id"], name=op.f("fk_stations_grid_id_grids")),
        sa.ForeignKeyConstraint(
            ["village_id"], ["villages.id"], name=op.f("fk_stations_village_id_villages")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stations")),
        sa.UniqueConstraint("village_id", "name", name=op.f("uq_stations_village_id_name")),
        sa.UniqueConstraint("village_id", "number", name=op.f("uq_stations_village_id_number")),
    )
    with op.batch_alter_table("stations") as batch_op:
        batch_op.create_index(batch_op.f("ix_stations_grid_id"), ["grid_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_stations_village_id"), ["village_id"], unique=False)

    op.create_table(
        "cases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("village_id", sa.Integer(), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("grid_id", sa.Integer(), nullable=False),
        sa.Column("station_id", sa.Integer(), nullable=True),
        sa.Column("assignee_id", sa.Integer(), nullable=True),
        sa.Column("reporter_id", sa.Integer(), nullable=True),
        sa.Column("reporter_household_id", sa.Integer(), nullable=True),
        sa.Column("reporter_contact", sa.Text(), nullable=True),
        sa.Column("anonymous", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("source", sa.String(length=16), server_default="app", nullable=False),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("lng", sa.Float(), nullable=True),
        sa.Column("address", sa.String(length=200), nullable=True),
        _timestamp("created_at", nullable=False),
        _timestamp("due_at", nullable=False),
        sa.Column("extended_hours", sa.Integer(), server_default="0", nullable=False),
        _timestamp("resolved_at"),
        _timestamp("closed_at"),
        sa.Column("auto_confirmed", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("reopened", sa.Integer(), server_default="0", nullable=False),
        sa.Column("supervised", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("duplicate_of_id", sa.Integer(), nullable=True),
        _timestamp("escalated_admins_at"),
        _timestamp("escalated_township_at"),
        sa.Column(
            "reward_journal_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("reward_points", sa.Integer(), server_default="0", nullable=False),
        _timestamp("updated_at", nullable=False),
        sa.CheckConstraint("extended_hours >= 0", name=op.f("ck_cases_extended_hours")),
        sa.CheckConstraint(STATES, name=op.f("ck_cases_state")),
        sa.ForeignKeyConstraint(
            ["assignee_id"], ["users.id"], name=op.f("fk_cases_assignee_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["duplicate_of_id"], ["cases.id"], name=op.f("fk_cases_duplicate_of_id_cases")
        ),
        sa.ForeignKeyConstraint(["grid_id"], ["grids.id"], name=op.f("fk_cases_grid_id_grids")),
        sa.ForeignKeyConstraint(
            ["reporter_household_id"],
            ["households.id"],
            name=op.f("fk_cases_reporter_household_id_households"),
        ),
        sa.ForeignKeyConstraint(
            ["reporter_id"], ["users.id"], name=op.f("fk_cases_reporter_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["reward_journal_id"], ["journals.id"], name=op.f("fk_cases_reward_journal_id_journals")
        ),
        sa.ForeignKeyConstraint(
            ["station_id"], ["stations.id"], name=op.f("fk_cases_station_id_stations")
        ),
        sa.ForeignKeyConstraint(
            ["village_id"], ["villages.id"], name=op.f("fk_cases_village_id_villages")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cases")),
        sa.UniqueConstraint("reward_journal_id", name=op.f("uq_cases_reward_journal_id")),
    )
    with op.batch_alter_table("cases") as batch_op:
        batch_op.create_index(batch_op.f("ix_cases_assignee_id"), ["assignee_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_cases_grid_id"), ["grid_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_cases_reporter_household_id"), ["reporter_household_id"], unique=False
        )
        batch_op.create_index(
            "ix_cases_village_id_created_at", ["village_id", "created_at"], unique=False
        )
        batch_op.create_index(
            "ix_cases_village_id_state_due_at", ["village_id", "state", "due_at"], unique=False
        )

    op.create_table(
        "case_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("village_id", sa.Integer(), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("from_state", sa.String(length=16), nullable=True),
        sa.Column("to_state", sa.String(length=16), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        _timestamp("created_at", nullable=False),
        sa.ForeignKeyConstraint(
            ["actor_id"], ["users.id"], name=op.f("fk_case_events_actor_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_case_events_case_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["village_id"], ["villages.id"], name=op.f("fk_case_events_village_id_villages")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_events")),
    )
    with op.batch_alter_table("case_events") as batch_op:
        batch_op.create_index(batch_op.f("ix_case_events_case_id"), ["case_id"], unique=False)

    op.create_table(
        "case_photos",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("village_id", sa.Integer(), nullable=False),
        sa.Column("stage", sa.String(length=8), nullable=False),
        sa.Column("filename", sa.String(length=100), nullable=False),
        sa.Column("public", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        _timestamp("created_at", nullable=False),
        sa.CheckConstraint("stage IN ('before', 'after')", name=op.f("ck_case_photos_stage")),
        sa.ForeignKeyConstraint(
            ["actor_id"], ["users.id"], name=op.f("fk_case_photos_actor_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_case_photos_case_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["village_id"], ["villages.id"], name=op.f("fk_case_photos_village_id_villages")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_photos")),
    )
    with op.batch_alter_table("case_photos") as batch_op:
        batch_op.create_index(batch_op.f("ix_case_photos_case_id"), ["case_id"], unique=False)

    op.create_table(
        "open311_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("village_id", sa.Integer(), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        _timestamp("created_at", nullable=False),
        _timestamp("revoked_at"),
        sa.ForeignKeyConstraint(
            ["village_id"], ["villages.id"], name=op.f("fk_open311_keys_village_id_villages")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_open311_keys")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_open311_keys_key_hash")),
    )
    with op.batch_alter_table("open311_keys") as batch_op:
        batch_op.create_index(batch_op.f("ix_open311_keys_village_id"), ["village_id"], unique=False)

    # The village's case categories, points and limits, versioned with the other rules.
    with op.batch_alter_table("rule_sets") as batch_op:
        batch_op.add_column(sa.Column("cases", sa.Text(), nullable=True))

    with rebuilding_journals():
        with op.batch_alter_table("journals") as batch_op:
            batch_op.drop_constraint(batch_op.f("ck_journals_kind"), type_="check")
            batch_op.create_check_constraint(batch_op.f("ck_journals_kind"), KINDS)


def downgrade():
    with rebuilding_journals():
        with op.batch_alter_table("journals") as batch_op:
            batch_op.drop_constraint(batch_op.f("ck_journals_kind"), type_="check")
            batch_op.create_check_constraint(batch_op.f("ck_journals_kind"), OLD_KINDS)
    with op.batch_alter_table("rule_sets") as batch_op:
        batch_op.drop_column("cases")
    op.drop_table("open311_keys")
    op.drop_table("case_photos")
    op.drop_table("case_events")
    op.drop_table("cases")
    op.drop_table("stations")


@contextmanager
def rebuilding_journals() -> Iterator[None]:
    """Let SQLite rebuild the journals table with foreign keys off (as in revision 0007).

    SQLite cannot change a CHECK in place: the batch copies the table, drops the old
    one and renames the copy, which would trip every foreign key that points at
    journals, and takes the append-only triggers with it.
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
        raw.execute("BEGIN")
