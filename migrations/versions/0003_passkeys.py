"""passkeys: WebAuthn credentials and server-side challenges

Revision ID: 0003_passkeys
Revises: 0002_incidents
Create Date: 2026-11-28 19:40:00

"""
import sqlalchemy as sa
from alembic import op

import server.database

# revision identifiers, used by Alembic.
revision = '0003_passkeys'
down_revision = '0002_incidents'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('passkey_credentials',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=60), nullable=False),
    sa.Column('credential_id', sa.LargeBinary(length=1023), nullable=False),
    sa.Column('public_key', sa.LargeBinary(), nullable=False),
    sa.Column('sign_count', sa.BigInteger(), nullable=False),
    sa.Column('user_handle', sa.LargeBinary(length=64), nullable=False),
    sa.Column('aaguid', sa.String(length=36), nullable=False),
    sa.Column('transports', sa.String(length=120), nullable=False),
    sa.Column('backed_up', sa.Boolean(), nullable=False),
    sa.Column('created_at', server.database.UTCDateTime(), nullable=False),
    sa.Column('last_used_at', server.database.UTCDateTime(), nullable=True),
    sa.Column('revoked_at', server.database.UTCDateTime(), nullable=True),
    sa.Column('revoked_by_id', sa.Integer(), nullable=True),
    sa.Column('flagged_at', server.database.UTCDateTime(), nullable=True),
    sa.Column('flag_reason', sa.String(length=120), nullable=True),
    sa.ForeignKeyConstraint(['revoked_by_id'], ['users.id'], name=op.f('fk_passkey_credentials_revoked_by_id_users')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_passkey_credentials_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_passkey_credentials')),
    sa.UniqueConstraint('credential_id', name=op.f('uq_passkey_credentials_credential_id'))
    )
    with op.batch_alter_table('passkey_credentials', schema=None) as batch_op:
        batch_op.create_index('ix_passkey_credentials_user', ['user_id', 'revoked_at'], unique=False)

    op.create_table('webauthn_challenges',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('challenge', sa.LargeBinary(length=64), nullable=False),
    sa.Column('purpose', sa.String(length=16), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('session_id', sa.Integer(), nullable=False),
    sa.Column('created_at', server.database.UTCDateTime(), nullable=False),
    sa.Column('expires_at', server.database.UTCDateTime(), nullable=False),
    sa.Column('used_at', server.database.UTCDateTime(), nullable=True),
    sa.Column('user_handle', sa.LargeBinary(length=64), nullable=True),
    sa.ForeignKeyConstraint(['session_id'], ['user_sessions.id'], name=op.f('fk_webauthn_challenges_session_id_user_sessions'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_webauthn_challenges_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_webauthn_challenges')),
    sa.UniqueConstraint('challenge', name=op.f('uq_webauthn_challenges_challenge'))
    )
    with op.batch_alter_table('webauthn_challenges', schema=None) as batch_op:
        batch_op.create_index('ix_webauthn_challenges_expires_at', ['expires_at'], unique=False)


def downgrade():
    with op.batch_alter_table('webauthn_challenges', schema=None) as batch_op:
        batch_op.drop_index('ix_webauthn_challenges_expires_at')

    op.drop_table('webauthn_challenges')
    with op.batch_alter_table('passkey_credentials', schema=None) as batch_op:
        batch_op.drop_index('ix_passkey_credentials_user')

    op.drop_table('passkey_credentials')
