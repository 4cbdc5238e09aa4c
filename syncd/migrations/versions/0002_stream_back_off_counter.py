"""stream back-off counter

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 17:00:08.750637
"""

from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('streams', schema=None) as batch_op:
        batch_op.add_column(sa.Column('consecutive_failures', sa.Integer(), server_default='0', nullable=False))



def downgrade() -> None:
    with op.batch_alter_table('streams', schema=None) as batch_op:
        batch_op.drop_column('consecutive_failures')

