"""workflows and tracking (issue 6)

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25 19:20:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
When = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_index('ix_events_processed_at', 'events', ['processed_at'])
    op.create_table(
        'workflow_runs',
        sa.Column('id', Id, primary_key=True),
        sa.Column('workflow', sa.String(200), nullable=False),
        sa.Column('dedupe_key', sa.String(500), nullable=False),
        sa.Column('event_id', Id, sa.ForeignKey('events.id'), nullable=True),
        sa.Column('event_type', sa.String(50), nullable=False),
        sa.Column('definition', sa.JSON(), nullable=False),
        sa.Column('context', sa.JSON(), nullable=False),
        sa.Column('status', sa.String(20), nullable=False),
        sa.Column('next_step', sa.Integer(), nullable=False),
        sa.Column('due_at', When, nullable=False),
        sa.Column('last_error', sa.Text(), nullable=True),
        sa.Column('lease_owner', sa.String(200), nullable=True),
        sa.Column('lease_until', When, nullable=True),
        sa.Column('created_at', When, nullable=False),
        sa.Column('updated_at', When, nullable=False),
        sa.UniqueConstraint('workflow', 'dedupe_key'),
    )
    op.create_index('ix_workflow_runs_due', 'workflow_runs', ['status', 'due_at'])
    op.create_index('ix_workflow_runs_event_id', 'workflow_runs', ['event_id'])
    op.create_table(
        'workflow_steps',
        sa.Column('run_id', Id, sa.ForeignKey('workflow_runs.id', ondelete='CASCADE'),
                  primary_key=True),
        sa.Column('idx', sa.Integer(), primary_key=True),
        sa.Column('action', sa.String(30), nullable=False),
        sa.Column('status', sa.String(20), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('result', sa.JSON(), nullable=False),
        sa.Column('error', sa.Text(), nullable=True),
        sa.Column('worker', sa.String(200), nullable=True),
        sa.Column('started_at', When, nullable=False),
        sa.Column('finished_at', When, nullable=True),
    )
    op.create_table(
        'workflow_tasks',
        sa.Column('id', Id, primary_key=True),
        sa.Column('title', sa.String(500), nullable=False),
        sa.Column('notes', sa.Text(), nullable=False),
        sa.Column('lead_id', Id, sa.ForeignKey('leads.id'), nullable=True),
        sa.Column('contact_id', Id, sa.ForeignKey('contacts.id'), nullable=True),
        sa.Column('owner_user_id', Id, sa.ForeignKey('users.id'), nullable=True),
        sa.Column('run_id', Id, sa.ForeignKey('workflow_runs.id', ondelete='SET NULL'),
                  nullable=True),
        sa.Column('status', sa.String(20), nullable=False),
        sa.Column('due_at', When, nullable=True),
        sa.Column('created_at', When, nullable=False),
    )
    op.create_index('ix_workflow_tasks_lead_id', 'workflow_tasks', ['lead_id'])
    op.create_table(
        'tracked_messages',
        sa.Column('id', Id, primary_key=True),
        sa.Column('uid', sa.String(40), nullable=False, unique=True),
        sa.Column('idem_key', sa.String(300), nullable=False, unique=True),
        sa.Column('mailbox', sa.String(320), nullable=False),
        sa.Column('recipient', sa.String(320), nullable=False),
        sa.Column('subject', sa.Text(), nullable=False),
        sa.Column('lead_id', Id, sa.ForeignKey('leads.id'), nullable=True),
        sa.Column('contact_id', Id, sa.ForeignKey('contacts.id'), nullable=True),
        sa.Column('run_id', Id, sa.ForeignKey('workflow_runs.id', ondelete='SET NULL'),
                  nullable=True),
        sa.Column('status', sa.String(20), nullable=False),
        sa.Column('internet_message_id', sa.String(1000), nullable=True),
        sa.Column('error', sa.Text(), nullable=True),
        sa.Column('created_at', When, nullable=False),
        sa.Column('sent_at', When, nullable=True),
    )
    op.create_index('ix_tracked_messages_recipient', 'tracked_messages', ['recipient'])
    op.create_index('ix_tracked_messages_lead_id', 'tracked_messages', ['lead_id'])
    op.create_index('ix_tracked_messages_contact_id', 'tracked_messages', ['contact_id'])
    op.create_index('ix_tracked_messages_internet_message_id', 'tracked_messages',
                    ['internet_message_id'])
    op.create_table(
        'tracking_hits',
        sa.Column('id', Id, primary_key=True),
        sa.Column('message_id', Id, sa.ForeignKey('tracked_messages.id', ondelete='CASCADE'),
                  nullable=False),
        sa.Column('kind', sa.String(10), nullable=False),
        sa.Column('url', sa.Text(), nullable=True),
        sa.Column('at', When, nullable=False),
        sa.Column('user_agent', sa.String(500), nullable=False),
        sa.Column('ip_class', sa.String(40), nullable=False),
        sa.Column('machine', sa.Boolean(), nullable=False),
        sa.Column('reason', sa.String(300), nullable=False),
    )
    op.create_index('ix_tracking_hits_message', 'tracking_hits', ['message_id', 'kind', 'at'])
    op.create_table(
        'form_submissions',
        sa.Column('id', Id, primary_key=True),
        sa.Column('form', sa.String(100), nullable=False),
        sa.Column('email', sa.String(320), nullable=False),
        sa.Column('lead_id', Id, sa.ForeignKey('leads.id'), nullable=True),
        sa.Column('contact_id', Id, sa.ForeignKey('contacts.id'), nullable=True),
        sa.Column('data', sa.JSON(), nullable=False),
        sa.Column('ip_class', sa.String(40), nullable=False),
        sa.Column('created_at', When, nullable=False),
    )
    op.create_index('ix_form_submissions_form', 'form_submissions', ['form'])


def downgrade() -> None:
    op.drop_index('ix_form_submissions_form', table_name='form_submissions')
    op.drop_table('form_submissions')
    op.drop_index('ix_tracking_hits_message', table_name='tracking_hits')
    op.drop_table('tracking_hits')
    for name in ('recipient', 'lead_id', 'contact_id', 'internet_message_id'):
        op.drop_index(f'ix_tracked_messages_{name}', table_name='tracked_messages')
    op.drop_table('tracked_messages')
    op.drop_index('ix_workflow_tasks_lead_id', table_name='workflow_tasks')
    op.drop_table('workflow_tasks')
    op.drop_table('workflow_steps')
    op.drop_index('ix_workflow_runs_event_id', table_name='workflow_runs')
    op.drop_index('ix_workflow_runs_due', table_name='workflow_runs')
    op.drop_table('workflow_runs')
    op.drop_index('ix_events_processed_at', table_name='events')
