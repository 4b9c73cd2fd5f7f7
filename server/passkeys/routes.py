"""Passkey pages and the JSON endpoints that pages/js/passkeys.js drives."""

from flask import abort, flash, g, jsonify, redirect, render_template, request, url_for
from flask_login import current_user

from server.auth.access import requires
from server.auth.roles import Permission
from server.auth.step_up import has_fresh_assertion
from server.extensions import db
from server.passkeys import bp, operations
from server.passkeys.forms import PasskeyNameForm
from server.passkeys.operations import PasskeyError
from server.web import request_json_object, safe_next_url


def _refused(error: PasskeyError):
    return jsonify(error=error.reason, message=error.message), error.status


def _next_or_none() -> str | None:
    target = request.args.get("next")
    return safe_next_url(target) if target else None


@bp.app_context_processor
def passkey_prompt():
    """`needs_passkey()` in any page: someone who may review but has no passkey yet."""

    def needs_passkey() -> bool:
        return (
            current_user.is_authenticated
            and current_user.can(Permission.HOLD_PASSKEY)
            and not operations.passkeys_of(current_user)
        )

    return {"needs_passkey": needs_passkey}


@bp.route("/")
@requires(Permission.HOLD_PASSKEY)
def index():
    passkeys = operations.passkeys_of(current_user)
    return render_template(
        "passkeys/index.html",
        passkeys=passkeys,
        form=PasskeyNameForm(),
        may_add=not passkeys or has_fresh_assertion(g.user_session),
        next_url=_next_or_none(),
    )


@bp.route("/register/options", methods=["POST"])
@requires(Permission.HOLD_PASSKEY)
def register_options():
    try:
        options = operations.registration_options(current_user, g.user_session)
    except PasskeyError as error:
        db.session.rollback()
        return _refused(error)
    db.session.commit()
    return jsonify(options)


@bp.route("/register", methods=["POST"])
@requires(Permission.HOLD_PASSKEY)
def register():
    body = request_json_object()
    try:
        passkey = operations.register_passkey(
            current_user, g.user_session, body.get("name"), body.get("credential")
        )
    except PasskeyError as error:
        db.session.commit()  # keeps the audit row and the spent challenge
        return _refused(error)
    db.session.commit()
    flash(f"Passkey “{passkey.name}” added.", "success")
    return jsonify(id=passkey.id, name=passkey.name), 201


@bp.route("/<int:passkey_id>/rename", methods=["GET", "POST"])
@requires(Permission.HOLD_PASSKEY)
def rename(passkey_id: int):
    passkey = operations.find_passkey(passkey_id, current_user) or abort(404)
    form = PasskeyNameForm(obj=passkey)
    if not form.validate_on_submit():
        return render_template("passkeys/rename.html", form=form, passkey=passkey), (
            422 if form.errors else 200
        )
    try:
        operations.rename_passkey(passkey, form.name.data, by=current_user)
    except PasskeyError as error:
        db.session.rollback()
        form.name.errors.append(error.message)
        return render_template("passkeys/rename.html", form=form, passkey=passkey), error.status
    db.session.commit()
    flash("Passkey renamed.", "success")
    return redirect(url_for("passkeys.index"))


@bp.route("/<int:passkey_id>/revoke", methods=["POST"])
@requires(Permission.HOLD_PASSKEY, fresh_assertion=True)
def revoke(passkey_id: int):
    passkey = operations.find_passkey(passkey_id, current_user) or abort(404)
    try:
        operations.revoke_passkey(passkey, by=current_user)
    except PasskeyError as error:
        db.session.rollback()
        flash(error.message, "error")
        return redirect(url_for("passkeys.index"))
    db.session.commit()
    flash(f"Passkey “{passkey.name}” removed. It can no longer be used.", "success")
    return redirect(url_for("passkeys.index"))


@bp.route("/step-up")
@requires(Permission.HOLD_PASSKEY)
def step_up():
    return render_template(
        "passkeys/step_up.html",
        has_passkey=operations.has_usable_passkey(current_user),
        next_url=safe_next_url(request.args.get("next")),
    )


@bp.route("/step-up/options", methods=["POST"])
@requires(Permission.HOLD_PASSKEY)
def step_up_options():
    try:
        options = operations.step_up_options(current_user, g.user_session)
    except PasskeyError as error:
        db.session.rollback()
        return _refused(error)
    db.session.commit()
    return jsonify(options)


@bp.route("/step-up", methods=["POST"])
@requires(Permission.HOLD_PASSKEY)
def verify_step_up():
    body = request_json_object()
    try:
        operations.step_up(current_user, g.user_session, body.get("credential"))
    except PasskeyError as error:
        db.session.commit()  # keeps the audit row, the spent challenge and any flag
        return _refused(error)
    db.session.commit()
    return jsonify(redirect=safe_next_url(body.get("next")))
