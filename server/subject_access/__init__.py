"""Subject access (SPEC §8): a DSL builds an export of a pupil's records with other people's
details redacted, reviews each redaction, adjusts them and releases it as PDF or JSON."""

from flask import Blueprint

bp = Blueprint("subject_access", __name__)

from server.subject_access import routes  # noqa: E402,F401
