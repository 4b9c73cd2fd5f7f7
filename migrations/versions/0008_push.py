"""push: subscriptions, the delivery outbox, escalation steps, incident openings

Revision ID: 0008_push
Revises: 0007_integrity
Create Date: 2026-12-04 12:50:00

"""
import sqlalchemy as sa
from alembic import op

import server.database
from server.database import drop_append_only, make_append_only

# revision identifiers, used by Alembic.
revision = '0008_push'
down_revision = '0007_integrity'
branch_labels = None
depends_on = None

# Escalating an incident and opening it are facts: never updated or deleted.
APPEND_ONLY = ('escalations', 'incident_openings')


def upgrade():
    op.create_table('escalations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('incident_id', sa.Integer(), nullable=False),
    sa.Column('step', sa.String(length=8), nullable=False),
    sa.Column('recipients', sa.Integer(), nullable=False),
    sa.Column('created_at', server.database.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['incident_id'], ['incidents.id'], name=op.f('fk_escalations_incident_id_incidents')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_escalations')),
    sa.UniqueConstraint('incident_id', 'step', name=op.f('uq_escalations_incident_id'))
    )
    with op.batch_alter_table('escalations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_escalations_incident_id'), ['incident_id'], unique=False)

    op.create_table('incident_openings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('incident_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('opened_at', server.database.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['incident_id'], ['incidents.id'], name=op.f('fk_incident_openings_incident_id_incidents')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_incident_openings_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_incident_openings'))
    )
    with op.batch_alter_table('incident_openings', schema=None) as batch_op:
        batch_op.create_index('ix_incident_openings_incident_user', ['incident_id', 'user_id', 'opened_at'], unique=False)

    op.create_table('push_subscriptions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('endpoint', sa.String(length=1024), nullable=False),
    sa.Column('p256dh', sa.String(length=128), nullable=False),
    sa.Column('auth', sa.String(length=64), nullable=False),
    # The enrolled device (offline capture), when the browser is one.
    sa.Column('device_id', sa.Integer(), nullable=True),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('created_at', server.database.UTCDateTime(), nullable=False),
    sa.Column('last_seen_at', server.database.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_push_subscriptions_user_id_users')),
    sa.ForeignKeyConstraint(['device_id'], ['devices.id'], name=op.f('fk_push_subscriptions_device_id_devices')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_push_subscriptions')),
    sa.UniqueConstraint('endpoint', name=op.f('uq_push_subscriptions_endpoint'))
    )
    with op.batch_alter_table('push_subscriptions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_push_subscriptions_user_id'), ['user_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_push_subscriptions_device_id'), ['device_id'], unique=False)

    op.create_table('push_deliveries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('subscription_id', sa.Integer(), nullable=True),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('alert_id', sa.Integer(), nullable=True),
    sa.Column('escalation_id', sa.Integer(), nullable=True),
    sa.Column('high_urgency', sa.Boolean(), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', server.database.UTCDateTime(), nullable=False),
    sa.Column('claimed_at', server.database.UTCDateTime(), nullable=True),
    sa.Column('sent_at', server.database.UTCDateTime(), nullable=True),
    sa.Column('last_error', sa.String(length=200), nullable=False),
    sa.Column('created_at', server.database.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['alert_id'], ['alerts.id'], name=op.f('fk_push_deliveries_alert_id_alerts')),
    sa.ForeignKeyConstraint(['escalation_id'], ['escalations.id'], name=op.f('fk_push_deliveries_escalation_id_escalations')),
    sa.ForeignKeyConstraint(['subscription_id'], ['push_subscriptions.id'], name=op.f('fk_push_deliveries_subscription_id_push_subscriptions'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_push_deliveries_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_push_deliveries'))
    )
    with op.batch_alter_table('push_deliveries', schema=None) as batch_op:
        batch_op.create_index('ix_push_deliveries_status_due', ['status', 'next_attempt_at'], unique=False)
        batch_op.create_index('uq_push_deliveries_alert', ['subscription_id', 'alert_id'], unique=True,
                              sqlite_where=sa.text('alert_id IS NOT NULL'),
                              postgresql_where=sa.text('alert_id IS NOT NULL'))
        batch_op.create_index('uq_push_deliveries_escalation', ['subscription_id', 'escalation_id'], unique=True,
                              sqlite_where=sa.text('escalation_id IS NOT NULL'),
                              postgresql_where=sa.text('escalation_id IS NOT NULL'))

    for table in APPEND_ONLY:
        make_append_only(table)


def downgrade():
    for table in APPEND_ONLY:
        drop_append_only(table)
    op.drop_table('push_deliveries')
    op.drop_table('push_subscriptions')
    op.drop_table('incident_openings')
    op.drop_table('escalations')
