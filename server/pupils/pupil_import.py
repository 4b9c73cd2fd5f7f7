"""Importing pupils from an MIS export: create and update by UPN, classes by name, leavers.

`import_pupils` is what the `flask roster import-pupils` command, the admin page and the demo
seed call. Reading the file is in csv_reading, checking a row in pupil_rows, and the rules for
marking leavers in leavers.
"""

from collections.abc import Callable
from typing import Any

from sqlalchemy import select

from server.auth.models import User
from server.clock import school_today
from server.extensions import db
from server.pupils.csv_reading import PUPIL_COLUMNS, PUPIL_REQUIRED, Source, read_roster_csv
from server.pupils.import_report import Change, ImportReport
from server.pupils.import_steps import (
    audit_import,
    check_permission,
    duplicate_keys,
    import_row,
    refuse_duplicate,
    transaction,
)
from server.pupils.leavers import mark_leavers as mark_leavers_as_left
from server.pupils.models import Pupil, SchoolClass
from server.pupils.pupil_rows import PupilRow, clean_pupil_row
from server.pupils.upn import normalise_upn

_PUPIL_FIELDS = (
    "legal_first_name",
    "legal_last_name",
    "preferred_first_name",
    "preferred_last_name",
    "date_of_birth",
    "year_group",
)


class _Roll:
    """The existing roll and classes, loaded once for the whole file."""

    def __init__(self):
        self.pupils = {pupil.upn: pupil for pupil in db.session.scalars(select(Pupil))}
        self.on_roll = sum(1 for pupil in self.pupils.values() if pupil.on_roll)
        self.classes = {
            school_class.name.casefold(): school_class
            for school_class in db.session.scalars(select(SchoolClass))
        }

    def school_class(self, name: str | None, year_group: str) -> SchoolClass | None:
        if name is None:
            return None
        found = self.classes.get(name.casefold())
        if found is None:
            found = SchoolClass(name=name, year_group=year_group)
            db.session.add(found)
            self.classes[name.casefold()] = found
        return found


def _apply_pupil(roll: _Roll, row: PupilRow) -> tuple[str, Change | None]:
    school_class = roll.school_class(row.class_name, row.year_group)
    pupil = roll.pupils.get(row.upn)
    if pupil is None:
        pupil = Pupil(upn=row.upn, on_roll=True, school_class=school_class)
        for name in _PUPIL_FIELDS:
            setattr(pupil, name, getattr(row, name))
        db.session.add(pupil)
        roll.pupils[row.upn] = pupil
        return "created", Change(row.upn, row.name, row.class_name or "no class")
    changes = [name for name in _PUPIL_FIELDS if getattr(pupil, name) != getattr(row, name)]
    for name in changes:
        setattr(pupil, name, getattr(row, name))
    if pupil.school_class is not school_class:
        before = pupil.school_class.name if pupil.school_class else "no class"
        changes.append(f"class {before} → {row.class_name or 'no class'}")
        pupil.school_class = school_class
    if not pupil.on_roll:
        pupil.on_roll, pupil.left_on = True, None
        changes.append("back on roll")
    if not changes:
        return "unchanged", None
    return "updated", Change(row.upn, row.name, ", ".join(c.replace("_", " ") for c in changes))


def import_pupils(
    rows_or_file: Source,
    *,
    mark_leavers: bool = True,
    confirm_leavers: int | None = None,
    dry_run: bool = False,
    progress: Callable[[int], Any] | None = None,
    by: User | None = None,
) -> ImportReport:
    """Create and update pupils by UPN, and mark those on roll but missing from the file as left.

    Leavers are marked only when every row was accepted: a refused row may be a pupil who is
    still in school. When the file would mark more than a tenth of the roll (and more than 5
    pupils) as left, nobody is marked unless `confirm_leavers` equals that number, so a
    confirmation given for one file never carries over to another (see leavers).
    The caller commits; a dry run leaves nothing to commit.
    """
    check_permission(by)
    roster = read_roster_csv(rows_or_file, PUPIL_COLUMNS, PUPIL_REQUIRED)
    report = ImportReport("pupils", dry_run, roster.sha256, rows=len(roster.rows))
    today = school_today()
    keys = [normalise_upn(raw.get("upn")) for _, raw in roster.rows]
    duplicates = duplicate_keys(roster.rows, keys)
    with transaction(dry_run):
        roll = _Roll()
        report.roll_size = roll.on_roll
        for (number, raw), key in zip(roster.rows, keys, strict=True):
            shown = raw.get("upn", "")
            if key in duplicates:
                refuse_duplicate(report, number, shown, "UPN", duplicates[key])
            else:
                import_row(
                    report,
                    number,
                    shown,
                    lambda raw=raw: clean_pupil_row(raw, today),
                    lambda row: _apply_pupil(roll, row),
                )
            if progress:
                progress(1)
        if mark_leavers:
            in_file = set(keys)
            absent = [p for upn, p in roll.pupils.items() if p.on_roll and upn not in in_file]
            mark_leavers_as_left(absent, roll.on_roll, confirm_leavers, today, report)
        if not dry_run:
            audit_import(
                "roster.pupils_imported",
                report,
                by,
                mark_leavers=mark_leavers,
                roll=report.roll_size,
                leavers_confirmed=report.leavers_confirmed,
                leavers_to_confirm=report.leavers_to_confirm,
            )
    return report
