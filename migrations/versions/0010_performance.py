"""performance: unread alerts kept as a set (by triggers), and indexes for keyset pages

Revision ID: 0010_performance
Revises: 0009_workspace
Create Date: 2026-12-04 15:45:00

`alert_unread` holds one row per alert not yet read: derived state, kept by the database
itself (a trigger adds the row when an alert is inserted; another removes a person's rows for
an incident when they read it), so every way of writing alerts or reads keeps it right and the
menu's count and the inbox's unread section read only the unread rows, never all of a DSL's
history. `alerts` and `incident_reads` remain the record; this table can always be rebuilt
from them (the upgrade does exactly that).
"""
import sqlalchemy as sa
from alembic import op

import server.database


# revision identifiers, used by Alembic.
revision = '0010_performance'
down_revision = '0009_workspace'
branch_labels = None
depends_on = None

_BACKFILL = (
    "INSERT INTO alert_unread (alert_id, user_id, incident_id, created_at) "
    "SELECT a.id, a.user_id, a.incident_id, a.created_at FROM alerts a "
    "WHERE NOT EXISTS (SELECT 1 FROM incident_reads r WHERE r.user_id = a.user_id "
    "AND r.incident_id = a.incident_id AND r.read_at >= a.created_at)"
)
_ON_ALERT = (
    "INSERT INTO alert_unread (alert_id, user_id, incident_id, created_at) "
    "VALUES (NEW.id, NEW.user_id, NEW.incident_id, NEW.created_at)"
)
# An alert counts as read once its recipient read the incident at or after it was made.
_ON_READ = (
    "DELETE FROM alert_unread WHERE user_id = NEW.user_id AND incident_id = NEW.incident_id "
    "AND created_at <= NEW.read_at"
)


# What the per-process settings cache (server/settings_cache.py) checks once a request: any
# change to these tables, by the application or anyone else, gives it a new random token (a
# token, not a counter: a rolled-back change must never give a number that comes back later).
_SETTINGS_TABLES = ('alert_rules', 'categories', 'agencies')


def _settings_triggers(dialect: str) -> None:
    if dialect == 'sqlite':
        bump = "UPDATE settings_version SET token = lower(hex(randomblob(16))) WHERE id = 1"
        for table in _SETTINGS_TABLES:
            for verb in ('INSERT', 'UPDATE', 'DELETE'):
                op.execute(
                    f"CREATE TRIGGER {table}_settings_{verb.lower()} AFTER {verb} ON {table} "
                    f"BEGIN {bump}; END"
                )
        return
    op.execute(
        "CREATE FUNCTION haven_settings_changed() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        "UPDATE settings_version SET token = md5(random()::text || clock_timestamp()::text) "
        "WHERE id = 1; RETURN NULL; END $$"
    )
    for table in _SETTINGS_TABLES:
        op.execute(
            f"CREATE TRIGGER {table}_settings_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE "
            f"ON {table} FOR EACH STATEMENT EXECUTE FUNCTION haven_settings_changed()"
        )
        op.execute(f"ALTER TABLE {table} ENABLE ALWAYS TRIGGER {table}_settings_changed")


def upgrade():
    op.create_table('settings_version',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_settings_version'))
    )
    op.execute("INSERT INTO settings_version (id, token) VALUES (1, 'initial')")
    op.create_table('alert_unread',
    sa.Column('alert_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('incident_id', sa.Integer(), nullable=False),
    sa.Column('created_at', server.database.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['alert_id'], ['alerts.id'], name=op.f('fk_alert_unread_alert_id_alerts')),
    sa.PrimaryKeyConstraint('alert_id', name=op.f('pk_alert_unread'))
    )
    op.create_index('ix_alert_unread_user_created', 'alert_unread', ['user_id', 'created_at', 'alert_id'])
    op.create_index('ix_alert_unread_user_incident', 'alert_unread', ['user_id', 'incident_id'])
    # The inbox pages through a person's alerts newest first by (created_at, id).
    op.create_index('ix_alerts_user_created_id', 'alerts', ['user_id', 'created_at', 'id'])
    # Reads by person: the unread trigger and "what has she read since" look them up this way.
    op.create_index('ix_incident_reads_user_incident', 'incident_reads', ['user_id', 'incident_id', 'read_at'])
    op.execute(_BACKFILL)
    dialect = op.get_bind().dialect.name
    if dialect == 'sqlite':
        op.execute(f"CREATE TRIGGER alerts_unread_add AFTER INSERT ON alerts BEGIN {_ON_ALERT}; END")
        op.execute(
            f"CREATE TRIGGER incident_reads_unread_remove AFTER INSERT ON incident_reads "
            f"BEGIN {_ON_READ}; END"
        )
    elif dialect == 'postgresql':
        op.execute(
            "CREATE FUNCTION haven_alert_unread_add() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN {_ON_ALERT}; RETURN NULL; END $$"
        )
        op.execute(
            "CREATE FUNCTION haven_alert_unread_remove() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN {_ON_READ}; RETURN NULL; END $$"
        )
        op.execute(
            "CREATE TRIGGER alerts_unread_add AFTER INSERT ON alerts "
            "FOR EACH ROW EXECUTE FUNCTION haven_alert_unread_add()"
        )
        op.execute(
            "CREATE TRIGGER incident_reads_unread_remove AFTER INSERT ON incident_reads "
            "FOR EACH ROW EXECUTE FUNCTION haven_alert_unread_remove()"
        )
        # Kept even under session_replication_role = replica, like the append-only guards.
        op.execute("ALTER TABLE alerts ENABLE ALWAYS TRIGGER alerts_unread_add")
        op.execute("ALTER TABLE incident_reads ENABLE ALWAYS TRIGGER incident_reads_unread_remove")
    _settings_triggers(dialect)


def downgrade():
    dialect = op.get_bind().dialect.name
    for table in _SETTINGS_TABLES:
        if dialect == 'sqlite':
            for verb in ('insert', 'update', 'delete'):
                op.execute(f"DROP TRIGGER IF EXISTS {table}_settings_{verb}")
        else:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_settings_changed ON {table}")
    if dialect == 'postgresql':
        op.execute("DROP FUNCTION IF EXISTS haven_settings_changed()")
    op.drop_table('settings_version')
    if dialect == 'sqlite':
        op.execute("DROP TRIGGER IF EXISTS alerts_unread_add")
        op.execute("DROP TRIGGER IF EXISTS incident_reads_unread_remove")
    elif dialect == 'postgresql':
        op.execute("DROP TRIGGER IF EXISTS alerts_unread_add ON alerts")
        op.execute("DROP TRIGGER IF EXISTS incident_reads_unread_remove ON incident_reads")
        op.execute("DROP FUNCTION IF EXISTS haven_alert_unread_add()")
        op.execute("DROP FUNCTION IF EXISTS haven_alert_unread_remove()")
    op.drop_index('ix_incident_reads_user_incident', table_name='incident_reads')
    op.drop_index('ix_alerts_user_created_id', table_name='alerts')
    op.drop_index('ix_alert_unread_user_incident', table_name='alert_unread')
    op.drop_index('ix_alert_unread_user_created', table_name='alert_unread')
    op.drop_table('alert_unread')
