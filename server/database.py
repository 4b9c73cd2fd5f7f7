"""Declarative base, column types and the database-level append-only guard."""

import re
from datetime import UTC, datetime

from alembic import op
from sqlalchemy import DateTime, MetaData, TypeDecorator, event, inspect, make_url, text
from sqlalchemy.orm import DeclarativeBase

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator):
    """A moment in time: stored as naive UTC, always returned timezone-aware.

    SQLite has no time zones and PostgreSQL returns aware values; one type makes both alike,
    which the audit hash chain depends on.
    """

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given where a moment in UTC is needed")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def make_append_only(table: str) -> None:
    """Migration step: the database itself refuses UPDATE, DELETE (and TRUNCATE) on `table`.

    Used for the audit log now and for incidents and actions later (SPEC §2, §9).
    """
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
            )
        refuse_replace(table)
        return
    if dialect == "postgresql":
        op.execute(
            "CREATE OR REPLACE FUNCTION haven_refuse_change() RETURNS trigger "
            "LANGUAGE plpgsql AS $$ BEGIN "
            "RAISE EXCEPTION '% is append-only', TG_TABLE_NAME "
            "USING ERRCODE = 'insufficient_privilege'; END $$"
        )
        op.execute(
            f"CREATE TRIGGER {table}_no_change BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION haven_refuse_change()"
        )
        # Row triggers do not fire on TRUNCATE; a statement trigger does.
        op.execute(
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION haven_refuse_change()"
        )
        # ENABLE ALWAYS keeps the guard even under session_replication_role = replica.
        op.execute(f"ALTER TABLE {table} ENABLE ALWAYS TRIGGER {table}_no_change")
        op.execute(f"ALTER TABLE {table} ENABLE ALWAYS TRIGGER {table}_no_truncate")
        return
    raise RuntimeError(f"no append-only guard for the {dialect} database")


def refuse_replace(table: str) -> None:
    """Migration step (SQLite): an INSERT that meets an existing key is refused.

    `REPLACE` / `INSERT OR REPLACE` deletes the row in the way and fires no DELETE trigger
    unless the connection turned `recursive_triggers` on, which a plain `sqlite3` client does
    not. A BEFORE INSERT trigger fires for every client: it refuses the insert whenever any of
    the table's unique keys (primary key, constraints, unique and partial unique indexes) is
    already taken, so nothing is ever replaced.
    """
    bind = op.get_bind()
    columns = [column["name"] for column in inspect(bind).get_columns(table)]
    conditions = " OR ".join(
        _taken_condition(table, key, where, columns) for key, where in unique_keys(bind, table)
    )
    op.execute(
        f"CREATE TRIGGER IF NOT EXISTS {table}_no_replace BEFORE INSERT ON {table} "
        f"WHEN {conditions} BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
    )


def _taken_condition(table: str, key: tuple[str, ...], where: str | None, columns) -> str:
    """SQL true when a row already holds the new row's `key` (both inside a partial index's
    WHERE, when the key is one). Names come from the schema itself, never from input."""
    match = " AND ".join(f"{column} = NEW.{column}" for column in key)
    if where:
        new_where = re.sub(
            r"\b(" + "|".join(map(re.escape, columns)) + r")\b", r"NEW.\1", where
        )
        match += f" AND ({where}) AND ({new_where})"
    return f"EXISTS (SELECT 1 FROM {table} WHERE {match})"  # noqa: S608


def unique_keys(bind, table: str) -> list[tuple[tuple[str, ...], str | None]]:
    """(columns, partial-index condition or None) of every unique key of a SQLite table."""
    inspector = inspect(bind)
    keys = [(tuple(inspector.get_pk_constraint(table)["constrained_columns"]), None)]
    keys += [(tuple(u["column_names"]), None) for u in inspector.get_unique_constraints(table)]
    for index in inspector.get_indexes(table):
        if index["unique"]:
            keys.append((tuple(index["column_names"]), _index_condition(bind, index["name"])))
    return sorted({key for key in keys if key[0]}, key=lambda key: (key[0], key[1] or ""))


def _index_condition(bind, name: str) -> str | None:
    sql = bind.execute(
        text("SELECT sql FROM sqlite_master WHERE type = 'index' AND name = :name"),
        {"name": name},
    ).scalar()
    found = re.search(r"\)\s+WHERE\s+(.+)$", sql or "", re.IGNORECASE | re.DOTALL)
    return found.group(1).strip() if found else None


