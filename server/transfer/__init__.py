"""Transfer of a pupil's safeguarding file between schools (SPEC §8): keys, packages,
receipts, the five-school-day clock, and records imported from another school."""

from flask import Blueprint

bp = Blueprint("transfer", __name__)

from server.transfer import routes  # noqa: E402,F401
