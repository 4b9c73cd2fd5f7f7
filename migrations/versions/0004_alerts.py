"""alerts: per-recipient alert rows, reads of incidents, admin-editable alert rules

Revision ID: 0004_alerts
Revises: 0003_passkeys
Create Date: 2026-11-28 19:50:00

"""
import sqlalchemy as sa
from alembic import op

import server.database
from server.database import drop_append_only, make_append_only

# revision identifiers, used by Alembic.
revision = '0004_alerts'
down_revision = '0003_passkeys'
branch_labels = None
depends_on = None

# Who was alerted, and who read what, are facts: never updated or deleted.
APPEND_ONLY = ('alerts', 'incident_reads')

# The defaults of SPEC §4, as they stood when this migration was written (server/alerts/rules.py
# DEFAULT_RULES; tests/test_alert_rules.py checks the two agree).
DEFAULT_RULES = [
    ('incident', 'dsl'),  # so a "Cause for concern – Safeguarding disclosure" reaches every DSL
    ('incident', 'slt'),
    ('incident', 'pastoral'),
    ('incident', 'class_teacher'),
    ('sensitive_incident', 'dsl'),
    ('sensitive_incident', 'slt'),
    ('sensitive_incident', 'pastoral'),
    ('action', 'slt'),
    ('action', 'pastoral'),
    ('action', 'author'),
    ('action', 'assignee'),
]


def upgrade():
    op.create_table('alert_rules',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('event', sa.String(length=24), nullable=False),
    sa.Column('recipient', sa.String(length=24), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alert_rules')),
    sa.UniqueConstraint('event', 'recipient', name=op.f('uq_alert_rules_event'))
    )
    op.create_table('incident_reads',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('incident_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('read_at', server.database.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['incident_id'], ['incidents.id'], name=op.f('fk_incident_reads_incident_id_incidents')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_incident_reads_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_incident_reads'))
    )
    with op.batch_alter_table('incident_reads', schema=None) as batch_op:
        batch_op.create_index('ix_incident_reads_incident_user', ['incident_id', 'user_id', 'read_at'], unique=False)

    op.create_table('alerts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('incident_id', sa.Integer(), nullable=False),
    sa.Column('action_id', sa.Integer(), nullable=True),
    sa.Column('reason', sa.String(length=20), nullable=False),
    sa.Column('created_at', server.database.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['action_id'], ['actions.id'], name=op.f('fk_alerts_action_id_actions')),
    sa.ForeignKeyConstraint(['incident_id'], ['incidents.id'], name=op.f('fk_alerts_incident_id_incidents')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_alerts_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alerts'))
    )
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.create_index('ix_alerts_user_created', ['user_id', 'created_at'], unique=False)
        batch_op.create_index('ix_alerts_incident_user', ['incident_id', 'user_id'], unique=False)
        # NULLs are distinct in unique constraints: one partial unique index per kind of alert.
        batch_op.create_index('uq_alerts_incident_user', ['incident_id', 'user_id'], unique=True,
                              sqlite_where=sa.text('action_id IS NULL'),
                              postgresql_where=sa.text('action_id IS NULL'))
        batch_op.create_index('uq_alerts_action_user', ['action_id', 'user_id'], unique=True,
                              sqlite_where=sa.text('action_id IS NOT NULL'),
                              postgresql_where=sa.text('action_id IS NOT NULL'))

    rules = sa.table('alert_rules', sa.column('event', sa.String), sa.column('recipient', sa.String))
    op.bulk_insert(rules, [{'event': event, 'recipient': recipient} for event, recipient in DEFAULT_RULES])

    for table in APPEND_ONLY:
        make_append_only(table)


def downgrade():
    for table in APPEND_ONLY:
        drop_append_only(table)
    op.drop_table('alerts')
    op.drop_table('incident_reads')
    op.drop_table('alert_rules')
