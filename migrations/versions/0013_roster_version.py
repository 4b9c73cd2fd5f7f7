"""roster version: a change to pupils or classes replaces the settings token too, so the
roster the Add Incident page loads can be built once per change and kept by each process

Revision ID: 0013_roster_version
Revises: 0012_retention
Create Date: 2026-12-04 18:40:00

The triggers are those of 0010_performance on `alert_rules`, `categories` and `agencies`
(`haven_settings_changed` in PostgreSQL), on two more tables: `server.settings_cache` then
knows, with the one read it makes per request anyway, whether the roster it holds is current.
"""
from alembic import op

# revision identifiers, used by Alembic.
revision = '0013_roster_version'
down_revision = '0012_retention'
branch_labels = None
depends_on = None

ROSTER_TABLES = ('pupils', 'school_classes')


def upgrade():
    dialect = op.get_bind().dialect.name
    for table in ROSTER_TABLES:
        if dialect == 'sqlite':
            bump = "UPDATE settings_version SET token = lower(hex(randomblob(16))) WHERE id = 1"
            for verb in ('INSERT', 'UPDATE', 'DELETE'):
                op.execute(
                    f"CREATE TRIGGER {table}_settings_{verb.lower()} AFTER {verb} ON {table} "
                    f"BEGIN {bump}; END"
                )
            continue
        op.execute(
            f"CREATE TRIGGER {table}_settings_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE "
            f"ON {table} FOR EACH STATEMENT EXECUTE FUNCTION haven_settings_changed()"
        )
        op.execute(f"ALTER TABLE {table} ENABLE ALWAYS TRIGGER {table}_settings_changed")


def downgrade():
    dialect = op.get_bind().dialect.name
    for table in ROSTER_TABLES:
        if dialect == 'sqlite':
            for verb in ('insert', 'update', 'delete'):
                op.execute(f"DROP TRIGGER IF EXISTS {table}_settings_{verb}")
        else:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_settings_changed ON {table}")
