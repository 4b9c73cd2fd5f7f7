"""Admin views: thin wrappers over `server.auth.accounts` and the roster functions."""

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select
from wtforms.fields.choices import SelectChoice

from server.admin import bp
from server.admin.forms import ClassTeachersForm, PupilSearchForm, RosterImportForm, UserForm
from server.approvals.models import AccessRequest
from server.auth import accounts
from server.auth.access import requires
from server.auth.models import User
from server.auth.operations import AuthError
from server.auth.roles import Permission
from server.extensions import db
from server.ids import parse_id
from server.passkeys import operations as passkeys
from server.passkeys.operations import PasskeyError, find_passkey, passkeys_of
from server.pupils import operations as roster
from server.pupils.import_report import RosterFileError
from server.pupils.models import SchoolClass
from server.pupils.pupil_import import import_pupils
from server.pupils.staff_import import import_staff


@bp.route("/")
@requires(
    Permission.MANAGE_USERS, Permission.MANAGE_ROSTER, Permission.MANAGE_SETTINGS, step_up=True
)
def index():
    return render_template("admin/index.html")


@bp.route("/users")
@requires(Permission.MANAGE_USERS, step_up=True)
def users():
    people = db.session.scalars(select(User).order_by(User.active.desc(), User.full_name)).all()
    return render_template("admin/users.html", people=people)


# Giving or taking away roles, or disabling an account, needs a passkey check in the last 5 minutes.
@bp.route("/users/new", methods=["GET", "POST"])
@requires(Permission.MANAGE_USERS, step_up=True, fresh_assertion_for=("POST",))
def new_user():
    form = UserForm()
    if not form.validate_on_submit():
        return render_template("admin/user_form.html", form=form, person=None), (
            422 if form.errors else 200
        )
    try:
        outcome = accounts.add_account(
            email=form.email.data,
            full_name=form.full_name.data,
            initials=form.initials.data,
            roles=form.roles.data,
            active=form.active.data,
            by=current_user._get_current_object(),
        )
    except AuthError as error:
        db.session.rollback()
        flash(error.message, "error")
        return render_template("admin/user_form.html", form=form, person=None), error.status
    db.session.commit()
    if isinstance(outcome, AccessRequest):
        flash(SENT_TO_DSL, "info")
    else:
        flash(
            f"Account created for {outcome.full_name}. They set their password with "
            "“Forgotten your password?” on the sign-in page.",
            "success",
        )
    return redirect(url_for("admin.users"))


SENT_TO_DSL = (
    "A designated safeguarding lead must approve this, because it lets someone read incidents "
    "or changes the sign-in of someone who does. It has been sent to them: nothing changes "
    "until they approve it."
)


@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
@requires(Permission.MANAGE_USERS, step_up=True, fresh_assertion_for=("POST",))
def edit_user(user_id: int):
    person = db.session.get(User, user_id) or abort(404)
    form = UserForm(obj=person)
    if not form.is_submitted():
        form.roles.data = sorted(person.roles)
    if not form.validate_on_submit():
        return _user_page(form, person), 422 if form.errors else 200
    try:
        request = accounts.save_account(
            person,
            email=form.email.data,
            full_name=form.full_name.data,
            initials=form.initials.data,
            roles=form.roles.data,
            active=form.active.data,
            by=current_user._get_current_object(),
        )
    except AuthError as error:
        db.session.rollback()
        flash(error.message, "error")
        return _user_page(form, person), error.status
    db.session.commit()
    if request is not None:
        flash(SENT_TO_DSL, "info")
    else:
        flash(f"Saved {person.full_name}.", "success")
    return redirect(url_for("admin.users"))


def _user_page(form: UserForm, person: User) -> str:
    return render_template(
        "admin/user_form.html", form=form, person=person, passkeys=passkeys_of(person)
    )


