"""`flask transfer …`: the school's transfer key pair and its school key."""

import json

import click
from flask.cli import AppGroup

from server.transfer.keys import key_path, keys_exist, own_school_key, transfer_keys

transfer_cli = AppGroup("transfer", help="Transfer of pupils' files between schools.")


@transfer_cli.command("keys")
def keys() -> None:
    """Make this school's transfer key pair (if it has none) and show its fingerprint.

    The key pair is never replaced here: packages on their way to this school are encrypted
    to it, and other schools have checked its fingerprint."""
    existed = keys_exist()
    transfer_keys()
    school = own_school_key()
    click.echo(f"{'Kept' if existed else 'Made'}: {key_path()}")
    click.echo(f"Fingerprint: {school.fingerprint}")


@transfer_cli.command("school-key")
def school_key() -> None:
    """Print this school's public school key (JSON), to give another school's DSL."""
    click.echo(json.dumps(own_school_key().as_json(), indent=2))
