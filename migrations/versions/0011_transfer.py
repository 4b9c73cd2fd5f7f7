"""transfer: schools' keys, outgoing and incoming transfers, reminders, imported records

Revision ID: 0011_transfer
Revises: 0009_workspace
Create Date: 2026-12-04 15:40:00

Imported incidents and files are records from another school: append-only in the database,
like this school's own incidents (0002). Push deliveries may now carry a transfer reminder.
"""
import sqlalchemy as sa
from alembic import op

import server.database
from server.database import drop_append_only, make_append_only

# revision identifiers, used by Alembic.
revision = '0011_transfer'
down_revision = '0009_workspace'
branch_labels = None
depends_on = None

APPEND_ONLY = ('imported_incidents', 'imported_files')
Moment = server.database.UTCDateTime


def upgrade():
    op.create_table('transfer_schools',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('fingerprint', sa.String(length=40), nullable=False),
    sa.Column('school_name', sa.String(length=200), nullable=False),
    sa.Column('urn', sa.String(length=20), nullable=False),
    sa.Column('signing_key', sa.String(length=64), nullable=False),
    sa.Column('encryption_key', sa.String(length=64), nullable=False),
    sa.Column('endpoint', sa.String(length=500), nullable=False),
    sa.Column('trusted_by_id', sa.Integer(), nullable=False),
    sa.Column('trusted_at', Moment(), nullable=False),
    sa.ForeignKeyConstraint(['trusted_by_id'], ['users.id'], name=op.f('fk_transfer_schools_trusted_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_transfer_schools')),
    sa.UniqueConstraint('fingerprint', name=op.f('uq_transfer_schools_fingerprint'))
    )
    op.create_table('outgoing_transfers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('package_id', sa.String(length=64), nullable=False),
    sa.Column('pupil_id', sa.Integer(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=False),
    sa.Column('created_at', Moment(), nullable=False),
    sa.Column('recipient_name', sa.String(length=200), nullable=False),
    sa.Column('recipient_urn', sa.String(length=20), nullable=False),
    sa.Column('recipient_fingerprint', sa.String(length=40), nullable=False),
    sa.Column('recipient_signing_key', sa.String(length=64), nullable=False),
    sa.Column('recipient_encryption_key', sa.String(length=64), nullable=False),
    sa.Column('recipient_endpoint', sa.String(length=500), nullable=False),
    sa.Column('incidents', sa.Integer(), nullable=False),
    sa.Column('files', sa.Integer(), nullable=False),
    sa.Column('package_sha256', sa.String(length=64), nullable=False),
    sa.Column('stored_name', sa.String(length=64), nullable=True),
    sa.Column('sent_at', Moment(), nullable=True),
    sa.Column('sent_by', sa.String(length=12), nullable=False),
    sa.Column('received_at', Moment(), nullable=True),
    sa.Column('confirmed_at', Moment(), nullable=True),
    sa.Column('receipt', sa.Text(), nullable=True),
    sa.Column('delivery_error', sa.String(length=300), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_outgoing_transfers_created_by_id_users')),
    sa.ForeignKeyConstraint(['pupil_id'], ['pupils.id'], name=op.f('fk_outgoing_transfers_pupil_id_pupils')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outgoing_transfers')),
    sa.UniqueConstraint('package_id', name=op.f('uq_outgoing_transfers_package_id'))
    )
    op.create_index(op.f('ix_outgoing_transfers_pupil_id'), 'outgoing_transfers', ['pupil_id'], unique=False)
    op.create_table('transfer_reminders',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('transfer_id', sa.Integer(), nullable=False),
    sa.Column('school_day', sa.Date(), nullable=False),
    sa.Column('recipients', sa.Integer(), nullable=False),
    sa.Column('created_at', Moment(), nullable=False),
    sa.ForeignKeyConstraint(['transfer_id'], ['outgoing_transfers.id'], name=op.f('fk_transfer_reminders_transfer_id_outgoing_transfers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_transfer_reminders')),
    sa.UniqueConstraint('transfer_id', 'school_day', name=op.f('uq_transfer_reminders_transfer_id'))
    )
    op.create_table('incoming_transfers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('package_id', sa.String(length=64), nullable=False),
    sa.Column('package_sha256', sa.String(length=64), nullable=False),
    sa.Column('sender_name', sa.String(length=200), nullable=False),
    sa.Column('sender_urn', sa.String(length=20), nullable=False),
    sa.Column('sender_fingerprint', sa.String(length=40), nullable=False),
    sa.Column('sender_endpoint', sa.String(length=500), nullable=False),
    sa.Column('package_created_at', sa.String(length=40), nullable=False),
    sa.Column('received_at', Moment(), nullable=False),
    sa.Column('received_via', sa.String(length=12), nullable=False),
    sa.Column('stored_name', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('pupil_id', sa.Integer(), nullable=True),
    sa.Column('imported_at', Moment(), nullable=True),
    sa.Column('imported_by_id', sa.Integer(), nullable=True),
    sa.Column('receipt', sa.Text(), nullable=True),
    sa.Column('receipt_sent_at', Moment(), nullable=True),
    sa.Column('receipt_error', sa.String(length=300), nullable=False),
    sa.ForeignKeyConstraint(['imported_by_id'], ['users.id'], name=op.f('fk_incoming_transfers_imported_by_id_users')),
    sa.ForeignKeyConstraint(['pupil_id'], ['pupils.id'], name=op.f('fk_incoming_transfers_pupil_id_pupils')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_incoming_transfers')),
    sa.UniqueConstraint('package_id', name=op.f('uq_incoming_transfers_package_id')),
    sa.UniqueConstraint('stored_name', name=op.f('uq_incoming_transfers_stored_name'))
    )
    op.create_index(op.f('ix_incoming_transfers_pupil_id'), 'incoming_transfers', ['pupil_id'], unique=False)
    op.create_index(op.f('ix_incoming_transfers_sender_fingerprint'), 'incoming_transfers', ['sender_fingerprint'], unique=False)
    op.create_table('imported_incidents',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('incoming_transfer_id', sa.Integer(), nullable=False),
    sa.Column('pupil_id', sa.Integer(), nullable=False),
    sa.Column('source_uuid', sa.String(length=64), nullable=False),
    sa.Column('source_number', sa.Integer(), nullable=False),
    sa.Column('occurred_at', Moment(), nullable=False),
    sa.Column('sensitive', sa.Boolean(), nullable=False),
    sa.Column('content', sa.Text(), nullable=False),
    sa.Column('imported_at', Moment(), nullable=False),
    sa.ForeignKeyConstraint(['incoming_transfer_id'], ['incoming_transfers.id'], name=op.f('fk_imported_incidents_incoming_transfer_id_incoming_transfers')),
    sa.ForeignKeyConstraint(['pupil_id'], ['pupils.id'], name=op.f('fk_imported_incidents_pupil_id_pupils')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_imported_incidents')),
    sa.UniqueConstraint('incoming_transfer_id', 'source_uuid', name=op.f('uq_imported_incidents_incoming_transfer_id'))
    )
    op.create_index(op.f('ix_imported_incidents_pupil_id'), 'imported_incidents', ['pupil_id'], unique=False)
    op.create_table('imported_files',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('incoming_transfer_id', sa.Integer(), nullable=False),
    sa.Column('imported_incident_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('original_name', sa.String(length=255), nullable=False),
    sa.Column('content_type', sa.String(length=100), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('stored_name', sa.String(length=64), nullable=False),
    sa.Column('imported_at', Moment(), nullable=False),
    sa.ForeignKeyConstraint(['imported_incident_id'], ['imported_incidents.id'], name=op.f('fk_imported_files_imported_incident_id_imported_incidents')),
    sa.ForeignKeyConstraint(['incoming_transfer_id'], ['incoming_transfers.id'], name=op.f('fk_imported_files_incoming_transfer_id_incoming_transfers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_imported_files')),
    sa.UniqueConstraint('stored_name', name=op.f('uq_imported_files_stored_name'))
    )
    for table in APPEND_ONLY:
        make_append_only(table)

    with op.batch_alter_table('push_deliveries', schema=None) as batch_op:
        batch_op.add_column(sa.Column('transfer_reminder_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f('fk_push_deliveries_transfer_reminder_id_transfer_reminders'),
            'transfer_reminders', ['transfer_reminder_id'], ['id'])
        batch_op.create_index('uq_push_deliveries_transfer_reminder', ['subscription_id', 'transfer_reminder_id'], unique=True,
                              sqlite_where=sa.text('transfer_reminder_id IS NOT NULL'),
                              postgresql_where=sa.text('transfer_reminder_id IS NOT NULL'))


def downgrade():
    with op.batch_alter_table('push_deliveries', schema=None) as batch_op:
        batch_op.drop_index('uq_push_deliveries_transfer_reminder')
        batch_op.drop_constraint(
            batch_op.f('fk_push_deliveries_transfer_reminder_id_transfer_reminders'), type_='foreignkey')
        batch_op.drop_column('transfer_reminder_id')
    for table in reversed(APPEND_ONLY):
        drop_append_only(table)
    op.drop_table('imported_files')
    op.drop_table('imported_incidents')
    op.drop_table('incoming_transfers')
    op.drop_table('transfer_reminders')
    op.drop_table('outgoing_transfers')
    op.drop_table('transfer_schools')
