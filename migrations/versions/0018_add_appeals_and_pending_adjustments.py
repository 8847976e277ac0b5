"""add appeals of grades, adjustments waiting for a second admin, and the fairness rules

Revision ID: 0018
Revises: 0017

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def _timestamp(name: str, nullable: bool = True) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _fk(table: str, column: str, referred: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{referred}.id"], name=op.f(f"fk_{table}_{column}_{referred}")
    )


def upgrade():
    with op.batch_alter_table("rule_sets") as batch_op:
        batch_op.add_column(sa.Column("fairness", sa.Text(), nullable=True))

    op.create_table(
        "appeals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("village_id", sa.Integer(), nullable=False),
        sa.Column("inspection_id", sa.Integer(), nullable=False),
        sa.Column("household_id", sa.Integer(), nullable=False),
        sa.Column("inspector_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("photo", sa.String(length=100), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=False),
        _timestamp("created_at", nullable=False),
        sa.Column("decided_by", sa.Integer(), nullable=True),
        _timestamp("decided_at"),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("corrected_grade", sa.String(length=8), nullable=True),
        sa.Column("corrected_inspection_id", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "state IN ('open', 'upheld', 'overturned')", name=op.f("ck_appeals_state")
        ),
        _fk("appeals", "village_id", "villages"),
        _fk("appeals", "inspection_id", "inspections"),
        _fk("appeals", "household_id", "households"),
        _fk("appeals", "inspector_id", "users"),
        _fk("appeals", "created_by", "users"),
        _fk("appeals", "decided_by", "users"),
        _fk("appeals", "corrected_inspection_id", "inspections"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_appeals")),
        sa.UniqueConstraint("inspection_id", name=op.f("uq_appeals_inspection_id")),
    )
    with op.batch_alter_table("appeals") as batch_op:
        batch_op.create_index(batch_op.f("ix_appeals_household_id"), ["household_id"])
        batch_op.create_index(batch_op.f("ix_appeals_inspector_id"), ["inspector_id"])
        batch_op.create_index("ix_appeals_village_id_state", ["village_id", "state"])

    op.create_table(
        "pending_adjustments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("village_id", sa.Integer(), nullable=False),
        sa.Column("household_id", sa.Integer(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("requested_by", sa.Integer(), nullable=False),
        _timestamp("created_at", nullable=False),
        sa.Column("decided_by", sa.Integer(), nullable=True),
        _timestamp("decided_at"),
        sa.Column("reject_reason", sa.String(length=500), nullable=True),
        sa.Column("journal_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.CheckConstraint(
            "state IN ('pending', 'approved', 'rejected')",
            name=op.f("ck_pending_adjustments_state"),
        ),
        sa.CheckConstraint("amount <> 0", name=op.f("ck_pending_adjustments_amount_not_zero")),
        _fk("pending_adjustments", "village_id", "villages"),
        _fk("pending_adjustments", "household_id", "households"),
        _fk("pending_adjustments", "requested_by", "users"),
        _fk("pending_adjustments", "decided_by", "users"),
        _fk("pending_adjustments", "journal_id", "journals"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pending_adjustments")),
        sa.UniqueConstraint("journal_id", name=op.f("uq_pending_adjustments_journal_id")),
    )
    with op.batch_alter_table("pending_adjustments") as batch_op:
        batch_op.create_index(
            "ix_pending_adjustments_village_id_state", ["village_id", "state"]
        )


def downgrade():
    op.drop_table("pending_adjustments")
    op.drop_table("appeals")
    with op.batch_alter_table("rule_sets") as batch_op:
        batch_op.drop_column("fairness")
