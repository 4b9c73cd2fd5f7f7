"""`flask demo seed` and `flask demo sign-ins`: the fictional Larkfield Primary School."""

import click
from flask.cli import AppGroup

from server.demo.seed import (
    DEMO_PASSWORD,
    STAFF,
    DemoError,
    demo_sign_ins,
    demo_staff_count,
    seed_demo_school,
)
from server.extensions import db

demo_cli = AppGroup("demo", help="The fictional demo school.")


@demo_cli.command("seed")
@click.option("--if-empty", is_flag=True, help="Do nothing if the database already has users.")
def seed_command(if_empty: bool):
    """Create Larkfield Primary School: staff in every role, 420 pupils, a few weeks of concerns."""
    try:
        result = seed_demo_school(if_empty=if_empty)
    except DemoError as error:
        db.session.rollback()
        raise click.ClickException(str(error)) from None
    db.session.commit()
    if result is None:
        click.echo("The database already has users: the demo school was not seeded.")
    else:
        click.echo(
            f"Seeded the demo school: {result.staff} staff, {result.classes} classes, "
            f"{result.pupils} pupils, {result.incidents} fictional incidents."
        )
    print_sign_ins()


@demo_cli.command("sign-ins")
def sign_ins_command():
    """Print the demo accounts to sign in with, and their password."""
    print_sign_ins()


def print_sign_ins() -> None:
    rows = demo_sign_ins()
    if not rows:
        click.echo("There are no demo accounts in this database.")
        return
    width = max(len(email) for email, _, _ in rows)
    click.echo("")
    click.echo("Demo sign-ins (fictional school, not for real use):")
    click.echo(f"  {'Email':<{width}}  Roles")
    for email, roles, job in rows:
        click.echo(f"  {email:<{width}}  {roles} ({job})")
    others = demo_staff_count() - len(rows)
    if others > 0:
        click.echo(f"  … and {others} more demo staff (Administration › Staff and roles).")
    click.echo(f"Password for every demo account: {DEMO_PASSWORD}")
    click.echo(
        f"(All {len(STAFF)} demo staff share it. It is public: never keep real records here.)"
    )
