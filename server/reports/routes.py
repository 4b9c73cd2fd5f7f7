"""Report pages and exports. Every one needs a fresh passkey assertion and is audited."""

import io

from flask import g, jsonify, redirect, render_template, request, send_file, url_for
from flask_login import current_user

from server.auth.access import requires
from server.auth.models import User
from server.auth.roles import Permission
from server.chronology.filters import filters_as_args, filters_from_args
from server.clock import school_today
from server.extensions import db
from server.reports import bp, operations
from server.reports.names import STYLES
from server.reports.periods import TERMS, current_term, school_year_of
from server.web import wants_json


def _me() -> User:
    return current_user._get_current_object()


def _pupil_params(pupil_id: int, source) -> dict:
    filters = filters_as_args(filters_from_args(source))  # refused here when unreadable
    return {"pupil_id": pupil_id, "filters": filters, "names": source.get("names", "initials")}


def _school_params(source) -> dict:
    period = {
        name: source.get(name)
        for name in ("period", "term", "year", "from", "to")
        if source.get(name)
    }
    return {"period": period, "names": source.get("names", "initials")}


def _respond(kind: str, params: dict, endpoint: str, url_args: dict):
    if request.method == "POST":
        return _export(kind, params, request.form.get("format", ""))
    document = operations.view_report(kind, _me(), params, g.get("user_session"))
    db.session.commit()
    carried = params.get("filters") or params.get("period") or {}
    return render_template(
        "reports/page.html",
        doc=document,
        styles=STYLES,
        action=url_for(endpoint, **url_args),
        carried=carried,
    )


def _export(kind: str, params: dict, fmt: str):
    export = operations.export_report(kind, _me(), params, fmt, g.get("user_session"))
    db.session.commit()
    if export.run is not None:
        operations.start_run(export.run)
        return redirect(url_for(".run", run_id=export.run.id))
    return send_file(
        io.BytesIO(export.content),
        mimetype=export.content_type,
        as_attachment=True,
        download_name=export.filename,
        conditional=False,
        etag=False,
        max_age=0,
    )


@bp.route("/reports/pupils/<int:pupil_id>/case-conference", methods=["GET", "POST"])
@requires(Permission.RUN_REPORTS, fresh_assertion=True)  # which pupil: policy.py
def case_conference(pupil_id: int):
    source = request.form if request.method == "POST" else request.args
    params = _pupil_params(pupil_id, source)
    return _respond("case_conference", params, ".case_conference", {"pupil_id": pupil_id})


@bp.route("/reports/pupils/<int:pupil_id>/chronology", methods=["GET", "POST"])
@requires(Permission.RUN_REPORTS, fresh_assertion=True)  # which pupil: policy.py
def chronology(pupil_id: int):
    source = request.form if request.method == "POST" else request.args
    params = _pupil_params(pupil_id, source)
    return _respond("chronology", params, ".chronology", {"pupil_id": pupil_id})


@bp.get("/reports")
@requires(Permission.RUN_REPORTS, step_up=True)
def index():
    today = school_today()
    return render_template(
        "reports/index.html",
        terms=TERMS,
        this_term=current_term(today),
        this_year=school_year_of(today),
        styles=STYLES,
    )


@bp.route("/reports/governors", methods=["GET", "POST"])
@requires(Permission.RUN_REPORTS, fresh_assertion=True)
def governors():
    source = request.form if request.method == "POST" else request.args
    return _respond("governors", _school_params(source), ".governors", {})


@bp.route("/reports/inspection", methods=["GET", "POST"])
@requires(Permission.RUN_REPORTS, fresh_assertion=True)
def inspection():
    source = request.form if request.method == "POST" else request.args
    return _respond("inspection", _school_params(source), ".inspection", {})


@bp.get("/reports/runs/<int:run_id>")
@requires(Permission.RUN_REPORTS, step_up=True)
def run(run_id: int):
    found = operations.own_run(_me(), run_id)
    if wants_json():
        return jsonify(operations.run_json(found))
    return render_template("reports/run.html", run=found)


@bp.get("/reports/runs/<int:run_id>/download")
@requires(Permission.RUN_REPORTS, step_up=True)
def download_run(run_id: int):
    found, content = operations.download_run(_me(), run_id)
    db.session.commit()
    return send_file(
        io.BytesIO(content),
        mimetype=found.content_type,
        as_attachment=True,
        download_name=found.filename,
        conditional=False,
        etag=False,
        max_age=0,
    )
