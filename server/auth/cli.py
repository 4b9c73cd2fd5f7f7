"""`flask users create`: add a staff account from the command line."""

import click
from flask.cli import AppGroup

from server.auth.accounts import create_user
from server.auth.operations import AuthError
from server.auth.roles import Role
from server.extensions import db

users_cli = AppGroup("users", help="Staff accounts.")


@users_cli.command("create")
@click.option("--email", required=True, help="School email address (the sign-in name).")
@click.option("--name", "full_name", required=True, help="Full name, as colleagues know it.")
@click.option("--initials", default=None, help="Initials shown in records (default: from name).")
@click.option(
    "--role",
    "roles",
    multiple=True,
    required=True,
    type=click.Choice([role.value for role in Role]),
    help="A role; repeat for several.",
)
@click.option(
    "--password/--no-password",
    default=True,
    help="Prompt for a password now, or let the person set one via a reset link.",
)
def create_command(email, full_name, initials, roles, password):
    """Create a staff account."""
    secret = None
    if password:
        secret = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        user = create_user(
            email=email, full_name=full_name, initials=initials, roles=roles, password=secret
        )
    except AuthError as error:
        db.session.rollback()
        raise click.ClickException(error.message) from None
    db.session.commit()
    click.echo(f"Created {user.full_name} <{user.email}> ({user.role_labels}).")


def person_by_email(email: str):
    """The account at `email`, for commands that act on one person; a clear error otherwise."""
    from server.auth.operations import find_user_by_email

    person = find_user_by_email(email)
    if person is None:
        raise click.ClickException(f"There is no account for {email}.")
    return person
