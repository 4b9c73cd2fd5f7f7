"""`flask passkeys`: list and revoke a person's passkeys from the server.

For the day the only administrator loses the device with their passkey: everything in
administration needs a step-up, so without this nobody could revoke it.
"""

import click
from flask.cli import AppGroup

from server.auth.cli import person_by_email
from server.extensions import db
from server.passkeys.operations import PasskeyError, passkeys_of, revoke_passkey
from server.templating import format_moment

passkeys_cli = AppGroup("passkeys", help="Staff passkeys.")


@passkeys_cli.command("list")
@click.argument("email")
def list_command(email):
    """List a person's passkeys."""
    person = person_by_email(email)
    held = passkeys_of(person)
    if not held:
        click.echo(f"{person.full_name} has no passkeys.")
    for passkey in held:
        used = format_moment(passkey.last_used_at) if passkey.last_used_at else "never used"
        blocked = "  BLOCKED: signature counter went back" if passkey.flagged_at else ""
        click.echo(
            f"{passkey.id}\t{passkey.name}\tadded {format_moment(passkey.created_at)}\t"
            f"{used}{blocked}"
        )


@passkeys_cli.command("revoke")
@click.argument("email")
@click.option("--id", "passkey_ids", type=int, multiple=True, help="A passkey id (see list).")
@click.option("--all", "revoke_all", is_flag=True, help="Every passkey the person has.")
def revoke_command(email, passkey_ids, revoke_all):
    """Revoke a person's passkeys (audited)."""
    person = person_by_email(email)
    held = {passkey.id: passkey for passkey in passkeys_of(person)}
    if revoke_all == bool(passkey_ids):
        raise click.UsageError("Give either --all or one or more --id.")
    chosen = list(held.values()) if revoke_all else [held.get(i) for i in passkey_ids]
    if None in chosen:
        raise click.ClickException(f"{person.full_name} has no such passkey; see `passkeys list`.")
    try:
        for passkey in chosen:
            revoke_passkey(passkey, by=None)
    except PasskeyError as error:
        db.session.rollback()
        raise click.ClickException(error.message) from None
    db.session.commit()
    click.echo(f"Revoked {len(chosen)} passkey(s) of {person.full_name}.")
