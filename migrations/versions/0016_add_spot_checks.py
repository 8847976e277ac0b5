"""add spot checks (复核): the recorded draw and the checker's grades

Revision ID: 0016
Revises: 0015

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def _timestamp(name: str, nullable: bool = True) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade():
    op.create_table(
        "spot_checks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("village_id", sa.Integer(), nullable=False),
        sa.Column("grid_id", sa.Integer(), nullable=True),
        sa.Column("local_date", sa.Date(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("seed", sa.String(length=32), nullable=False),
        sa.Column("population", sa.Text(), nullable=False),
        sa.Column("population_count", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=False),
        _timestamp("created_at", nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_spot_checks_created_by_users")
        ),
        sa.ForeignKeyConstraint(["grid_id"], ["grids.id"], name=op.f("fk_spot_checks_grid_id_grids")),
        sa.ForeignKeyConstraint(
            ["village_id"], ["villages.id"], name=op.f("fk_spot_checks_village_id_villages")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_spot_checks")),
    )
    with op.batch_alter_table("spot_checks") as batch_op:
        batch_op.create_index(
            "ix_spot_checks_village_id_local_date", ["village_id", "local_date"], unique=False
        )

    op.create_table(
        "spot_check_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("spot_check_id", sa.Integer(), nullable=False),
        sa.Column("village_id", sa.Integer(), nullable=False),
        sa.Column("inspection_id", sa.Integer(), nullable=False),
        sa.Column("inspector_id", sa.Integer(), nullable=False),
        sa.Column("original_grade", sa.String(length=8), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("grade", sa.String(length=8), nullable=True),
        sa.Column("note", sa.String(length=500), nullable=True),
        sa.Column("checked_by", sa.Integer(), nullable=True),
        _timestamp("checked_at"),
        sa.ForeignKeyConstraint(
            ["checked_by"], ["users.id"], name=op.f("fk_spot_check_items_checked_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["inspection_id"],
            ["inspections.id"],
            name=op.f("fk_spot_check_items_inspection_id_inspections"),
        ),
        sa.ForeignKeyConstraint(
            ["inspector_id"], ["users.id"], name=op.f("fk_spot_check_items_inspector_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["spot_check_id"],
            ["spot_checks.id"],
            name=op.f("fk_spot_check_items_spot_check_id_spot_checks"),
        ),
        sa.ForeignKeyConstraint(
            ["village_id"], ["villages.id"], name=op.f("fk_spot_check_items_village_id_villages")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_spot_check_items")),
        sa.UniqueConstraint(
            "spot_check_id",
            "inspection_id",
            name=op.f("uq_spot_check_items_spot_check_id_inspection_id"),
        ),
    )
    with op.batch_alter_table("spot_check_items") as batch_op:
        for column in ("spot_check_id", "village_id", "inspection_id", "inspector_id"):
            batch_op.create_index(
                batch_op.f(f"ix_spot_check_items_{column}"), [column], unique=False
            )


def downgrade():
    op.drop_table("spot_check_items")
    op.drop_table("spot_checks")
