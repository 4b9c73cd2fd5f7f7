"""Accounts, sign-in, server-side sessions, password reset, blank screen and permissions."""

from flask import Blueprint, flash, g, jsonify, redirect, request, session, url_for
from flask.sessions import SecureCookieSessionInterface

from server.auth import sessions
from server.auth.access import enforce_session_state
from server.extensions import db, login_manager
from server.web import wants_json

bp = Blueprint("auth", __name__)

SIGNED_OUT_MESSAGES = {
    "idle": "You were signed out after 10 minutes without activity.",
    "disabled": "Your account has been disabled.",
    "password reset": "Your password was reset: please sign in again.",
    "password changed": "Your password was changed: please sign in again.",
}


def load_session() -> None:
    """before_request: find the live server-side session behind the cookie, if any."""
    row, ended_because = sessions.resolve_session()
    g.user_session = row
    # An unknown token is most often one that step-up has just replaced while another request
    # was on its way: any cookie in that answer (cleared, or the old one refreshed) would land
    # after the new one and sign the person out. That answer sets no cookie at all.
    if ended_because == "unknown":
        g.stale_session_token = True
    elif ended_because is not None:
        db.session.commit()
        session.clear()
        message = SIGNED_OUT_MESSAGES.get(ended_because)
        if message and not wants_json():
            flash(message, "info")


@login_manager.request_loader
def _user_for_request(_request):
    row = g.get("user_session")
    return row.user if row is not None else None


@login_manager.unauthorized_handler
def _unauthorised():
    if wants_json():
        return jsonify(error="signed_out", message="Please sign in."), 401
    return redirect(url_for("auth.sign_in", next=request.full_path.rstrip("?")))


class HavenSessionInterface(SecureCookieSessionInterface):
    """Flask's signed cookie, except that an answer to a request with a replaced token does not
    send the cookie back unless the request itself changed it (signing in anew does), and static
    files have no session at all: no cookie is read or set for them, so they do not vary by
    cookie and any cache may keep them."""

    def open_session(self, app, request):
        if _is_static(app, request):
            return self.session_class()  # empty, and never saved (below)
        return super().open_session(app, request)

    def save_session(self, app, session, response) -> None:
        if _is_static(app, request):
            return
        super().save_session(app, session, response)

    def should_set_cookie(self, app, session) -> bool:
        if g.get("stale_session_token") and not session.modified:
            return False
        return super().should_set_cookie(app, session)


def _is_static(app, request) -> bool:
    return request.path.startswith(f"{app.static_url_path}/")


def init_auth(app) -> None:
    app.session_interface = HavenSessionInterface()
    login_manager.init_app(app)
    login_manager.session_protection = None  # the server-side session does this job
    app.before_request(load_session)
    app.before_request(enforce_session_state)


from server.auth import routes  # noqa: E402,F401  (registers the views on bp)
