"""Admin views: thin wrappers over `server.auth.accounts` and the roster functions."""

from flask import abort, flash, redirect, render_template, url_for
from flask_login import current_user
from sqlalchemy import select

from server.admin import bp
from server.admin.forms import UserForm
from server.auth import accounts
from server.auth.access import requires
from server.auth.models import User
from server.auth.operations import AuthError
from server.auth.roles import Permission
from server.extensions import db


@bp.route("/")
@requires(Permission.MANAGE_USERS, Permission.MANAGE_ROSTER, Permission.MANAGE_SETTINGS)
def index():
    return render_template("admin/index.html")


@bp.route("/users")
@requires(Permission.MANAGE_USERS)
def users():
    people = db.session.scalars(select(User).order_by(User.active.desc(), User.full_name)).all()
    return render_template("admin/users.html", people=people)


@bp.route("/users/new", methods=["GET", "POST"])
@requires(Permission.MANAGE_USERS)
def new_user():
    form = UserForm()
    if not form.validate_on_submit():
        return render_template("admin/user_form.html", form=form, person=None), (
            422 if form.errors else 200
        )
    try:
        person = accounts.create_user(
            email=form.email.data,
            full_name=form.full_name.data,
            initials=form.initials.data,
            roles=form.roles.data,
        )
        accounts.set_active(person, form.active.data, by=current_user)
    except AuthError as error:
        db.session.rollback()
        flash(error.message, "error")
        return render_template("admin/user_form.html", form=form, person=None), error.status
    db.session.commit()
    flash(
        f"Account created for {person.full_name}. They set their password with "
        "“Forgotten your password?” on the sign-in page.",
        "success",
    )
    return redirect(url_for("admin.users"))


@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
@requires(Permission.MANAGE_USERS)
def edit_user(user_id: int):
    person = db.session.get(User, user_id) or abort(404)
    form = UserForm(obj=person)
    if not form.is_submitted():
        form.roles.data = sorted(person.roles)
    if not form.validate_on_submit():
        return render_template("admin/user_form.html", form=form, person=person), (
            422 if form.errors else 200
        )
    try:
        accounts.update_user(
            person,
            email=form.email.data,
            full_name=form.full_name.data,
            initials=form.initials.data,
            roles=form.roles.data,
        )
        accounts.set_active(person, form.active.data, by=current_user)
    except AuthError as error:
        db.session.rollback()
        flash(error.message, "error")
        return render_template("admin/user_form.html", form=form, person=person), error.status
    db.session.commit()
    flash(f"Saved {person.full_name}.", "success")
    return redirect(url_for("admin.users"))
