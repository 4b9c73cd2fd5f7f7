"""Incident pages and the JSON API the Add Incident page (online, and later offline) uses."""

import io

from flask import (
    current_app,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_login import current_user

from server.alerts.operations import note_opened, preview_recipients
from server.auth.access import requires
from server.auth.models import User
from server.auth.roles import Permission
from server.extensions import csrf, db
from server.incidents import bp, form_data, operations, page, policy
from server.incidents.errors import IncidentRefused
from server.incidents.files import MAX_FILE_BYTES, MAX_FILES, download_name
from server.incidents.policy import READS_INCIDENTS, StepUpNeeded
from server.incidents.submission import submit_incident
from server.web import wants_json


def _me() -> User:
    """The signed-in user itself, not the proxy, for domain functions that store it."""
    return current_user._get_current_object()


@bp.errorhandler(IncidentRefused)
def refused(error: IncidentRefused):
    db.session.rollback()
    if wants_json():
        return jsonify(error.to_json()), error.status
    which = page.FORM_OF_ENDPOINT.get(request.endpoint)
    incident = operations.find_incident((request.view_args or {}).get("number"))
    if (
        error.status == 403
        or which is None
        or incident is None
        or not policy.can_view(_me(), incident, g.get("user_session"))
    ):
        # Nothing of the incident is shown to someone who may not read it.
        title = "Forbidden" if error.status == 403 else "Not accepted"
        return render_template(
            "errors/error.html", status=error.status, title=title, message=error.message
        ), error.status
    # A refused form on the incident page: show the page again, with what was typed kept.
    incident, _access = operations.open_incident(_me(), incident.number)
    context = page.incident_page(_me(), incident, g.get("user_session"), (which, error))
    db.session.commit()
    return render_template("incidents/show.html", **context), error.status


@bp.errorhandler(StepUpNeeded)
def step_up_needed(error: StepUpNeeded):
    db.session.rollback()
    step_up_url = url_for("passkeys.step_up", next=request.full_path.rstrip("?"))
    message = "Confirm it is you with your passkey to review records you were not alerted to."
    if wants_json():
        return jsonify(error="step_up_required", message=message, step_up_url=step_up_url), 403
    return render_template(
        "incidents/step_up_needed.html", message=message, step_up_url=step_up_url
    ), 403


@bp.get("/incidents/new")
@requires(Permission.RECORD_INCIDENTS)
def new():
    # The form's data comes in the page, not in three requests after its scripts: on a slow link
    # that is a round trip saved. The page holds personal data then, as every page that shows
    # some does: never stored (no-store). The app shell the service worker keeps has none.
    return render_template("incidents/new.html", form_data=page.form_data_json(_me()))


@bp.get("/api/incident-form")
@requires(Permission.RECORD_INCIDENTS)
def form_vocabulary():
    return jsonify(form_data.form_vocabulary(_me()))


@bp.get("/api/roster")
@requires(Permission.RECORD_INCIDENTS)
def roster():
    # Personal data: never stored by a browser or a proxy (no-store stays). The device keeps
    # its own encrypted copy with this ETag and asks with If-None-Match: 304 if unchanged.
    body, etag = form_data.roster_json(_me())
    response = current_app.response_class(body, mimetype="application/json")
    response.set_etag(etag)
    return response.make_conditional(request)


@bp.get("/api/staff")
@requires(Permission.RECORD_INCIDENTS)
def staff():
    return jsonify(form_data.staff_list())


@bp.post("/api/alert-preview")
@requires(Permission.RECORD_INCIDENTS)
def alert_preview():
    ids = page.preview_ids(page.request_json())
    return jsonify(preview_recipients(_me(), *ids).to_json())


@bp.post("/api/incidents")
@csrf.exempt
@requires(Permission.RECORD_INCIDENTS)
def submit():
    # Several files of up to 20 MB each may come at once: raise the request limit before
    # anything reads the body, then check the CSRF token as every other form does.
    if request.mimetype == "multipart/form-data":
        request.max_content_length = MAX_FILES * MAX_FILE_BYTES + 2 * 1024 * 1024
        request.max_form_memory_size = 2 * 1024 * 1024
    csrf.protect()
    payload, uploads = page.submission_from_request()
    receipt = submit_incident(_me(), payload, uploads)
    db.session.commit()
    return jsonify(receipt.to_json()), 201 if receipt.created else 200


@bp.get("/incidents/<int:number>")
@requires(*READS_INCIDENTS)  # which incident: policy.py
def show(number: int):
    incident, _access = operations.open_incident(_me(), number)
    note_opened(_me(), incident)
    context = page.incident_page(
        _me(), incident, g.get("user_session"), actions_after=request.args.get("actions_after")
    )
    db.session.commit()
    return render_template("incidents/show.html", **context)


@bp.post("/incidents/<int:number>/actions")
@requires(*READS_INCIDENTS)  # which incident: policy.py
def add_action(number: int):
    incident = operations.incident_by_number(number)
    operations.require_may_add_action(_me(), incident)  # before anything sent is read
    operations.add_action(_me(), incident, **page.action_fields())
    db.session.commit()
    flash("Action added.", "placed:action")
    return redirect(url_for("incidents.show", number=number, _anchor="action-done"))


@bp.post("/incidents/<int:number>/status")
@requires(Permission.REVIEW_ALL)
def change_status(number: int):
    incident = operations.incident_by_number(number)
    operations.require_may_change_status(_me(), incident)  # before anything sent is read
    kind, note = page.status_fields()
    operations.change_status(_me(), incident, kind, note)
    db.session.commit()
    flash("Status changed.", "placed:status")
    return redirect(url_for("incidents.show", number=number, _anchor="status-done"))


@bp.post("/incidents/<int:number>/corrections")
@requires(Permission.CORRECT_RECORDS)
def correct(number: int):
    incident = operations.incident_by_number(number)
    operations.require_may_correct(_me(), incident)  # before anything sent is read
    operations.correct_incident(_me(), incident, **page.correction_fields())
    db.session.commit()
    flash("Correction recorded. The original record is kept.", "placed:correction")
    return redirect(url_for("incidents.show", number=number, _anchor="correction-done"))


@bp.get("/incidents/<int:number>/files/<int:file_id>")
@requires(*READS_INCIDENTS)  # which incident: policy.py
def download_file(number: int, file_id: int):
    attached, content = operations.open_file(_me(), number, file_id)
    db.session.commit()
    return send_file(
        io.BytesIO(content),
        mimetype=attached.content_type,
        as_attachment=True,
        download_name=download_name(attached.original_name, attached.content_type),
        conditional=False,
        etag=False,
        max_age=0,
    )
