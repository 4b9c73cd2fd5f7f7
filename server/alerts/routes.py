"""The inbox and marking incidents read: thin views over `server.alerts.operations`."""

import logging

from flask import abort, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy.exc import SQLAlchemyError

from server.alerts import bp, operations
from server.alerts.forms import InboxFilterForm
from server.alerts.operations import AlertError
from server.alerts.rules import Reason
from server.auth.access import requires
from server.auth.roles import Permission
from server.extensions import db
from server.web import safe_next_url, wants_json

# The incidents feature's page for one incident, which alerts link to.
INCIDENT_PAGE = "incidents.show"
log = logging.getLogger(__name__)


@bp.route("")
@requires(Permission.RECORD_INCIDENTS)
def inbox():
    form = InboxFilterForm(request.args)
    form.set_families(operations.families_for(current_user))
    if request.args and not form.validate():
        return render_template("alerts/inbox.html", form=form, page=None), 400
    try:
        page = operations.inbox(
            current_user,
            unread_only=form.unread_only,
            family_id=form.family_id,
            after=request.args.get("after"),
        )
    except AlertError as error:
        return render_template("alerts/inbox.html", form=form, page=None), error.status
    return render_template("alerts/inbox.html", form=form, page=page)


@bp.post("/<int:alert_id>/read")
@requires(Permission.RECORD_INCIDENTS)
def mark_alert_read(alert_id: int):
    try:
        incident = operations.own_alert(current_user, alert_id).incident
        reading = operations.mark_read(current_user, incident)
    except AlertError as error:
        return _refused(error)
    db.session.commit()
    return _marked(incident, reading)


@bp.post("/incident/<int:number>/read")
@requires(Permission.RECORD_INCIDENTS)
def mark_incident_read(number: int):
    try:
        incident = operations.incident_by_number(number)
        reading = operations.mark_read(current_user, incident)
    except AlertError as error:
        return _refused(error)
    db.session.commit()
    return _marked(incident, reading)


def _refused(error: AlertError):
    db.session.rollback()
    abort(error.status)


def _marked(incident, reading):
    if wants_json():
        return jsonify(incident=incident.number, read_at=reading.read_at.isoformat())
    flash(f"Incident {incident.label} marked as read.", "success")
    return redirect(safe_next_url(request.form.get("next") or url_for("alerts.inbox")))


@bp.app_template_global()
def alerts_unread_count() -> int:
    """For the nav on every page, error pages included: a badge must never break a page."""
    if not current_user.is_authenticated or not current_user.can(Permission.RECORD_INCIDENTS):
        return 0
    try:
        return operations.unread_count(current_user)
    except SQLAlchemyError:
        log.exception("could not count unread alerts")
        return 0


@bp.app_template_global()
def alerts_unread_label(count: int) -> str:
    """The menu's badge: the count, or "99+" past `UNREAD_COUNT_CAP` (the count stops there)."""
    cap = operations.UNREAD_COUNT_CAP
    return str(count) if count <= cap else f"{cap}+"


@bp.app_template_global()
def incident_read_at(incident):
    """For `alerts/_mark_read.html`: when the signed-in user read it, or None."""
    return operations.read_state(current_user, incident)


@bp.app_template_global()
def alert_category_label(alert) -> str:
    return operations.category_label(alert.incident)


@bp.app_template_global()
def alert_raised_by(alert) -> str:
    return operations.raised_by(alert)


@bp.app_template_global()
def reason_label(reason: str) -> str:
    try:
        return Reason(reason).label
    except ValueError:
        return reason


@bp.app_template_global()
def incident_url(incident) -> str:
    return url_for(INCIDENT_PAGE, number=incident.number)


@bp.app_template_global()
def escalation_step_label(step: str) -> str:
    from server.alerts.escalation import STEP_LABELS

    return STEP_LABELS.get(step, step)


@bp.app_template_global()
def alert_is_danger(alert) -> bool:
    """Urgent, or in a Safeguarding category: what the inbox puts first while unread."""
    return bool(alert.incident.urgent or alert.incident.is_sensitive)
