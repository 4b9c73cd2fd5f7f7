"""Requests for a DSL's decision: an administrator's change that would let someone read
incidents (a reading role, a class to teach, an alert rule that reaches more people) waits
here until a designated safeguarding lead approves or declines it (SPEC §1)."""

from flask import Blueprint

bp = Blueprint("approvals", __name__)

from server.approvals import routes  # noqa: E402,F401