@bp.route("/users/<int:user_id>/passkeys/<int:passkey_id>/revoke", methods=["POST"])
@requires(Permission.MANAGE_USERS, fresh_assertion=True)
def revoke_passkey(user_id: int, passkey_id: int):
    person = db.session.get(User, user_id) or abort(404)
    passkey = find_passkey(passkey_id, owner=person) or abort(404)
    try:
        passkeys.revoke_passkey(passkey, by=current_user)
    except PasskeyError as error:
        db.session.rollback()
        flash(error.message, "error")
    else:
        db.session.commit()
        flash(f"Removed the passkey “{passkey.name}” from {person.full_name}.", "success")
    return redirect(url_for("admin.edit_user", user_id=person.id))


# The school roll: classes, pupils and the MIS import ------------------------------------------


@bp.route("/classes")
@requires(Permission.MANAGE_ROSTER, step_up=True)
def classes():
    return render_template("admin/classes.html", years=roster.classes_by_year())


@bp.route("/classes/<int:class_id>", methods=["GET", "POST"])
# Who teaches a class decides who is alerted for its pupils: a fresh passkey check to save.
@requires(Permission.MANAGE_ROSTER, step_up=True, fresh_assertion_for=("POST",))
def edit_class(class_id: int):
    school_class = db.session.get(SchoolClass, class_id) or abort(404)
    form = ClassTeachersForm()
    form.teachers.choices = [
        SelectChoice(u.id, u.full_name) for u in roster.eligible_class_teachers()
    ]
    if not form.is_submitted():
        form.teachers.data = [teacher.id for teacher in school_class.teachers]
    if form.validate_on_submit():
        try:
            changed = roster.set_class_teachers(
                school_class, form.teachers.data, by=current_user._get_current_object()
            )
        except roster.RosterError as error:
            db.session.rollback()
            form.teachers.errors.append(error.message)
        else:
            db.session.commit()
            if isinstance(changed, AccessRequest):
                flash(SENT_TO_DSL, "info")
            else:
                flash(
                    f"Saved the teachers of {school_class.name}." if changed else "No change.",
                    "success",
                )
            return redirect(url_for("admin.classes"))
    return render_template(
        "admin/classes_edit.html",
        form=form,
        school_class=school_class,
        pupils=roster.class_pupils(school_class),
    ), (422 if form.errors else 200)


@bp.route("/pupils")
@requires(Permission.MANAGE_ROSTER, step_up=True)
def pupils():
    form = PupilSearchForm(request.args)
    form.class_id.choices = [SelectChoice(0, "All classes")] + [
        SelectChoice(c.id, c.name) for c in roster.all_classes()
    ]
    if not form.validate():
        return render_template("admin/pupils.html", form=form, results=None), 422
    results = roster.search_pupils(
        form.q.data or "",
        class_id=form.class_id.data or None,
        status=form.status.data,
        # Any page number that is not one (huge, negative, not a number) shows the first page.
        page=parse_id(request.args.get("page")) or 1,
    )
    return render_template("admin/pupils.html", form=form, results=results)


@bp.route("/roster/import", methods=["GET", "POST"])
# A staff file gives and takes away roles: a fresh passkey check to import.
@requires(Permission.MANAGE_ROSTER, step_up=True, fresh_assertion_for=("POST",))
def roster_import():
    form = RosterImportForm()
    if not form.validate_on_submit():
        return _import_page(form), (422 if form.errors else 200)
    try:
        report = _run_roster_import(form)
    except RosterFileError as error:
        db.session.rollback()
        form.file.errors.append(error.message)
        return _import_page(form), error.status
    if not report.dry_run:
        db.session.commit()
    return _import_page(form, report)


def _run_roster_import(form: RosterImportForm):
    options = {"dry_run": form.dry_run.data, "by": current_user._get_current_object()}
    if form.kind.data == "staff":
        return import_staff(form.file.data.stream, **options)
    return import_pupils(
        form.file.data.stream,
        mark_leavers=form.mark_leavers.data,
        confirm_leavers=form.confirm_leavers.data,
        **options,
    )


def _import_page(form: RosterImportForm, report=None) -> str:
    return render_template("admin/roster_import.html", form=form, report=report)
