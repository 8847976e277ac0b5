"""add inspections and scoring rules

Revision ID: 0003
Revises: 0002
"""
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


DEFAULT_GRADES = ('[{"grade": "A", "points": 3, "label": "优"}, '
                  '{"grade": "B", "points": 2, "label": "良"}, '
                  '{"grade": "C", "points": 1, "label": "中"}, '
                  '{"grade": "D", "points": 0, "label": "差"}]')


def upgrade():
    op.create_table('rule_sets',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('village_id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('grades', sa.Text(), nullable=False),
    sa.Column('daily_limit', sa.Integer(), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('daily_limit >= 1', name=op.f('ck_rule_sets_daily_limit')),
    sa.ForeignKeyConstraint(['actor_id'], ['users.id'], name=op.f('fk_rule_sets_actor_id_users')),
    sa.ForeignKeyConstraint(['village_id'], ['villages.id'], name=op.f('fk_rule_sets_village_id_villages')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rule_sets')),
    sa.UniqueConstraint('village_id', 'version', name=op.f('uq_rule_sets_village_id_version'))
    )
    op.create_table('inspections',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('village_id', sa.Integer(), nullable=False),
    sa.Column('household_id', sa.Integer(), nullable=False),
    sa.Column('grid_id', sa.Integer(), nullable=False),
    sa.Column('inspector_id', sa.Integer(), nullable=False),
    sa.Column('grade', sa.String(length=8), nullable=False),
    sa.Column('points', sa.Integer(), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('photo', sa.String(length=100), nullable=True),
    sa.Column('local_date', sa.Date(), nullable=False),
    sa.Column('slot', sa.Integer(), nullable=False),
    sa.Column('journal_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('rules_id', sa.Integer(), nullable=False),
    sa.Column('voided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('void_reason', sa.String(length=500), nullable=True),
    sa.Column('voided_by', sa.Integer(), nullable=True),
    sa.Column('void_journal_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('points >= 0', name=op.f('ck_inspections_points')),
    sa.CheckConstraint('slot >= 1', name=op.f('ck_inspections_slot')),
    sa.ForeignKeyConstraint(['grid_id'], ['grids.id'], name=op.f('fk_inspections_grid_id_grids')),
    sa.ForeignKeyConstraint(['household_id'], ['households.id'], name=op.f('fk_inspections_household_id_households')),
    sa.ForeignKeyConstraint(['inspector_id'], ['users.id'], name=op.f('fk_inspections_inspector_id_users')),
    sa.ForeignKeyConstraint(['journal_id'], ['journals.id'], name=op.f('fk_inspections_journal_id_journals')),
    sa.ForeignKeyConstraint(['rules_id'], ['rule_sets.id'], name=op.f('fk_inspections_rules_id_rule_sets')),
    sa.ForeignKeyConstraint(['village_id'], ['villages.id'], name=op.f('fk_inspections_village_id_villages')),
    sa.ForeignKeyConstraint(['void_journal_id'], ['journals.id'], name=op.f('fk_inspections_void_journal_id_journals')),
    sa.ForeignKeyConstraint(['voided_by'], ['users.id'], name=op.f('fk_inspections_voided_by_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_inspections')),
    sa.UniqueConstraint('household_id', 'local_date', 'slot', name=op.f('uq_inspections_household_id_local_date_slot')),
    sa.UniqueConstraint('journal_id', name=op.f('uq_inspections_journal_id'))
    )
    with op.batch_alter_table('inspections', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_inspections_grid_id'), ['grid_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_inspections_household_id'), ['household_id'], unique=False)
        batch_op.create_index('ix_inspections_inspector_id_local_date', ['inspector_id', 'local_date'], unique=False)
        batch_op.create_index('ix_inspections_village_id_local_date', ['village_id', 'local_date'], unique=False)

    # Every existing village starts with the default rules, version 1.
    connection = op.get_bind()
    rule_sets = sa.table("rule_sets", sa.column("village_id", sa.Integer),
                         sa.column("version", sa.Integer), sa.column("grades", sa.Text),
                         sa.column("daily_limit", sa.Integer),
                         sa.column("created_at", sa.DateTime(timezone=True)))
    now = datetime.now(UTC)
    for (village_id,) in connection.execute(sa.text("SELECT id FROM villages")).all():
        connection.execute(rule_sets.insert().values(
            village_id=village_id, version=1, grades=DEFAULT_GRADES, daily_limit=1,
            created_at=now))


def downgrade():
    with op.batch_alter_table("inspections", schema=None) as batch_op:
        batch_op.drop_index("ix_inspections_village_id_local_date")
        batch_op.drop_index("ix_inspections_inspector_id_local_date")
        batch_op.drop_index(batch_op.f("ix_inspections_household_id"))
        batch_op.drop_index(batch_op.f("ix_inspections_grid_id"))

    op.drop_table("inspections")
    op.drop_table("rule_sets")
