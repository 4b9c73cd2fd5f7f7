"""The DSL's retention pages: records due for review, one pupil's retention (hold, proposal,
approval, tombstones). Every change needs a passkey check in the last five minutes."""

from flask import abort, flash, redirect, render_template, url_for
from flask_login import current_user

from server.audit.operations import record
from server.auth.access import requires
from server.auth.roles import Permission
from server.errors import Refused
from server.extensions import db
from server.pupils.models import Pupil
from server.retention import bp, operations
from server.retention.forms import ReasonForm

READERS = (Permission.MANAGE_RETENTION, Permission.APPROVE_DISPOSAL)


def _me():
    return current_user._get_current_object()


def _pupil(pupil_id: int) -> Pupil:
    pupil = db.session.get(Pupil, pupil_id)
    if pupil is None:
        abort(404)
    return pupil


@bp.route("/")
@requires(*READERS, step_up=True)
def index():
    due = operations.due_for_review()
    record("retention.review_listed", details={"pupils": len(due)})
    db.session.commit()
    return render_template(
        "retention/index.html",
        due=due,
        proposals=operations.pending_proposals(),
        years=operations.retention_years(),
    )


@bp.route("/pupils/<int:pupil_id>")
@requires(*READERS, step_up=True)
def pupil(pupil_id: int):
    found = _pupil(pupil_id)
    record("retention.pupil_viewed", object_type="pupil", object_id=found.id)
    db.session.commit()
    return render_template(
        "retention/pupil.html",
        status=operations.status(found),
        holds=operations.hold_history(found.id),
        tombstones=operations.tombstones(found.id),
        imported_tombstones=operations.imported_tombstones(found.id),
        hold_form=ReasonForm(prefix="hold"),
        propose_form=ReasonForm(prefix="propose"),
        years=operations.retention_years(),
    )


@bp.route("/pupils/<int:pupil_id>/hold", methods=["POST"])
@requires(Permission.MANAGE_RETENTION, fresh_assertion=True)
def set_hold(pupil_id: int):
    return _with_reason(pupil_id, "hold", operations.set_hold, "The records are now on legal hold.")


@bp.route("/pupils/<int:pupil_id>/hold/lift", methods=["POST"])
@requires(Permission.MANAGE_RETENTION, fresh_assertion=True)
def lift_hold(pupil_id: int):
    return _with_reason(pupil_id, "hold", operations.lift_hold, "The legal hold has been lifted.")


@bp.route("/pupils/<int:pupil_id>/propose", methods=["POST"])
@requires(Permission.MANAGE_RETENTION, fresh_assertion=True)
def propose(pupil_id: int):
    return _with_reason(
        pupil_id,
        "propose",
        operations.propose_disposal,
        "Disposal proposed: another DSL or a senior leader must approve it.",
    )


def _with_reason(pupil_id: int, prefix: str, act, done: str):
    found = _pupil(pupil_id)
    form = ReasonForm(prefix=prefix)
    back = redirect(url_for("retention.pupil", pupil_id=found.id)), 303
    if not form.validate_on_submit():
        for errors in form.errors.values():
            flash(" ".join(errors), "error")
        return back
    try:
        act(found, form.reason.data, by=_me())
    except Refused as error:
        db.session.rollback()
        flash(error.message, "error")
        return back
    db.session.commit()
    flash(done, "success")
    return back


@bp.route("/disposals/<int:request_id>/approve", methods=["POST"])
@requires(Permission.APPROVE_DISPOSAL, fresh_assertion=True)
def approve(request_id: int):
    try:
        proposal = operations.find_proposal(request_id)
        pupil_id = proposal.target_id
        removed = operations.approve_disposal(proposal, by=_me())
    except Refused as error:
        return _refused(error)
    db.session.commit()
    operations.remove_files(removed)
    flash("Approved: the records have been disposed of. Their tombstone remains.", "success")
    return redirect(url_for("retention.pupil", pupil_id=pupil_id)), 303


@bp.route("/disposals/<int:request_id>/decline", methods=["POST"])
@requires(Permission.APPROVE_DISPOSAL, fresh_assertion=True)
def decline(request_id: int):
    try:
        proposal = operations.find_proposal(request_id)
        pupil_id = proposal.target_id
        operations.decline_disposal(proposal, by=_me())
    except Refused as error:
        return _refused(error)
    db.session.commit()
    flash("Declined: nothing has been disposed of.", "success")
    return redirect(url_for("retention.pupil", pupil_id=pupil_id)), 303


def _refused(error: Refused):
    db.session.rollback()
    if error.status == 404:
        abort(404)
    flash(error.message, "error")
    return redirect(url_for("retention.index")), 303
