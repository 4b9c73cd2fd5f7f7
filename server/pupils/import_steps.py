"""The steps both roster imports share: permission, the dry-run savepoint, duplicate keys in
one file, importing one row at a time, and the import's audit event.
"""

from contextlib import contextmanager

from server.audit.operations import record
from server.auth.models import User
from server.auth.operations import AuthError
from server.auth.roles import Permission
from server.extensions import db
from server.pupils.import_report import ImportReport, RefusedRow, RosterFileError, RowProblem


@contextmanager
def transaction(dry_run: bool):
    """A dry run does everything inside a savepoint and rolls it back: exactly what would
    happen, and nothing written."""
    if not dry_run:
        yield
        db.session.flush()
        return
    savepoint = db.session.begin_nested()
    try:
        yield
    finally:
        savepoint.rollback()


def duplicate_keys(rows, keys: list[str]) -> dict[str, list[int]]:
    seen: dict[str, list[int]] = {}
    for (number, _), key in zip(rows, keys, strict=True):
        if key:
            seen.setdefault(key, []).append(number)
    return {key: numbers for key, numbers in seen.items() if len(numbers) > 1}


def refuse_duplicate(report, number: int, shown: str, what: str, numbers: list[int]) -> None:
    listed = " and ".join(str(n) for n in numbers)
    reason = f"{what} {shown} is on more than one row ({listed}): none of them was imported."
    report.refused.append(RefusedRow(number, shown, reason))


def import_row(report: ImportReport, number: int, shown: str, clean, apply) -> None:
    """Check one row, then write it inside a savepoint so that a failure leaves nothing."""
    try:
        row = clean()
        with db.session.begin_nested():
            outcome, change = apply(row)
            db.session.flush()
    except RowProblem as problem:
        report.refused.append(RefusedRow(number, shown, str(problem)))
        return
    except AuthError as problem:
        report.refused.append(RefusedRow(number, shown, problem.message))
        return
    if outcome == "created":
        report.created.append(change)
    elif outcome == "updated":
        report.updated.append(change)
    elif outcome == "requested":
        report.requested.append(change)
    else:
        report.unchanged += 1


def check_permission(by: User | None) -> None:
    if by is not None and not by.can(Permission.MANAGE_ROSTER):
        raise RosterFileError("You do not have permission to import the roster.", 403)


def audit_import(action: str, report: ImportReport, by: User | None, **extra) -> None:
    record(
        action,
        object_type="roster",
        actor=by,
        details={**report.counts(), "sha256": report.sha256, **extra},
    )
