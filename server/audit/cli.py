"""`flask audit verify`: check the hash chain and name the first tampered row."""

import click
from flask.cli import AppGroup

from server.audit.operations import verify_chain

audit_cli = AppGroup("audit", help="The audit log.")


@audit_cli.command("verify")
def verify_command():
    """Verify the audit log's hash chain from the first row to the last."""
    report = verify_chain()
    if report.intact:
        click.echo(f"Audit chain intact: {report.checked} events checked.")
        return
    click.echo(
        f"Audit chain BROKEN at event {report.first_bad_id}: it {report.problem}. "
        f"{report.checked} events before it are intact.",
        err=True,
    )
    raise SystemExit(1)
