"""Registers every feature's `flask` command group."""

from flask import Flask


def register_commands(app: Flask) -> None:
    from server.audit.cli import audit_cli
    from server.auth.cli import users_cli

    for group in (users_cli, audit_cli):
        app.cli.add_command(group)
