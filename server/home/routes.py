from flask import render_template
from flask_login import current_user

from server.approvals.operations import pending_count
from server.auth.access import signed_in
from server.auth.roles import Permission
from server.home import bp


@bp.route("/")
@signed_in
def index():
    waiting = pending_count() if current_user.can(Permission.DECIDE_ACCESS_REQUESTS) else None
    return render_template("home/index.html", requests_waiting=waiting)
