"""exchange web services (issue 4)

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-25 19:20:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
