"""who-knows graph (issue 5): tie features by channel and direction, reply lookup index

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25 19:20:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

INT_COLUMNS = ("replies_ab", "replies_ba", "latency_ab_n", "latency_ba_n")
FLOAT_COLUMNS = ("call_seconds", "latency_ab_sum", "latency_ba_sum", "email_ab", "email_ba",
                 "reply_ab", "reply_ba", "meeting_w", "call_w", "co_w")


def upgrade() -> None:
    with op.batch_alter_table('ties', schema=None) as batch_op:
        for name in INT_COLUMNS:
            batch_op.add_column(sa.Column(name, sa.Integer(), server_default="0",
                                          nullable=False))
        for name in FLOAT_COLUMNS:
            batch_op.add_column(sa.Column(name, sa.Float(), server_default="0", nullable=False))
    # Ties captured before this revision have only the total: count it as email, split by the
    # direction counts, so that strength stays meaningful until `syncd graph rebuild`.
    op.execute("UPDATE ties SET email_ab = score * (a_to_b + 0.5) / (a_to_b + b_to_a + 1.0), "
               "email_ba = score * (b_to_a + 0.5) / (a_to_b + b_to_a + 1.0)")
    op.create_index('ix_interactions_in_reply_to', 'interactions', ['in_reply_to'])


def downgrade() -> None:
    op.drop_index('ix_interactions_in_reply_to', table_name='interactions')
    with op.batch_alter_table('ties', schema=None) as batch_op:
        for name in reversed(INT_COLUMNS + FLOAT_COLUMNS):
            batch_op.drop_column(name)
