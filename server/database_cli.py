"""`flask database grant-app-role`: give the application's PostgreSQL role what it needs.

Run as the tables' owner (MIGRATION_DATABASE_URL). `flask db upgrade` does the same after
every upgrade when an application role is configured; this is for doing it by hand.
"""

import click
import sqlalchemy as sa
from flask import current_app
from flask.cli import AppGroup

from server.database import app_role, grant_app_role

database_cli = AppGroup("database", help="Database roles.")


@database_cli.command("grant-app-role")
@click.option("--role", default=None, help="The role to grant (default: HAVEN_DB_APP_ROLE).")
def grant_app_role_command(role: str | None):
    """Grant the app's role SELECT/INSERT on records and what else it changes; nothing more."""
    role = role or app_role(current_app.config)
    owner_url = current_app.config.get("MIGRATION_DATABASE_URL")
    if not role or not owner_url:
        raise click.UsageError(
            "Set MIGRATION_DATABASE_URL (the tables' owner) and HAVEN_DB_APP_ROLE (or give "
            "--role): see the README, “Running on PostgreSQL”."
        )
    engine = sa.create_engine(owner_url)
    if engine.dialect.name != "postgresql":
        raise click.UsageError("Database roles are PostgreSQL's; SQLite has none.")
    try:
        with engine.begin() as connection:
            statements = grant_app_role(connection, role)
    except RuntimeError as error:
        raise click.ClickException(str(error)) from None
    finally:
        engine.dispose()
    click.echo(f"Granted {role} what the application needs ({len(statements)} statements).")
