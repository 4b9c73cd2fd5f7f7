"""devices: browsers enrolled for offline capture

Revision ID: 0005_devices
Revises: 0004_alerts
Create Date: 2026-12-04 12:45:00

"""
import sqlalchemy as sa
from alembic import op

import server.database

# revision identifiers, used by Alembic.
revision = '0005_devices'
down_revision = '0004_alerts'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('devices',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=60), nullable=False),
    sa.Column('public_key', sa.LargeBinary(length=200), nullable=False),
    sa.Column('created_at', server.database.UTCDateTime(), nullable=False),
    sa.Column('last_used_at', server.database.UTCDateTime(), nullable=True),
    sa.Column('revoked_at', server.database.UTCDateTime(), nullable=True),
    sa.Column('revoked_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['revoked_by_id'], ['users.id'], name=op.f('fk_devices_revoked_by_id_users')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_devices_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_devices'))
    )
    with op.batch_alter_table('devices', schema=None) as batch_op:
        batch_op.create_index('ix_devices_user', ['user_id', 'revoked_at'], unique=False)


def downgrade():
    with op.batch_alter_table('devices', schema=None) as batch_op:
        batch_op.drop_index('ix_devices_user')
    op.drop_table('devices')
