"""The DSL's subject access pages: build an export, review and adjust its redactions, release
it as PDF or JSON. Building and releasing need a passkey check in the last five minutes."""

from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from server.auth.access import requires
from server.auth.roles import Permission
from server.errors import Refused
from server.extensions import db
from server.ids import parse_id
from server.pupils.models import Pupil
from server.subject_access import bp, operations
from server.subject_access.forms import PhraseForm, StartForm
from server.subject_access.redaction import KINDS


def _me():
    return current_user._get_current_object()


def _pupil(pupil_id: int) -> Pupil:
    pupil = db.session.get(Pupil, pupil_id)
    if pupil is None:
        abort(404)
    return pupil


def _export(export_id: int):
    try:
        return operations.find_export(export_id, by=_me())
    except Refused as error:
        abort(error.status)


@bp.route("/pupils/<int:pupil_id>", methods=["GET", "POST"])
@requires(Permission.SUBJECT_ACCESS, step_up=True, fresh_assertion_for=("POST",))
def start(pupil_id: int):
    pupil = _pupil(pupil_id)
    form = StartForm()
    if form.validate_on_submit():
        export = operations.start_export(
            pupil, by=_me(), staff=form.staff.data, third_parties=form.third_parties.data
        )
        db.session.commit()
        return redirect(url_for("subject_access.review", export_id=export.id)), 303
    return render_template(
        "subject_access/start.html", pupil=pupil, form=form, exports=operations.exports_for(pupil)
    )


@bp.route("/<int:export_id>")
@requires(Permission.SUBJECT_ACCESS, step_up=True)
def review(export_id: int):
    export = _export(export_id)
    shown = operations.review(export, by=_me())
    db.session.commit()
    return render_template(
        "subject_access/review.html", review=shown, kinds=KINDS, phrase_form=PhraseForm()
    )


@bp.route("/<int:export_id>/redactions", methods=["POST"])
@requires(Permission.SUBJECT_ACCESS, step_up=True)
def adjust(export_id: int):
    export = _export(export_id)
    ids = [parse_id(value) for value in request.form.getlist("on")]
    try:
        if None in ids:
            raise operations.SubjectAccessRefused("Choose redactions from the list.", 400)
        operations.set_redactions(export, set(ids), by=_me())
    except Refused as error:
        db.session.rollback()
        flash(error.message, "error")
    else:
        db.session.commit()
        flash("Redactions saved.", "success")
    return redirect(url_for("subject_access.review", export_id=export_id)), 303


@bp.route("/<int:export_id>/redactions/add", methods=["POST"])
@requires(Permission.SUBJECT_ACCESS, step_up=True)
def add(export_id: int):
    export = _export(export_id)
    form = PhraseForm()
    try:
        if not form.validate_on_submit():
            raise operations.SubjectAccessRefused("Give the words to redact (2 to 200 characters).")
        added = operations.add_phrase(export, form.phrase.data, by=_me())
    except Refused as error:
        db.session.rollback()
        flash(error.message, "error")
    else:
        db.session.commit()
        flash(f"Redacted in {added} places.", "success")
    return redirect(url_for("subject_access.review", export_id=export_id)), 303


@bp.route("/<int:export_id>/release", methods=["POST"])
@requires(Permission.SUBJECT_ACCESS, fresh_assertion=True)
def release(export_id: int):
    export = _export(export_id)
    try:
        filename, content_type, content = operations.release(
            export, request.form.get("format", ""), by=_me()
        )
    except Refused as error:
        db.session.rollback()
        flash(error.message, "error")
        return redirect(url_for("subject_access.review", export_id=export_id)), 303
    db.session.commit()
    return Response(
        content,
        mimetype=content_type,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
