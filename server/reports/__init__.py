"""Reports (SPEC §7): case conference, chronology, governors and inspection, as a page, a PDF
and CSV; large exports built by background jobs with progress."""

from flask import Blueprint

bp = Blueprint("reports", __name__)

from server.reports import routes  # noqa: E402,F401
