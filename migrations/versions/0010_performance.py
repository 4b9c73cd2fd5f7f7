"""performance: unread alerts and incidents' current status kept by triggers; keyset indexes

Revision ID: 0010_performance
Revises: 0009_workspace
Create Date: 2026-12-04 15:45:00

`alert_unread` holds one row per alert not yet read: derived state, kept by the database
itself (a trigger adds the row when an alert is inserted; another removes a person's rows for
an incident when they read it), so every way of writing alerts or reads keeps it right and the
menu's count and the inbox's unread section read only the unread rows, never all of a DSL's
history. `alerts` and `incident_reads` remain the record; this table can always be rebuilt
from them (the upgrade does exactly that). Each unread row also carries the inbox's section
(`rank`: 0 urgent or Safeguarding, 1 the rest) and whether the incident is now Safeguarding,
set when the alert is made and again at each re-categorisation, so the inbox's page 1 is one
walk down (user_id, rank, created_at desc, alert_id desc), LIMITed, whatever the backlog.

`incident_state` is the same idea for the home page's workspace: each incident's current
status ("referred" for an open one with an agency), kept by triggers on inserts into
`incidents`, `incident_events` and `incident_agencies`; the incident and its events stay
immutable and remain the record. Its lists and capped counts walk (in_error, status,
created_at, incident_id).
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

def _sensitive(incident_id: str) -> str:
    """SQL: whether the incident is now Safeguarding (its latest re-categorisation's
    categories, else those first recorded), as `Incident.is_sensitive` reads it."""
    recategorised = (
        f"SELECT 1 FROM incident_events e WHERE e.incident_id = {incident_id} "
        "AND e.kind = 'recategorised'"
    )
    latest = (
        f"SELECT max(e2.id) FROM incident_events e2 WHERE e2.incident_id = {incident_id} "
        "AND e2.kind = 'recategorised'"
    )
    return (
        f"(CASE WHEN EXISTS ({recategorised}) THEN EXISTS (SELECT 1 FROM "
        "incident_event_categories ec JOIN categories c ON c.id = ec.category_id "
        f"WHERE c.sensitive AND ec.event_id = ({latest})) "
        "ELSE EXISTS (SELECT 1 FROM incident_categories ic JOIN categories c "
        f"ON c.id = ic.category_id WHERE c.sensitive AND ic.incident_id = {incident_id}) END)"
    )


def _rank(incident_id: str, sensitive: str) -> str:
    """SQL: the inbox's section while unread, 0 (urgent or Safeguarding) or 1."""
    urgent = f"(SELECT i.urgent FROM incidents i WHERE i.id = {incident_id})"
    return f"(CASE WHEN {urgent} OR {sensitive} THEN 0 ELSE 1 END)"


_ON_ALERT = (
    "INSERT INTO alert_unread (alert_id, user_id, incident_id, created_at, sensitive, rank) "
    "VALUES (NEW.id, NEW.user_id, NEW.incident_id, NEW.created_at, "
    f"{_sensitive('NEW.incident_id')}, {_rank('NEW.incident_id', _sensitive('NEW.incident_id'))})"
)
# A re-categorisation's categories arrive a row at a time after its event: each row sets the
# incident's unread alerts to what the event's categories (so far, and so at the last row, all
# of them) say. The event is the incident's latest re-categorisation when it is appended.
_EVENT_SENSITIVE = (
    "EXISTS (SELECT 1 FROM incident_event_categories ec JOIN categories c "
    "ON c.id = ec.category_id WHERE ec.event_id = NEW.event_id AND c.sensitive)"
)
_ON_RECATEGORISED = (
    f"UPDATE alert_unread SET sensitive = {_EVENT_SENSITIVE}, "
    f"rank = {_rank('alert_unread.incident_id', _EVENT_SENSITIVE)} "
    "WHERE incident_id = (SELECT e.incident_id FROM incident_events e WHERE e.id = NEW.event_id)"
)
_UNREAD_RANK_BACKFILL = (
    f"UPDATE alert_unread SET sensitive = {_sensitive('alert_unread.incident_id')}, "
    f"rank = {_rank('alert_unread.incident_id', _sensitive('alert_unread.incident_id'))}"
)

