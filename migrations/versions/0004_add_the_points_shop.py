"""add the points shop

Revision ID: 0004
Revises: 0003

"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('goods',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('village_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('unit', sa.String(length=20), nullable=False),
    sa.Column('category', sa.String(length=50), nullable=True),
    sa.Column('price_points', sa.Integer(), nullable=False),
    sa.Column('stock', sa.Integer(), server_default='0', nullable=False),
    sa.Column('low_stock', sa.Integer(), server_default='5', nullable=False),
    sa.Column('active', sa.Boolean(), server_default=sa.true(), nullable=False),
    sa.Column('picture', sa.String(length=100), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('price_points > 0', name=op.f('ck_goods_price_positive')),
    sa.CheckConstraint('stock >= 0', name=op.f('ck_goods_stock_not_negative')),
    sa.ForeignKeyConstraint(['village_id'], ['villages.id'], name=op.f('fk_goods_village_id_villages')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_goods')),
    sa.UniqueConstraint('village_id', 'name', name=op.f('uq_goods_village_id_name'))
    )
    with op.batch_alter_table('goods', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_goods_village_id'), ['village_id'], unique=False)

    op.create_table('receipt_counters',
    sa.Column('village_id', sa.Integer(), nullable=False),
    sa.Column('year', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('last', sa.Integer(), server_default='0', nullable=False),
    sa.ForeignKeyConstraint(['village_id'], ['villages.id'], name=op.f('fk_receipt_counters_village_id_villages')),
    sa.PrimaryKeyConstraint('village_id', 'year', name=op.f('pk_receipt_counters'))
    )
    op.create_table('redemptions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('village_id', sa.Integer(), nullable=False),
    sa.Column('household_id', sa.Integer(), nullable=False),
    sa.Column('storekeeper_id', sa.Integer(), nullable=False),
    sa.Column('receipt_no', sa.String(length=32), nullable=False),
    sa.Column('total_points', sa.Integer(), nullable=False),
    sa.Column('balance_before', sa.Integer(), nullable=False),
    sa.Column('balance_after', sa.Integer(), nullable=False),
    sa.Column('journal_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('cancelled_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('cancel_reason', sa.String(length=500), nullable=True),
    sa.Column('cancelled_by', sa.Integer(), nullable=True),
    sa.Column('cancel_journal_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('total_points > 0', name=op.f('ck_redemptions_total_positive')),
    sa.ForeignKeyConstraint(['cancel_journal_id'], ['journals.id'], name=op.f('fk_redemptions_cancel_journal_id_journals')),
    sa.ForeignKeyConstraint(['cancelled_by'], ['users.id'], name=op.f('fk_redemptions_cancelled_by_users')),
    sa.ForeignKeyConstraint(['household_id'], ['households.id'], name=op.f('fk_redemptions_household_id_households')),
    sa.ForeignKeyConstraint(['journal_id'], ['journals.id'], name=op.f('fk_redemptions_journal_id_journals')),
    sa.ForeignKeyConstraint(['storekeeper_id'], ['users.id'], name=op.f('fk_redemptions_storekeeper_id_users')),
    sa.ForeignKeyConstraint(['village_id'], ['villages.id'], name=op.f('fk_redemptions_village_id_villages')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_redemptions')),
    sa.UniqueConstraint('journal_id', name=op.f('uq_redemptions_journal_id')),
    sa.UniqueConstraint('village_id', 'receipt_no', name=op.f('uq_redemptions_village_id_receipt_no'))
    )
    with op.batch_alter_table('redemptions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_redemptions_household_id'), ['household_id'], unique=False)
        batch_op.create_index('ix_redemptions_village_id_created_at', ['village_id', 'created_at'], unique=False)

    op.create_table('redemption_lines',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('redemption_id', sa.Integer(), nullable=False),
    sa.Column('good_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('unit', sa.String(length=20), nullable=False),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.Column('price_points', sa.Integer(), nullable=False),
    sa.Column('line_points', sa.Integer(), nullable=False),
    sa.CheckConstraint('price_points > 0', name=op.f('ck_redemption_lines_price_positive')),
    sa.CheckConstraint('quantity > 0', name=op.f('ck_redemption_lines_quantity_positive')),
    sa.ForeignKeyConstraint(['good_id'], ['goods.id'], name=op.f('fk_redemption_lines_good_id_goods')),
    sa.ForeignKeyConstraint(['redemption_id'], ['redemptions.id'], name=op.f('fk_redemption_lines_redemption_id_redemptions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_redemption_lines')),
    sa.UniqueConstraint('redemption_id', 'good_id', name=op.f('uq_redemption_lines_redemption_id_good_id'))
    )
    with op.batch_alter_table('redemption_lines', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_redemption_lines_good_id'), ['good_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_redemption_lines_redemption_id'), ['redemption_id'], unique=False)

    op.create_table('stock_movements',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('village_id', sa.Integer(), nullable=False),
    sa.Column('good_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.Column('stock_after', sa.Integer(), nullable=False),
    sa.Column('note', sa.String(length=500), nullable=True),
    sa.Column('supplier', sa.String(length=100), nullable=True),
    sa.Column('redemption_id', sa.Integer(), nullable=True),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("kind IN ('restock', 'redemption', 'cancel', 'stocktake', 'writeoff')", name=op.f('ck_stock_movements_kind')),
    sa.CheckConstraint('quantity <> 0', name=op.f('ck_stock_movements_quantity_not_zero')),
    sa.CheckConstraint('stock_after >= 0', name=op.f('ck_stock_movements_stock_after_not_negative')),
    sa.ForeignKeyConstraint(['actor_id'], ['users.id'], name=op.f('fk_stock_movements_actor_id_users')),
    sa.ForeignKeyConstraint(['good_id'], ['goods.id'], name=op.f('fk_stock_movements_good_id_goods')),
    sa.ForeignKeyConstraint(['redemption_id'], ['redemptions.id'], name=op.f('fk_stock_movements_redemption_id_redemptions')),
    sa.ForeignKeyConstraint(['village_id'], ['villages.id'], name=op.f('fk_stock_movements_village_id_villages')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stock_movements'))
    )
    with op.batch_alter_table('stock_movements', schema=None) as batch_op:
        batch_op.create_index('ix_stock_movements_good_id_id', ['good_id', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_stock_movements_redemption_id'), ['redemption_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_stock_movements_village_id'), ['village_id'], unique=False)



def downgrade():
    with op.batch_alter_table('stock_movements', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_stock_movements_village_id'))
        batch_op.drop_index(batch_op.f('ix_stock_movements_redemption_id'))
        batch_op.drop_index('ix_stock_movements_good_id_id')

    op.drop_table('stock_movements')
    with op.batch_alter_table('redemption_lines', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_redemption_lines_redemption_id'))
        batch_op.drop_index(batch_op.f('ix_redemption_lines_good_id'))

    op.drop_table('redemption_lines')
    with op.batch_alter_table('redemptions', schema=None) as batch_op:
        batch_op.drop_index('ix_redemptions_village_id_created_at')
        batch_op.drop_index(batch_op.f('ix_redemptions_household_id'))

    op.drop_table('redemptions')
    op.drop_table('receipt_counters')
    with op.batch_alter_table('goods', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_goods_village_id'))

    op.drop_table('goods')
