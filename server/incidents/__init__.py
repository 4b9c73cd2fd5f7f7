"""Recording incidents: the form, the incident, its actions, files and corrections."""

from flask import Blueprint

bp = Blueprint("incidents", __name__)

from server.incidents import routes  # noqa: E402,F401
