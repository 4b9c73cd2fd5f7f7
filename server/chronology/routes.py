"""Find a pupil, the pupil record with its chronology, and who viewed this child."""

from flask import flash, g, jsonify, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from server.auth.access import requires
from server.auth.models import User
from server.auth.roles import Permission
from server.chronology import bp, operations
from server.chronology.build import KIND_LABELS, STATUS_FILTERS
from server.chronology.filters import filters_as_args, filters_from_args
from server.extensions import db
from server.incidents import page as incident_page
from server.incidents import policy
from server.incidents.models import Category
from server.pupils.models import year_label

REVIEWERS = (Permission.REVIEW_ALL, Permission.REVIEW_OWN_CLASS)


def _me() -> User:
    return current_user._get_current_object()


@bp.get("/pupils")
@requires(*REVIEWERS, step_up=True)
def find_pupil():
    text = request.args.get("q", "")[:200]
    pupils = operations.find_pupils(_me(), text) if text.strip() else []
    return render_template("pupils/find.html", text=text, pupils=pupils)


@bp.get("/pupils/search")
@requires(*REVIEWERS, step_up=True)
def search_pupils():
    text = request.args.get("q", "")[:200]
    pupils = operations.find_pupils(_me(), text)
    return jsonify(
        pupils=[
            operations.pupil_json(pupil) | {"url": url_for(".pupil_record", pupil_id=pupil.id)}
            for pupil in pupils
        ]
    )


@bp.get("/pupils/<int:pupil_id>")
@requires(*REVIEWERS, step_up=True)  # which pupil: policy.can_open_pupil_record
def pupil_record(pupil_id: int):
    filters = filters_from_args(request.args)
    chronology = operations.open_pupil_record(_me(), pupil_id, g.get("user_session"), filters)
    db.session.commit()
    return render_template(
        "pupils/record.html",
        chronology=chronology,
        pupil=chronology.pupil,
        pupil_year=year_label(chronology.pupil.year_group),
        categories=_category_choices(),
        authors=operations.author_choices(chronology),
        statuses=STATUS_FILTERS,
        filter_args=filters_as_args(filters),
        may_run_reports=_me().can(Permission.RUN_REPORTS),
        may_see_viewers=_me().can(Permission.SEE_WHO_VIEWED),
        sees_corrections=policy.can_see_corrections(_me()),
        kind_labels=KIND_LABELS,
        chronology_text=str,  # the record shows names; reports may hide them
    )


def _category_choices() -> list[Category]:
    query = select(Category).where(Category.active.is_(True))
    if not _me().can(Permission.SEE_SENSITIVE):
        query = query.where(Category.sensitive.is_(False))
    categories = db.session.scalars(query).all()
    return sorted(categories, key=lambda category: category.full_name)


@bp.post("/pupils/<int:pupil_id>/incidents/<int:number>/actions")
@requires(*REVIEWERS, step_up=True)  # which pupil and incident: policy.py
def add_action(pupil_id: int, number: int):
    operations.add_action_from_chronology(
        _me(), pupil_id, number, g.get("user_session"), incident_page.action_fields()
    )
    db.session.commit()
    flash(f"Action added to #{number}.", "success")
    return redirect(url_for(".pupil_record", pupil_id=pupil_id, _anchor=f"incident-{number}"))


@bp.get("/pupils/<int:pupil_id>/viewers")
@requires(Permission.SEE_WHO_VIEWED, step_up=True)
def who_viewed(pupil_id: int):
    pupil = operations.readable_pupil(_me(), pupil_id, g.get("user_session"))
    views = operations.who_viewed(_me(), pupil)
    db.session.commit()
    return render_template("pupils/viewers.html", pupil=pupil, views=views)