# incident_state: the workspace's current status of each incident (see IncidentState).
_STATUS_AFTER = {
    'closed': 'closed',
    'reopened': 'open',
    'no_further_action': 'no_further_action',
    'monitoring': 'monitoring',
    'monitoring_ended': 'open',
}
_STATUS_KINDS = ", ".join(f"'{kind}'" for kind in _STATUS_AFTER)


def _status_after(kind: str, referred: str) -> str:
    whens = " ".join(
        f"WHEN '{k}' THEN {_open_or_referred(referred) if v == 'open' else repr(v)}"
        for k, v in _STATUS_AFTER.items()
    )
    return f"(CASE {kind} {whens} END)"


def _open_or_referred(referred: str) -> str:
    return f"(CASE WHEN {referred} THEN 'referred' ELSE 'open' END)"


_ON_INCIDENT = (
    "INSERT INTO incident_state (incident_id, status, referred, in_error, created_at) "
    "VALUES (NEW.id, 'open', FALSE, FALSE, NEW.created_at)"
)
_ON_STATUS_EVENT = (
    f"UPDATE incident_state SET status = {_status_after('NEW.kind', 'incident_state.referred')}, "
    "status_event_id = NEW.id WHERE incident_id = NEW.incident_id "
    f"AND NEW.kind IN ({_STATUS_KINDS}) "
    "AND (status_event_id IS NULL OR status_event_id < NEW.id)"
)
_ON_ERROR_EVENT = (
    "UPDATE incident_state SET in_error = TRUE WHERE incident_id = NEW.incident_id "
    "AND NEW.kind = 'entered_in_error'"
)
_ON_AGENCY = (
    "UPDATE incident_state SET referred = TRUE, "
    "status = CASE WHEN status = 'open' THEN 'referred' ELSE status END "
    "WHERE incident_id = NEW.incident_id"
)
_STATE_BACKFILL = (
    "INSERT INTO incident_state (incident_id, status, status_event_id, referred, in_error, "
    "created_at) SELECT i.id, 'open', (SELECT max(e.id) FROM incident_events e "
    f"WHERE e.incident_id = i.id AND e.kind IN ({_STATUS_KINDS})), "
    "EXISTS (SELECT 1 FROM incident_agencies a WHERE a.incident_id = i.id), "
    "EXISTS (SELECT 1 FROM incident_events e WHERE e.incident_id = i.id "
    "AND e.kind = 'entered_in_error'), i.created_at FROM incidents i"
)
_STATE_BACKFILL_STATUS = (
    "UPDATE incident_state SET status = CASE WHEN status_event_id IS NULL THEN "
    f"{_open_or_referred('referred')} ELSE "
    f"{_status_after('(SELECT e.kind FROM incident_events e WHERE e.id = incident_state.status_event_id)', 'referred')} END"  # noqa: E501
)
# (table, trigger, statements): the derived tables' triggers, on both databases.
_DERIVED_TRIGGERS = (
    ('alerts', 'alerts_unread_add', (_ON_ALERT,)),
    ('incident_event_categories', 'incident_event_categories_unread_rank', (_ON_RECATEGORISED,)),
    ('incidents', 'incidents_state_add', (_ON_INCIDENT,)),
    ('incident_events', 'incident_events_state', (_ON_STATUS_EVENT, _ON_ERROR_EVENT)),
    ('incident_agencies', 'incident_agencies_state', (_ON_AGENCY,)),
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


def _create_trigger(dialect: str, table: str, name: str, statements) -> None:
    body = " ".join(f"{statement};" for statement in statements)
    if dialect == 'sqlite':
        op.execute(f"CREATE TRIGGER {name} AFTER INSERT ON {table} BEGIN {body} END")
        return
    op.execute(
        f"CREATE FUNCTION haven_{name}() RETURNS trigger LANGUAGE plpgsql AS "
        f"$$ BEGIN {body} RETURN NULL; END $$"
    )
    op.execute(
        f"CREATE TRIGGER {name} AFTER INSERT ON {table} "
        f"FOR EACH ROW EXECUTE FUNCTION haven_{name}()"
    )
    # Kept even under session_replication_role = replica, like the append-only guards.
    op.execute(f"ALTER TABLE {table} ENABLE ALWAYS TRIGGER {name}")


def _drop_trigger(dialect: str, table: str, name: str) -> None:
    if dialect == 'sqlite':
        op.execute(f"DROP TRIGGER IF EXISTS {name}")
        return
    op.execute(f"DROP TRIGGER IF EXISTS {name} ON {table}")
    op.execute(f"DROP FUNCTION IF EXISTS haven_{name}()")


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
    sa.Column('sensitive', sa.Boolean(), nullable=False, server_default=sa.false()),
    sa.Column('rank', sa.SmallInteger(), nullable=False, server_default='1'),
    sa.ForeignKeyConstraint(['alert_id'], ['alerts.id'], name=op.f('fk_alert_unread_alert_id_alerts')),
    sa.PrimaryKeyConstraint('alert_id', name=op.f('pk_alert_unread'))
    )
    op.create_index('ix_alert_unread_user_created', 'alert_unread', ['user_id', 'created_at', 'alert_id'])
    op.create_index('ix_alert_unread_user_incident', 'alert_unread', ['user_id', 'incident_id'])
    op.create_index(
        'ix_alert_unread_user_rank', 'alert_unread',
        ['user_id', 'rank', sa.text('created_at DESC'), sa.text('alert_id DESC')],
    )
    op.create_table('incident_state',
    sa.Column('incident_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('status_event_id', sa.Integer(), nullable=True),
    sa.Column('referred', sa.Boolean(), nullable=False),
    sa.Column('in_error', sa.Boolean(), nullable=False),
    sa.Column('created_at', server.database.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['incident_id'], ['incidents.id'], name=op.f('fk_incident_state_incident_id_incidents')),
    sa.PrimaryKeyConstraint('incident_id', name=op.f('pk_incident_state'))
    )
    op.create_index('ix_incident_state_list', 'incident_state', ['in_error', 'status', 'created_at', 'incident_id'])
    # The inbox pages through a person's alerts newest first by (created_at, id).
    op.create_index('ix_alerts_user_created_id', 'alerts', ['user_id', 'created_at', 'id'])
    # Reads by person: the unread trigger and "what has she read since" look them up this way.
    op.create_index('ix_incident_reads_user_incident', 'incident_reads', ['user_id', 'incident_id', 'read_at'])
    # Overdue actions, oldest due first (the workspace).
    op.create_index('ix_actions_due_on', 'actions', ['due_on', 'id'])
    op.execute(_BACKFILL)
    op.execute(_UNREAD_RANK_BACKFILL)
    op.execute(_STATE_BACKFILL)
    op.execute(_STATE_BACKFILL_STATUS)
    dialect = op.get_bind().dialect.name
    for table, name, statements in _DERIVED_TRIGGERS:
        _create_trigger(dialect, table, name, statements)
    _create_trigger(dialect, 'incident_reads', 'incident_reads_unread_remove', (_ON_READ,))
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
    for table, name, _statements in _DERIVED_TRIGGERS:
        _drop_trigger(dialect, table, name)
    _drop_trigger(dialect, 'incident_reads', 'incident_reads_unread_remove')
    op.drop_index('ix_actions_due_on', table_name='actions')
    op.drop_index('ix_incident_reads_user_incident', table_name='incident_reads')
    op.drop_index('ix_alerts_user_created_id', table_name='alerts')
    op.drop_index('ix_incident_state_list', table_name='incident_state')
    op.drop_table('incident_state')
    op.drop_index('ix_alert_unread_user_rank', table_name='alert_unread')
    op.drop_index('ix_alert_unread_user_incident', table_name='alert_unread')
    op.drop_index('ix_alert_unread_user_created', table_name='alert_unread')
    op.drop_table('alert_unread')
