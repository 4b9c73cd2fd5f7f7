"""Sign-in, sign-out, password reset, blank screen and the idle-timer endpoints."""

from flask import (
    current_app,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user

from server.auth import bp, operations
from server.auth.access import public, public_while_locked, signed_in
from server.auth.forms import (
    ChangePasswordForm,
    NewPasswordForm,
    ResetRequestForm,
    SignInForm,
    UnlockForm,
)
from server.auth.sessions import idle_deadline, touch
from server.clock import utcnow
from server.extensions import db
from server.web import safe_next_url, wants_json

RESET_SENT = (
    "If that address belongs to an account, we have sent it a link to reset the password. "
    "The link works once, for an hour."
)


@bp.route("/sign-in", methods=["GET", "POST"])
@public
def sign_in():
    if current_user.is_authenticated:
        return redirect(safe_next_url(request.args.get("next")))
    form = SignInForm()
    if not form.validate_on_submit():
        return render_template("auth/sign_in.html", form=form), 422 if form.errors else 200
    outcome = operations.sign_in(form.email.data, form.password.data)
    db.session.commit()
    if outcome.error:
        flash(outcome.error.message, "error")
        return render_template("auth/sign_in.html", form=form), outcome.error.status
    return redirect(safe_next_url(request.args.get("next")))


@bp.route("/sign-out", methods=["POST"])
@public_while_locked
def sign_out():
    if g.user_session is not None:
        operations.sign_out(g.user_session)
        db.session.commit()
    response = redirect(url_for("auth.sign_in"))
    # Not "storage": that would wipe the sealed outbox, which must still send after sign-out
    # (SPEC §5). The page deletes this user's keys, drafts and snapshots itself (pwa/js/app.js).
    response.headers["Clear-Site-Data"] = '"cache", "cookies"'
    flash("You have signed out.", "info")
    return response


@bp.route("/reset-password", methods=["GET", "POST"])
@public
def request_reset():
    form = ResetRequestForm()
    if not form.validate_on_submit():
        return render_template("auth/reset_request.html", form=form), 422 if form.errors else 200
    address = operations.request_password_reset(form.email.data)
    db.session.commit()
    operations.send_reset_email(address)
    flash(RESET_SENT, "info")
    return redirect(url_for("auth.sign_in"))


@bp.route("/reset-password/<token>", methods=["GET", "POST"])
@public
def reset_password(token: str):
    try:
        operations.reset_token_row(token)
    except operations.AuthError as error:
        return render_template("auth/reset_invalid.html", message=error.message), error.status
    form = NewPasswordForm()
    if not form.validate_on_submit():
        return render_template("auth/reset_password.html", form=form), 422 if form.errors else 200
    try:
        operations.reset_password(token, form.password.data)
    except operations.AuthError as error:
        db.session.rollback()
        form.password.errors.append(error.message)
        return render_template("auth/reset_password.html", form=form), error.status
    db.session.commit()
    flash("Your password has been set. Please sign in with it.", "success")
    return redirect(url_for("auth.sign_in"))


@bp.route("/account/password", methods=["GET", "POST"])
@signed_in
def change_password():
    form = ChangePasswordForm()
    if not form.validate_on_submit():
        return render_template("auth/change_password.html", form=form), 422 if form.errors else 200
    try:
        operations.change_password(current_user, form.current_password.data, form.password.data)
    except operations.AuthError as error:
        db.session.commit()  # keeps a wrong guess counted, and its audit row
        form.password.errors.append(error.message)
        return render_template("auth/change_password.html", form=form), error.status
    db.session.commit()
    flash("Your password has been changed.", "success")
    return redirect(url_for("home.index"))


@bp.route("/blank", methods=["POST"])
@signed_in(allowed_while_locked=True)
def blank_screen():
    if g.user_session.locked_at is None:
        operations.lock_screen(g.user_session)
        db.session.commit()
    return redirect(url_for("auth.unlock", next=safe_next_url(request.form.get("next"))))


@bp.route("/unlock", methods=["GET", "POST"])
@signed_in(allowed_while_locked=True, passive=True)
def unlock():
    """The unlock page; and, for a page locked in place (JSON), the password check that
    brings it back: that answer is given only for the right password, locked or not."""
    if wants_json():
        return _unlock_in_place()
    next_url = safe_next_url(request.args.get("next"))
    if g.user_session.locked_at is None:
        return redirect(next_url)
    form = UnlockForm()
    if not form.validate_on_submit():
        return render_template("auth/unlock.html", form=form), 422 if form.errors else 200
    try:
        operations.unlock_screen(g.user_session, form.password.data)
    except operations.AuthError as error:
        db.session.commit()  # keeps the failed attempt and its audit row
        if g.user_session.ended_at is not None:
            return _signed_out_after(error)
        form.password.errors.append(error.message)
        return render_template("auth/unlock.html", form=form), error.status
    db.session.commit()
    return redirect(next_url)


def _unlock_in_place():
    if request.method != "POST":
        return jsonify(locked=g.user_session.locked_at is not None)
    password = request.form.get("password", "")
    if not password:
        return jsonify(error="invalid", message="Enter your password to unlock."), 422
    try:
        operations.unlock_screen(g.user_session, password)
    except operations.AuthError as error:
        db.session.commit()
        if g.user_session.ended_at is not None:
            return _signed_out_after(error)
        return jsonify(error="refused", message=error.message), error.status
    db.session.commit()
    return jsonify(unlocked=True)


def _signed_out_after(error: operations.AuthError):
    session.clear()
    if wants_json():
        return jsonify(error="signed_out", message=error.message), 401
    flash(error.message, "error")
    return redirect(url_for("auth.sign_in"))


@bp.route("/session")
@signed_in(allowed_while_locked=True, passive=True)
def session_status():
    """For the page's idle timer: how long until the server signs this session out."""
    remaining = (idle_deadline(g.user_session) - utcnow()).total_seconds()
    return jsonify(
        seconds_remaining=max(0, int(remaining)),
        warning_seconds=int(current_app.config["IDLE_WARNING"].total_seconds()),
        locked=g.user_session.locked_at is not None,
        # A page kept under its cover is shown again only to the person who wrote it.
        user_id=g.user_session.user_id,
    )


@bp.route("/session/keep-alive", methods=["POST"])
@signed_in
def keep_alive():
    """Any signed-in request counts as activity; this one exists for the warning's button
    (and the page's typing), so it is always written, however recent the last note."""
    if touch(g.user_session, force=True):
        db.session.commit()
    remaining = (idle_deadline(g.user_session) - utcnow()).total_seconds()
    return jsonify(seconds_remaining=max(0, int(remaining)))
