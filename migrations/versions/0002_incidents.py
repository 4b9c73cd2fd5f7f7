"""incidents: incidents, their parts, actions and events, all append-only

Revision ID: 0002_incidents
Revises: 0001
Create Date: 2026-11-28 19:30:00

"""
import sqlalchemy as sa
from alembic import op

import server.database
from server.database import drop_append_only, make_append_only

# revision identifiers, used by Alembic.
revision = '0002_incidents'
down_revision = '0001'
branch_labels = None
depends_on = None

# Every table of this feature: once written, never updated or deleted (SPEC §2, §3).
APPEND_ONLY = (
    'incidents',
    'incident_pupils',
    'incident_categories',
    'incident_agencies',
    'incident_body_marks',
    'incident_files',
    'actions',
    'incident_events',
    'incident_event_categories',
)


def upgrade():
    op.create_table('incidents',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('uuid', sa.String(length=36), nullable=False),
    sa.Column('content_hash', sa.String(length=64), nullable=False),
    sa.Column('pupil_id', sa.Integer(), nullable=False),
    sa.Column('occurred_at', server.database.UTCDateTime(), nullable=False),
    sa.Column('location', sa.String(length=200), nullable=True),
    sa.Column('account', sa.Text(), nullable=False),
    sa.Column('parents_contacted', sa.String(length=10), nullable=False),
    sa.Column('parents_reason', sa.Text(), nullable=True),
    sa.Column('medical_attention', sa.String(length=12), nullable=False),
    sa.Column('urgent', sa.Boolean(), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=False),
    sa.Column('recorded_on_behalf_name', sa.String(length=120), nullable=True),
    sa.Column('recorded_on_behalf_role', sa.String(length=120), nullable=True),
    sa.Column('created_at', server.database.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['author_id'], ['users.id'], name=op.f('fk_incidents_author_id_users')),
    sa.ForeignKeyConstraint(['pupil_id'], ['pupils.id'], name=op.f('fk_incidents_pupil_id_pupils')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_incidents')),
    sa.UniqueConstraint('number', name=op.f('uq_incidents_number')),
    sa.UniqueConstraint('uuid', name=op.f('uq_incidents_uuid'))
    )
    with op.batch_alter_table('incidents', schema=None) as batch_op:
        batch_op.create_index('ix_incidents_pupil_occurred', ['pupil_id', 'occurred_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_incidents_author_id'), ['author_id'], unique=False)

    op.create_table('incident_pupils',
    sa.Column('incident_id', sa.Integer(), nullable=False),
    sa.Column('pupil_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['incident_id'], ['incidents.id'], name=op.f('fk_incident_pupils_incident_id_incidents')),
    sa.ForeignKeyConstraint(['pupil_id'], ['pupils.id'], name=op.f('fk_incident_pupils_pupil_id_pupils')),
    sa.PrimaryKeyConstraint('incident_id', 'pupil_id', name=op.f('pk_incident_pupils'))
    )
    with op.batch_alter_table('incident_pupils', schema=None) as batch_op:
        batch_op.create_index('ix_incident_pupils_pupil', ['pupil_id'], unique=False)

    op.create_table('incident_categories',
    sa.Column('incident_id', sa.Integer(), nullable=False),
    sa.Column('category_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['category_id'], ['categories.id'], name=op.f('fk_incident_categories_category_id_categories')),
    sa.ForeignKeyConstraint(['incident_id'], ['incidents.id'], name=op.f('fk_incident_categories_incident_id_incidents')),
    sa.PrimaryKeyConstraint('incident_id', 'category_id', name=op.f('pk_incident_categories'))
    )
    op.create_table('incident_agencies',
    sa.Column('incident_id', sa.Integer(), nullable=False),
    sa.Column('agency_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['agency_id'], ['agencies.id'], name=op.f('fk_incident_agencies_agency_id_agencies')),
    sa.ForeignKeyConstraint(['incident_id'], ['incidents.id'], name=op.f('fk_incident_agencies_incident_id_incidents')),
    sa.PrimaryKeyConstraint('incident_id', 'agency_id', name=op.f('pk_incident_agencies'))
    )
    op.create_table('incident_body_marks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('incident_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('side', sa.String(length=5), nullable=False),
    sa.Column('x', sa.Float(), nullable=False),
    sa.Column('y', sa.Float(), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['incident_id'], ['incidents.id'], name=op.f('fk_incident_body_marks_incident_id_incidents')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_incident_body_marks')),
    sa.UniqueConstraint('incident_id', 'number', name=op.f('uq_incident_body_marks_incident_id'))
    )
    op.create_table('incident_files',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('incident_id', sa.Integer(), nullable=False),
    sa.Column('original_name', sa.String(length=255), nullable=False),
    sa.Column('stored_name', sa.String(length=64), nullable=False),
    sa.Column('content_type', sa.String(length=100), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('created_at', server.database.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['incident_id'], ['incidents.id'], name=op.f('fk_incident_files_incident_id_incidents')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_incident_files')),
    sa.UniqueConstraint('stored_name', name=op.f('uq_incident_files_stored_name'))
    )
    with op.batch_alter_table('incident_files', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_incident_files_incident_id'), ['incident_id'], unique=False)

    op.create_table('actions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('incident_id', sa.Integer(), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('assignee_id', sa.Integer(), nullable=True),
    sa.Column('due_on', sa.Date(), nullable=True),
    sa.Column('recorded_on_behalf_name', sa.String(length=120), nullable=True),
    sa.Column('recorded_on_behalf_role', sa.String(length=120), nullable=True),
    sa.Column('created_at', server.database.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['assignee_id'], ['users.id'], name=op.f('fk_actions_assignee_id_users')),
    sa.ForeignKeyConstraint(['author_id'], ['users.id'], name=op.f('fk_actions_author_id_users')),
    sa.ForeignKeyConstraint(['incident_id'], ['incidents.id'], name=op.f('fk_actions_incident_id_incidents')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_actions'))
    )
    with op.batch_alter_table('actions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_actions_assignee_id'), ['assignee_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_actions_incident_id'), ['incident_id'], unique=False)

    op.create_table('incident_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('incident_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('author_id', sa.Integer(), nullable=False),
    sa.Column('created_at', server.database.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['author_id'], ['users.id'], name=op.f('fk_incident_events_author_id_users')),
    sa.ForeignKeyConstraint(['incident_id'], ['incidents.id'], name=op.f('fk_incident_events_incident_id_incidents')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_incident_events'))
    )
    with op.batch_alter_table('incident_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_incident_events_incident_id'), ['incident_id'], unique=False)

    op.create_table('incident_event_categories',
    sa.Column('event_id', sa.Integer(), nullable=False),
    sa.Column('category_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['category_id'], ['categories.id'], name=op.f('fk_incident_event_categories_category_id_categories')),
    sa.ForeignKeyConstraint(['event_id'], ['incident_events.id'], name=op.f('fk_incident_event_categories_event_id_incident_events')),
    sa.PrimaryKeyConstraint('event_id', 'category_id', name=op.f('pk_incident_event_categories'))
    )

    for table in APPEND_ONLY:
        make_append_only(table)


def downgrade():
    for table in reversed(APPEND_ONLY):
        drop_append_only(table)
        op.drop_table(table)
