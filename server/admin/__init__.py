"""Administration (admin role): users and roles, classes, the roster import.

Admins manage people and settings; nothing here shows incident content.
"""

from flask import Blueprint

bp = Blueprint("admin", __name__)

from server.admin import routes  # noqa: E402,F401