def append_only_tables(connection) -> list[str]:
    """Every table guarded by `make_append_only`, found by its triggers."""
    if connection.dialect.name == "sqlite":
        query = (
            "SELECT tbl_name FROM sqlite_master "
            "WHERE type = 'trigger' AND name LIKE '%_no_delete'"
        )
    else:
        query = (
            "SELECT DISTINCT event_object_table FROM information_schema.triggers "
            "WHERE trigger_name LIKE '%_no_change'"
        )
    return sorted(connection.execute(text(query)).scalars())


# Records whose guard lets one UPDATE through: the blanking of an approved disposal, checked
# by the trigger itself (migration 0012_retention). The role needs the right to ask for it.
BLANKED_ON_DISPOSAL = frozenset(
    {
        "incidents",
        "actions",
        "incident_events",
        "incident_body_marks",
        "incident_files",
        # Records imported from another school (0011_transfer), disposed of with the pupil's.
        "imported_incidents",
        "imported_files",
    }
)


def grant_app_role(connection, role: str) -> list[str]:
    """PostgreSQL: give the application's role what it needs, and no more, on every table.

    Records (the append-only tables) get SELECT and INSERT only; the tables the application
    really changes (accounts, sessions, the roll, rules, challenges) also UPDATE and DELETE.
    The role must not own the tables: an owner can ALTER TABLE … DISABLE TRIGGER, which is
    exactly what the append-only guard must survive. Run as the owner; returns what was done.
    """
    quote = connection.dialect.identifier_preparer.quote
    if not connection.execute(
        text("SELECT 1 FROM pg_roles WHERE rolname = :role"), {"role": role}
    ).scalar():
        raise RuntimeError(f"There is no database role {role}: create it first (see README).")
    owned = connection.execute(
        text(
            "SELECT count(*) FROM pg_tables WHERE schemaname = current_schema() "
            "AND tableowner = :role"
        ),
        {"role": role},
    ).scalar()
    if owned:
        raise RuntimeError(
            f"The role {role} owns {owned} of Haven's tables, so it could switch their guards "
            "off: run the application as a role that owns none, and migrate as the owner."
        )
    records = set(append_only_tables(connection))
    schema = quote(connection.execute(text("SELECT current_schema()")).scalar())
    statements = [f"GRANT USAGE ON SCHEMA {schema} TO {quote(role)}"]
    for table in inspect(connection).get_table_names():
        if table in records and table in BLANKED_ON_DISPOSAL:
            rights = "SELECT, INSERT, UPDATE"
        elif table in records:
            rights = "SELECT, INSERT"
        elif table == "alembic_version":
            rights = "SELECT"
        else:
            rights = "SELECT, INSERT, UPDATE, DELETE"
        statements.append(f"REVOKE ALL ON {quote(table)} FROM {quote(role)}")
        statements.append(f"GRANT {rights} ON {quote(table)} TO {quote(role)}")
    statements.append(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {schema} TO {quote(role)}")
    for statement in statements:
        connection.execute(text(statement))
    return statements


def app_role(config) -> str:
    """The role the application runs as, when migrations run as another (the tables' owner)."""
    if config.get("DB_APP_ROLE"):
        return config["DB_APP_ROLE"]
    if config.get("MIGRATION_DATABASE_URL"):
        return make_url(config["SQLALCHEMY_DATABASE_URI"]).username or ""
    return ""


def drop_append_only(table: str) -> None:
    """Migration downgrade step matching `make_append_only`."""
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for verb in ("update", "delete", "replace"):
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_{verb}")
    elif dialect == "postgresql":
        op.execute(f"DROP TRIGGER IF EXISTS {table}_no_change ON {table}")
        op.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")


def configure_sqlite(engine) -> None:
    """Make SQLite behave as the application assumes a database does.

    pysqlite's own transaction handling defers BEGIN and breaks SAVEPOINT; we issue BEGIN
    ourselves. IMMEDIATE takes the write lock at the start, so two processes can never read
    the same audit-chain head and fork the chain. Foreign keys are off in SQLite by default.
    Recursive triggers make `INSERT OR REPLACE` fire the append-only DELETE guard too, a second
    wall behind the `_no_replace` triggers (which hold for every client, see `refuse_replace`).
    """
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA recursive_triggers = ON")
        cursor.execute("PRAGMA busy_timeout = 30000")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection):
        connection.exec_driver_sql("BEGIN IMMEDIATE")
