"""relationship analytics and lead lifecycle (issue 8)

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-25 19:20:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

# Columns are added in place (ALTER TABLE ... ADD COLUMN ... REFERENCES on SQLite): batch mode
# would copy and drop the tables, which PRAGMA foreign_keys=ON refuses once other rows point at
# them, and dropping `accounts` would cascade to account_domains. Downgrade must copy (SQLite
# cannot drop a referencing column), so it switches foreign keys off around its batches.
Id = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')

OPPORTUNITY_COLUMNS = [
    ('stage_changed_at', sa.DateTime(timezone=True), True),
    ('closed_at', sa.DateTime(timezone=True), True),
    ('purchase_timeframe', sa.String(length=20), True),
    ('estimated_budget', sa.Numeric(14, 2), True),
    ('purchase_process', sa.String(length=20), True),
    ('decision_maker_identified', sa.Boolean(), True),
    ('customer_need', sa.Text(), True),
    ('proposed_solution', sa.Text(), True),
    ('stakeholders', sa.Text(), True),
    ('competitors', sa.Text(), True),
    ('sales_team', sa.Text(), True),
    ('proposal_presented', sa.Boolean(), True),
    ('internal_review_done', sa.Boolean(), True),
    ('final_proposal_presented', sa.Boolean(), True),
    ('decision_date', sa.Date(), True),
    ('actual_revenue', sa.Numeric(14, 2), True),
    ('close_reason', sa.Text(), True),
]


def _sqlite() -> bool:
    return op.get_bind().dialect.name == 'sqlite'


def _add_reference(table: str, column: str, target: str) -> None:
    """A nullable id column referencing target.id, without copying the table."""
    name = f'fk_{table}_{column}'
    if _sqlite():
        op.execute(f'ALTER TABLE {table} ADD COLUMN {column} INTEGER '
                   f'CONSTRAINT {name} REFERENCES {target} (id)')
    else:
        op.add_column(table, sa.Column(column, Id, nullable=True))
        op.create_foreign_key(name, table, target, [column], ['id'])


def _foreign_keys(on: bool) -> None:
    """SQLite only honours this outside a transaction (https://sqlite.org/foreignkeys.html)."""
    if _sqlite():
        with op.get_context().autocommit_block():
            # Straight to the driver: syncd.store.db starts every SQLAlchemy transaction with
            # BEGIN IMMEDIATE, inside which the pragma would be ignored.
            raw = op.get_bind().connection.driver_connection
            raw.commit()
            raw.execute(f"PRAGMA foreign_keys={'ON' if on else 'OFF'}")


def upgrade() -> None:
    op.create_table('merges',
    sa.Column('id', Id, nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('survivor_id', Id, nullable=False),
    sa.Column('merged_id', Id, nullable=False),
    sa.Column('snapshot', sa.JSON(), nullable=False),
    sa.Column('moved', sa.JSON(), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('merged_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('kind', 'merged_id')
    )
    with op.batch_alter_table('merges', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_merges_survivor_id'), ['survivor_id'], unique=False)

    op.create_table('opportunity_stage_changes',
    sa.Column('id', Id, nullable=False),
    sa.Column('opportunity_id', Id, nullable=False),
    sa.Column('from_stage', sa.String(length=20), nullable=True),
    sa.Column('to_stage', sa.String(length=20), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('changed_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['opportunity_id'], ['opportunities.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('opportunity_stage_changes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_opportunity_stage_changes_opportunity_id'),
                              ['opportunity_id'], unique=False)

    _add_reference('accounts', 'merged_into_id', 'accounts')

    _add_reference('contacts', 'merged_into_id', 'contacts')

    op.add_column('leads', sa.Column('status_reason', sa.String(length=100), nullable=True))
    op.add_column('leads', sa.Column('status_changed_at', sa.DateTime(timezone=True),
                                     nullable=True))
    op.add_column('leads', sa.Column('fields', sa.JSON(), nullable=False,
                                     server_default=sa.text("'{}'")))
    _add_reference('leads', 'merged_into_id', 'leads')

    op.add_column('opportunities', sa.Column('status', sa.String(length=10), nullable=False,
                                             server_default='open'))
    _add_reference('opportunities', 'owner_user_id', 'users')
    for name, type_, nullable in OPPORTUNITY_COLUMNS:
        op.add_column('opportunities', sa.Column(name, type_, nullable=nullable))
    op.create_index(op.f('ix_opportunities_lead_id'), 'opportunities', ['lead_id'], unique=False)


def downgrade() -> None:
    # Dropping a column drops its foreign key too (PostgreSQL; SQLite's copy leaves it out).
    _foreign_keys(False)
    with op.batch_alter_table('opportunities', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_opportunities_lead_id'))
        for name, _, _ in reversed(OPPORTUNITY_COLUMNS):
            batch_op.drop_column(name)
        batch_op.drop_column('owner_user_id')
        batch_op.drop_column('status')

    with op.batch_alter_table('leads', schema=None) as batch_op:
        batch_op.drop_column('merged_into_id')
        batch_op.drop_column('fields')
        batch_op.drop_column('status_changed_at')
        batch_op.drop_column('status_reason')

    with op.batch_alter_table('contacts', schema=None) as batch_op:
        batch_op.drop_column('merged_into_id')

    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.drop_column('merged_into_id')

    with op.batch_alter_table('opportunity_stage_changes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_opportunity_stage_changes_opportunity_id'))
    op.drop_table('opportunity_stage_changes')
    with op.batch_alter_table('merges', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_merges_survivor_id'))
    op.drop_table('merges')
    _foreign_keys(True)
