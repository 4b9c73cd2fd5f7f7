"""The DSL's page of requests: approve or decline, each with a fresh passkey check."""

from flask import flash, redirect, render_template, url_for
from flask_login import current_user

from server.approvals import bp, operations
from server.approvals.operations import ApprovalError
from server.auth.access import requires
from server.auth.roles import Permission
from server.errors import Refused
from server.extensions import db


@bp.route("/")
@requires(Permission.DECIDE_ACCESS_REQUESTS, step_up=True)
def index():
    return render_template(
        "approvals/index.html",
        pending=operations.pending_requests(),
        decided=operations.recent_decisions(),
    )


# Like giving a role directly, deciding one needs a passkey check in the last five minutes.
@bp.route("/<int:request_id>/approve", methods=["POST"])
@requires(Permission.DECIDE_ACCESS_REQUESTS, fresh_assertion=True)
def approve(request_id: int):
    return _decide(request_id, operations.approve, "Approved: the change has been made.")


@bp.route("/<int:request_id>/decline", methods=["POST"])
@requires(Permission.DECIDE_ACCESS_REQUESTS, fresh_assertion=True)
def decline(request_id: int):
    return _decide(request_id, operations.decline, "Declined: nothing has changed.")


def _decide(request_id: int, decide, done: str):
    me = current_user._get_current_object()
    try:
        decide(operations.find_pending(request_id), by=me)
    except Refused as error:
        db.session.rollback()
        if isinstance(error, ApprovalError) and error.status == 404:
            raise
        flash(error.message, "error")
        return redirect(url_for("approvals.index")), 303
    db.session.commit()
    flash(done, "success")
    return redirect(url_for("approvals.index")), 303
