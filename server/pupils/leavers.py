"""Marking pupils who are not in an import file as left, and the two rules that stop it.

A refused row may be a pupil still in school, so any refused row withholds every leaver. And a
file that would mark more than a tenth of the roll as left (and more than 5 pupils) is far more
likely one class's export than a real leaving, so nobody is marked until the caller confirms
that exact number: a confirmation given for one file does not carry over to another.
"""

from datetime import date

from server.extensions import db
from server.pupils.import_report import Change, ImportReport
from server.pupils.models import Pupil

LEAVER_GUARD_PERCENT = 10
LEAVER_GUARD_MINIMUM = 5


def leavers_need_confirmation(leaving: int, roll_size: int) -> bool:
    """Whether marking `leaving` of `roll_size` on-roll pupils as left needs confirming."""
    return leaving > LEAVER_GUARD_MINIMUM and leaving * 100 > roll_size * LEAVER_GUARD_PERCENT


def mark_leavers(
    absent: list[Pupil], roll_size: int, confirm: int | None, today: date, report: ImportReport
) -> None:
    """Mark `absent` (on roll, not in the file) as left, unless a refused row or the
    mass-leaver guard says not to; the report says which and why."""
    if not absent:
        return
    has_been = "would be" if report.dry_run else "has been"
    confirmed = True
    if leavers_need_confirmation(len(absent), roll_size):
        confirmed = confirm == len(absent)
        if confirmed:
            report.leavers_confirmed = confirm
        else:
            _ask_for_confirmation(report, len(absent), confirm, has_been)
    if report.refused:
        report.leavers_withheld = len(absent)
        report.notes.append(
            f"{len(absent)} pupils on roll are not in this file, but because some rows were "
            f"refused nobody {has_been} marked as left (a refused row may be a pupil still in "
            "school). Correct the refused rows and import the file again."
        )
        return
    if not confirmed:
        return
    for pupil in sorted(absent, key=lambda p: (p.legal_last_name, p.legal_first_name)):
        pupil.on_roll, pupil.left_on = False, today
        report.marked_left.append(Change(pupil.upn, pupil.display_name, f"left {today:%d/%m/%Y}"))
    db.session.flush()


def _ask_for_confirmation(
    report: ImportReport, leaving: int, confirm: int | None, has_been: str
) -> None:
    report.leavers_to_confirm = leaving
    mismatch = (
        f"The confirmation given was for {confirm} pupils, not {leaving}. "
        if confirm is not None
        else ""
    )
    report.notes.append(
        f"{mismatch}This file would mark {leaving} of {report.roll_size} pupils as left, so "
        f"nobody {has_been} marked as left. If this is the whole school roll, confirm; if it is "
        "part of the roll, untick ‘mark pupils not in this file as left’."
    )
