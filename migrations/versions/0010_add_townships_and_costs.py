"""add townships and goods costs

Revision ID: 0010
Revises: 0009

"""

from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

OLD_ROLES = "role IN ('admin', 'inspector', 'storekeeper', 'household')"
ROLES = "role IN ('admin', 'inspector', 'storekeeper', 'household', 'township')"
# A township user belongs to a township and no village; everyone else to a village.
SCOPE = (
    "(role = 'township' AND township_id IS NOT NULL AND village_id IS NULL)"
    " OR (role <> 'township' AND township_id IS NULL AND village_id IS NOT NULL)"
)


def upgrade():
    op.create_table(
        "townships",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_townships")),
        sa.UniqueConstraint("code", name=op.f("uq_townships_code")),
    )
    with rebuilding_with_keys_off():
        with op.batch_alter_table("villages", schema=None) as batch_op:
            batch_op.add_column(sa.Column("township_id", sa.Integer(), nullable=True))
            batch_op.create_index(batch_op.f("ix_villages_township_id"), ["township_id"])
            batch_op.create_foreign_key(
                batch_op.f("fk_villages_township_id_townships"),
                "townships",
                ["township_id"],
                ["id"],
            )
        with op.batch_alter_table("users", schema=None) as batch_op:
            batch_op.add_column(sa.Column("township_id", sa.Integer(), nullable=True))
            batch_op.alter_column("village_id", existing_type=sa.Integer(), nullable=True)
            batch_op.create_index(batch_op.f("ix_users_township_id"), ["township_id"])
            batch_op.create_foreign_key(
                batch_op.f("fk_users_township_id_townships"), "townships", ["township_id"], ["id"]
            )
            batch_op.drop_constraint(batch_op.f("ck_users_role"), type_="check")
            batch_op.create_check_constraint(batch_op.f("ck_users_role"), ROLES)
            batch_op.create_check_constraint(batch_op.f("ck_users_scope"), SCOPE)
    with op.batch_alter_table("goods", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("cost_cents", sa.Integer(), server_default="0", nullable=False)
        )
    with op.batch_alter_table("stock_movements", schema=None) as batch_op:
        batch_op.add_column(sa.Column("unit_cost_cents", sa.Integer(), nullable=True))
    with op.batch_alter_table("redemption_lines", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("cost_cents", sa.Integer(), server_default="0", nullable=False)
        )


def downgrade():
    with op.batch_alter_table("redemption_lines", schema=None) as batch_op:
        batch_op.drop_column("cost_cents")
    with op.batch_alter_table("stock_movements", schema=None) as batch_op:
        batch_op.drop_column("unit_cost_cents")
    with op.batch_alter_table("goods", schema=None) as batch_op:
        batch_op.drop_column("cost_cents")
    # Township users have no village to go back to.
    op.execute(
        "DELETE FROM api_tokens WHERE user_id IN (SELECT id FROM users WHERE role = 'township')"
    )
    op.execute("DELETE FROM users WHERE role = 'township'")
    with rebuilding_with_keys_off():
        with op.batch_alter_table("users", schema=None) as batch_op:
            batch_op.drop_constraint(batch_op.f("ck_users_scope"), type_="check")
            batch_op.drop_constraint(batch_op.f("ck_users_role"), type_="check")
            batch_op.create_check_constraint(batch_op.f("ck_users_role"), OLD_ROLES)
            batch_op.drop_constraint(
                batch_op.f("fk_users_township_id_townships"), type_="foreignkey"
            )
            batch_op.drop_index(batch_op.f("ix_users_township_id"))
            batch_op.alter_column("village_id", existing_type=sa.Integer(), nullable=False)
            batch_op.drop_column("township_id")
        with op.batch_alter_table("villages", schema=None) as batch_op:
            batch_op.drop_constraint(
                batch_op.f("fk_villages_township_id_townships"), type_="foreignkey"
            )
            batch_op.drop_index(batch_op.f("ix_villages_township_id"))
            batch_op.drop_column("township_id")
    op.drop_table("townships")


@contextmanager
def rebuilding_with_keys_off() -> Iterator[None]:
    """Let SQLite rebuild villages and users, which every other table points at.

    SQLite cannot change a column's nullability or a CHECK in place, so the batch
    copies the table, drops the old one and renames the copy; the drop would trip the
    foreign keys pointing at it, and SQLite ignores PRAGMA foreign_keys inside a
    transaction (see 0007). PostgreSQL alters the tables in place.
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
        broken = raw.execute("PRAGMA foreign_key_check").fetchall()
        if broken:
            raise RuntimeError(f"Rebuilding broke foreign keys: {broken[:5]}")
        raw.execute("COMMIT")
    except BaseException:
        raw.execute("ROLLBACK")
        raise
    finally:
        raw.execute("PRAGMA foreign_keys = ON")
        raw.execute("BEGIN")
