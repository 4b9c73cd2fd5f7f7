"""approvals: requests for a DSL's decision on who reads incidents; users.reader_since

Revision ID: 0006_approvals
Revises: 0005_devices
Create Date: 2026-12-04 13:00:00

"""
import sqlalchemy as sa
from alembic import op

import server.database
from server.database import drop_append_only, make_append_only

# revision identifiers, used by Alembic.
revision = '0006_approvals'
down_revision = '0005_devices'
branch_labels = None
depends_on = None

# A request and the decision on it are facts: never updated or deleted.
APPEND_ONLY = ('access_requests', 'access_decisions')
# The roles that read incidents when this migration was written (server/auth/roles.py
# READER_ROLES; tests/test_approvals.py checks the two agree).
READER_ROLES = ('staff', 'class_teacher', 'pastoral', 'dsl', 'slt')


def upgrade():
    op.create_table('access_requests',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=24), nullable=False),
    sa.Column('target_id', sa.Integer(), nullable=True),
    sa.Column('summary', sa.Text(), nullable=False),
    sa.Column('change', sa.JSON(), nullable=False),
    sa.Column('requested_by_id', sa.Integer(), nullable=False),
    sa.Column('requested_at', server.database.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['requested_by_id'], ['users.id'], name=op.f('fk_access_requests_requested_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_access_requests'))
    )
    with op.batch_alter_table('access_requests', schema=None) as batch_op:
        batch_op.create_index('ix_access_requests_kind_target', ['kind', 'target_id'], unique=False)

    op.create_table('access_decisions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('request_id', sa.Integer(), nullable=False),
    sa.Column('approved', sa.Boolean(), nullable=False),
    sa.Column('decided_by_id', sa.Integer(), nullable=False),
    sa.Column('decided_at', server.database.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['decided_by_id'], ['users.id'], name=op.f('fk_access_decisions_decided_by_id_users')),
    sa.ForeignKeyConstraint(['request_id'], ['access_requests.id'], name=op.f('fk_access_decisions_request_id_access_requests')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_access_decisions')),
    sa.UniqueConstraint('request_id', name=op.f('uq_access_decisions_request_id'))
    )

    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reader_since', server.database.UTCDateTime(), nullable=True))
    # Everyone who reads incidents now, or ever did (wrote one, or was alerted to one), is a
    # reader from the start: their sign-in stays out of the office's reach.
    roles = ", ".join(f"'{role}'" for role in READER_ROLES)
    op.execute(
        "UPDATE users SET reader_since = created_at WHERE "
        f"id IN (SELECT user_id FROM user_roles WHERE role IN ({roles})) "
        "OR id IN (SELECT author_id FROM incidents) "
        "OR id IN (SELECT user_id FROM alerts)"
    )

    for table in APPEND_ONLY:
        make_append_only(table)


def downgrade():
    for table in APPEND_ONLY:
        drop_append_only(table)
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('reader_since')
    op.drop_table('access_decisions')
    op.drop_table('access_requests')
