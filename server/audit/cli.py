"""`flask audit verify` checks the log, its anchors and the sealed records; `flask audit head`
prints the head a DSL keeps."""

import click
from flask.cli import AppGroup

from server.audit.anchors import head_file, parse_kept_head
from server.audit.operations import head, mail_head_to_dsls, verify_all
from server.clock import utcnow

audit_cli = AppGroup("audit", help="The audit log.")


@audit_cli.command("verify")
@click.option(
    "--head",
    "kept",
    multiple=True,
    help="A head kept outside Haven (ID:HASH, from `flask audit head`); may be repeated.",
)
def verify_command(kept):
    """Verify the keyed chain, the anchored heads and every sealed record."""
    try:
        kept_heads = [parse_kept_head(text) for text in kept]
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--head") from None
    report = verify_all(kept_heads)
    if report.first_bad_id is not None:
        click.echo(
            f"Audit chain BROKEN at event {report.first_bad_id}: it {report.problem}. "
            f"{report.checked} events before it are intact.",
            err=True,
        )
        raise SystemExit(1)
    if report.problems:
        click.echo(f"Audit chain links hold for {report.checked} events, but:", err=True)
        for problem in report.problems:
            click.echo(f"  - {problem}", err=True)
        raise SystemExit(1)
    anchored = head_file()
    if anchored and report.checked and not report.anchors_checked:
        click.echo(
            f"Warning: no anchored heads in {anchored}, so a cut at the end of the log would "
            "not show here. Check against a head kept by a DSL: --head ID:HASH.",
            err=True,
        )
    click.echo(
        f"Audit chain intact: {report.checked} events checked, "
        f"{report.anchors_checked} anchored heads"
        + (f" in {anchored}" if anchored else " (no head file configured)")
        + f", {len(kept_heads)} kept heads and {report.sealed} sealed records match."
    )


@audit_cli.command("head")
@click.option("--mail", is_flag=True, help="Also email it to every DSL (run daily from cron).")
def head_command(mail: bool):
    """Print the log's newest event and hash, for a DSL to keep away from the server."""
    if mail:
        sent_to = mail_head_to_dsls()
        click.echo(f"Audit head mailed to {len(sent_to)} designated safeguarding leads.")
    newest = head()
    if newest is None:
        click.echo("The audit log is empty.")
        return
    event_id, digest = newest
    click.echo(f"Haven audit head at {utcnow().isoformat(timespec='seconds')}: {event_id}:{digest}")
    click.echo(f"Check it later with: flask audit verify --head {event_id}:{digest}")
