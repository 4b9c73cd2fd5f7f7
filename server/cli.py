"""Registers every feature's `flask` command group."""

from flask import Flask


def register_commands(app: Flask) -> None:
    from server.audit.cli import audit_cli
    from server.auth.cli import users_cli
    from server.backup.cli import backup_cli
    from server.database_cli import database_cli
    from server.demo.cli import demo_cli
    from server.incidents.cli import files_cli
    from server.offline.cli import devices_cli
    from server.passkeys.cli import passkeys_cli
    from server.pupils.cli import roster_cli
    from server.push.cli import push_cli
    from server.transfer.cli import transfer_cli

    groups = (
        users_cli,
        audit_cli,
        roster_cli,
        demo_cli,
        passkeys_cli,
        devices_cli,
        database_cli,
        backup_cli,
        push_cli,
        files_cli,
        transfer_cli,
    )
    for group in groups:
        app.cli.add_command(group)
