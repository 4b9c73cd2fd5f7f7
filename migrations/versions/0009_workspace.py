"""workspace: report runs (large exports built by a job), and indexes for the DSL's lists

Revision ID: 0009_workspace
Revises: 0008_push
Create Date: 2026-12-04 12:40:00

"""
import sqlalchemy as sa
from alembic import op

import server.database

# revision identifiers, used by Alembic.
revision = '0009_workspace'
down_revision = '0008_push'
branch_labels = None
depends_on = None


def upgrade():
    # Working state, not a record: updated as the job goes, removed when it expires.
    op.create_table('report_runs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('format', sa.String(length=8), nullable=False),
    sa.Column('params', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('stage', sa.String(length=120), nullable=False),
    sa.Column('progress', sa.Integer(), nullable=False),
    sa.Column('stored_name', sa.String(length=64), nullable=True),
    sa.Column('filename', sa.String(length=200), nullable=True),
    sa.Column('content_type', sa.String(length=100), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('created_at', server.database.UTCDateTime(), nullable=False),
    sa.Column('finished_at', server.database.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_report_runs_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_report_runs'))
    )
    with op.batch_alter_table('report_runs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_report_runs_user_id'), ['user_id'], unique=False)
    # A plain CREATE INDEX: a batch operation could copy the table, and its append-only
    # triggers with it, on SQLite.
    op.create_index('ix_incidents_occurred', 'incidents', ['occurred_at'], unique=False)


def downgrade():
    op.drop_index('ix_incidents_occurred', table_name='incidents')
    with op.batch_alter_table('report_runs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_report_runs_user_id'))
    op.drop_table('report_runs')
