"""month figures: each village's participation and accuracy of a past month, counted nightly

Issue 32: the township page's month-on-month chart counted six months of grades of
every village at each request (at 30 villages, 340,000 grades: 7 x the same page of a
one-village township). `flask townships count-months` keeps each village's figures of
the months that ended; the chart reads them and counts only this month.

Revision ID: 0021
Revises: 0020

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "month_figures",
        sa.Column("village_id", sa.Integer(), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("households", sa.Integer(), nullable=False),
        sa.Column("inspected", sa.Integer(), nullable=False),
        sa.Column("grades", sa.Integer(), nullable=False),
        sa.Column("graded_with_points", sa.Integer(), nullable=False),
        sa.Column("counted_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["village_id"], ["villages.id"], name=op.f("fk_month_figures_village_id_villages")
        ),
        sa.PrimaryKeyConstraint("village_id", "month", name=op.f("pk_month_figures")),
    )


def downgrade():
    op.drop_table("month_figures")
