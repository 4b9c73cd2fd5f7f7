from flask import g, render_template, request
from flask_login import current_user

from server.approvals.operations import pending_count
from server.auth.access import signed_in
from server.auth.roles import Permission
from server.home import bp
from server.home.workspace import age, workspace
from server.incidents.policy import reads_incidents


@bp.route("/")
@signed_in
def index():
    waiting = pending_count() if current_user.can(Permission.DECIDE_ACCESS_REQUESTS) else None
    me = current_user._get_current_object()
    if not reads_incidents(me):
        return render_template("home/index.html", work=None, requests_waiting=waiting)
    work = workspace(me, g.get("user_session"), request.args.get("status", "open"))
    return render_template("home/index.html", work=work, age=age, requests_waiting=waiting)
