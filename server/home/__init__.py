"""The signed-in home page: what this user can do from here."""

from flask import Blueprint

bp = Blueprint("home", __name__)

from server.home import routes  # noqa: E402,F401
