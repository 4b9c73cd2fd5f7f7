"""`flask devices`: list and revoke a person's enrolled devices from the server.

For a lost iPad when nobody who manages accounts can sign in: whatever it still holds in its
outbox is refused from then on.
"""

import click
from flask.cli import AppGroup

from server.auth.cli import person_by_email
from server.extensions import db
from server.offline.devices import devices_of, revoke_device
from server.templating import format_moment

devices_cli = AppGroup("devices", help="Devices enrolled for offline capture.")


@devices_cli.command("list")
@click.argument("email")
def list_command(email):
    """List a person's devices."""
    person = person_by_email(email)
    held = devices_of(person)
    if not held:
        click.echo(f"{person.full_name} has no devices.")
    for device in held:
        state = "in use" if device.active else f"removed {format_moment(device.revoked_at)}"
        click.echo(
            f"{device.id}\t{device.name}\tset up {format_moment(device.created_at)}\t{state}"
        )


@devices_cli.command("revoke")
@click.argument("email")
@click.option("--id", "device_ids", type=int, multiple=True, help="A device id (see list).")
@click.option("--all", "revoke_all", is_flag=True, help="Every device the person has.")
def revoke_command(email, device_ids, revoke_all):
    """Remove a person's devices (audited)."""
    person = person_by_email(email)
    held = {device.id: device for device in devices_of(person) if device.active}
    if revoke_all == bool(device_ids):
        raise click.UsageError("Give either --all or one or more --id.")
    chosen = list(held.values()) if revoke_all else [held.get(i) for i in device_ids]
    if None in chosen:
        raise click.ClickException(
            f"{person.full_name} has no such device in use; see `devices list`."
        )
    for device in chosen:
        revoke_device(None, device)
    db.session.commit()
    click.echo(f"Removed {len(chosen)} device(s) of {person.full_name}.")
