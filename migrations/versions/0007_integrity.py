"""integrity: SQLite refuses REPLACE on every append-only table, whatever the client

Revision ID: 0007_integrity
Revises: 0006_approvals
Create Date: 2026-12-04 12:30:00

`make_append_only` now adds the guard to tables it creates; this adds it to those made before,
found by their triggers, so tables of any feature are covered whatever order they came in.
PostgreSQL needs no change here: its triggers are ENABLE ALWAYS, and what keeps a database
user from disabling them is that the application runs as a role that does not own the tables
(see `server.database.grant_app_role`, run after every upgrade by migrations/env.py).
"""
from alembic import op

from server.database import append_only_tables, refuse_replace

# revision identifiers, used by Alembic.
revision = '0007_integrity'
down_revision = '0006_approvals'
branch_labels = None
depends_on = None


def upgrade():
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        return
    for table in append_only_tables(bind):
        refuse_replace(table)


def downgrade():
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        return
    for table in append_only_tables(bind):
        op.execute(f"DROP TRIGGER IF EXISTS {table}_no_replace")
