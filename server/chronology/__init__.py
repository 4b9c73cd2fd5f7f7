"""The pupil record: finding a pupil, their chronology, and who has viewed their records."""

from flask import Blueprint

bp = Blueprint("chronology", __name__)

from server.chronology import routes  # noqa: E402,F401
