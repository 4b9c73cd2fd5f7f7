"""The admin's page for alert rules (SPEC §4): who is alerted to incidents and actions."""

from flask import flash, redirect, render_template, url_for
from flask_login import current_user

from server.alerts import bp, operations, rules
from server.alerts.forms import AlertRulesForm
from server.alerts.operations import AlertError
from server.approvals.models import AccessRequest
from server.auth.access import requires
from server.auth.roles import Permission
from server.extensions import db


@bp.route("/rules", methods=["GET", "POST"])
# Like roles, these decide who is told of safeguarding concerns: saving needs a fresh passkey check.
@requires(Permission.MANAGE_SETTINGS, step_up=True, fresh_assertion_for=("POST",))
def edit_rules():
    current = rules.current_rules()
    form = AlertRulesForm(data={event.value: sorted(current[event]) for event in rules.Event})
    if not form.validate_on_submit():
        return _page(form, 422 if form.errors else 200)
    try:
        changed = operations.set_rules(form.chosen(), by=current_user)
    except AlertError as error:
        db.session.rollback()
        flash(error.message, "error")
        return _page(form, error.status)
    db.session.commit()
    if isinstance(changed, AccessRequest):
        flash(
            "These rules would alert more people, and an alert lets its recipient read the "
            "incident, so a designated safeguarding lead must approve them. They have been "
            "sent to them: the rules stay as they are until then.",
            "info",
        )
    else:
        flash("Alert rules saved." if changed else "No change to the alert rules.", "success")
    return redirect(url_for("alerts.edit_rules"))


def _page(form: AlertRulesForm, status: int):
    return render_template("alerts/rules.html", form=form, rules=rules), status
