"""add card reissues and per-grid household numbers

Revision ID: 0002
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('card_reissues',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('village_id', sa.Integer(), nullable=False),
    sa.Column('household_id', sa.Integer(), nullable=False),
    sa.Column('old_version', sa.Integer(), nullable=False),
    sa.Column('new_version', sa.Integer(), nullable=False),
    sa.Column('reason', sa.String(length=500), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['users.id'], name=op.f('fk_card_reissues_actor_id_users')),
    sa.ForeignKeyConstraint(['household_id'], ['households.id'], name=op.f('fk_card_reissues_household_id_households')),
    sa.ForeignKeyConstraint(['village_id'], ['villages.id'], name=op.f('fk_card_reissues_village_id_villages')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_card_reissues'))
    )
    with op.batch_alter_table('card_reissues', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_card_reissues_household_id'), ['household_id'], unique=False)

    with op.batch_alter_table('grids', schema=None) as batch_op:
        batch_op.add_column(sa.Column('household_seq', sa.Integer(), server_default='0', nullable=False))

    # Grids that already have households continue after their highest number.
    grids = sa.table("grids", sa.column("id", sa.Integer),
                     sa.column("household_seq", sa.Integer))
    connection = op.get_bind()
    rows = connection.execute(sa.text("SELECT grid_id, code FROM households")).all()
    highest: dict[int, int] = {}
    for grid_id, code in rows:
        number = int(code.rsplit("-", 1)[-1])
        highest[grid_id] = max(highest.get(grid_id, 0), number)
    for grid_id, number in highest.items():
        connection.execute(grids.update().where(grids.c.id == grid_id)
                           .values(household_seq=number))


def downgrade():
    with op.batch_alter_table("grids", schema=None) as batch_op:
        batch_op.drop_column("household_seq")

    with op.batch_alter_table("card_reissues", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_card_reissues_household_id"))

    op.drop_table("card_reissues")
