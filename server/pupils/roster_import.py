"""Importing the school roll from CSV files exported by the MIS (SIMS, Arbor, Bromcom).

The entry points, gathered for callers that want both imports. The work is split by concern:

- csv_reading: reading a file, its columns and the whole-file refusals;
- pupil_rows and pupil_import: checking and importing pupils; leavers: marking them as left;
- staff_import: staff accounts, roles and the classes they teach;
- import_steps: what both imports share; import_report: what they report.

See docs/roster-import.md for what a school's export may contain.
"""

from server.pupils.import_report import ImportReport, RosterFileError
from server.pupils.pupil_import import import_pupils
from server.pupils.staff_import import import_staff

__all__ = ["ImportReport", "RosterFileError", "import_pupils", "import_staff"]
