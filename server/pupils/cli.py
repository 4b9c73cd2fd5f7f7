"""`flask roster import-pupils` and `flask roster import-staff`: the school roll from the MIS."""

from pathlib import Path

import click
from flask.cli import AppGroup

from server.extensions import db
from server.pupils.csv_reading import (
    PUPIL_COLUMNS,
    PUPIL_REQUIRED,
    STAFF_COLUMNS,
    STAFF_REQUIRED,
    read_roster_csv,
)
from server.pupils.import_report import ImportReport, RosterFileError
from server.pupils.pupil_import import import_pupils
from server.pupils.staff_import import import_staff

roster_cli = AppGroup("roster", help="The school roll: pupils, classes and staff from the MIS.")

_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)
_DRY_RUN = click.option(
    "--dry-run", is_flag=True, help="Check the file and report what would change; save nothing."
)


@roster_cli.command("import-pupils")
@click.argument("file", type=_FILE)
@_DRY_RUN
@click.option(
    "--mark-leavers/--no-mark-leavers",
    default=True,
    show_default=True,
    help="Mark pupils on roll who are not in the file as left.",
)
@click.option(
    "--confirm-leavers",
    type=click.IntRange(min=1),
    metavar="N",
    help="Confirm that this file (the whole school roll) marks N pupils as left; needed when "
    "it would mark more than a tenth of the roll.",
)
def import_pupils_command(
    file: Path, dry_run: bool, mark_leavers: bool, confirm_leavers: int | None
):
    """Import pupils from an MIS CSV export; re-import updates by UPN. See docs/roster-import.md."""
    _run(
        file,
        PUPIL_COLUMNS,
        PUPIL_REQUIRED,
        "pupils",
        dry_run,
        import_pupils,
        mark_leavers=mark_leavers,
        confirm_leavers=confirm_leavers,
    )


@roster_cli.command("import-staff")
@click.argument("file", type=_FILE)
@_DRY_RUN
def import_staff_command(file: Path, dry_run: bool):
    """Import staff accounts, roles and classes from a CSV. See docs/roster-import.md."""
    _run(file, STAFF_COLUMNS, STAFF_REQUIRED, "staff", dry_run, import_staff)


def _run(file, columns, required, noun, dry_run, importer, **options) -> None:
    try:
        roster = read_roster_csv(file, columns, required)
        with click.progressbar(length=len(roster.rows), label=f"Importing {noun}") as bar:
            report = importer(roster, dry_run=dry_run, progress=bar.update, **options)
    except RosterFileError as error:
        db.session.rollback()
        raise click.ClickException(error.message) from None
    if not dry_run:
        db.session.commit()
    print_report(report)
    if report.refused or report.needs_leaver_confirmation:
        raise SystemExit(1)


def print_report(report: ImportReport) -> None:
    click.echo("")
    if report.dry_run:
        click.echo("Check only: nothing was saved.")
    click.echo(report.summary())
    for change in report.marked_left:
        click.echo(f"  left: {change.key} {change.name}")
    for note in report.notes:
        click.echo(f"Note: {note}")
    if report.not_in_file:
        click.echo(f"{len(report.not_in_file)} active staff are not in the file (not disabled):")
        for change in report.not_in_file:
            click.echo(f"  {change.key} ({change.detail})")
    if report.needs_leaver_confirmation:
        click.echo(
            f"To confirm, run again with --confirm-leavers {report.leavers_to_confirm}; for part "
            "of the roll, use --no-mark-leavers."
        )
    if report.refused:
        click.echo(f"Refused rows ({len(report.refused)}):")
        for refused in report.refused:
            click.echo(
                f"  row {refused.row} [{refused.key or 'blank'}]: {refused.reason}", err=True
            )
