"""The one mechanism that decides who may reach a route (SPEC §1, §6, §9).

Every view declares its rule with one of the decorators below; `tests/test_access.py` fails
for a route that declares none. Review, reports and administration also declare that they need
a passkey step-up (`step_up=True`), and the most consequential acts an assertion in the last
five minutes (`fresh_assertion=True`, or `fresh_assertion_for=("POST",)` when only changing
something needs it). Record-level rules (which incident, which pupil) live in each
feature's policy functions and are called from the domain functions.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import wraps
from urllib.parse import urlsplit

from flask import abort, current_app, flash, g, jsonify, redirect, request, url_for
from flask_login import current_user

from server.auth.roles import Permission
from server.auth.sessions import touch
from server.auth.step_up import has_fresh_assertion, note_review_activity, review_unlocked
from server.extensions import db
from server.web import wants_json


@dataclass(frozen=True)
class AccessRule:
    """What a route needs: a signed-in user (unless public) holding any of `any_of`."""

    public: bool = False
    any_of: frozenset[Permission] = field(default_factory=frozenset)
    # Routes that a locked (blanked) screen may still reach: unlock and sign-out.
    allowed_while_locked: bool = False
    # Reading it does not count as activity (the idle-timer poll).
    passive: bool = False
    # Needs review unlocked by a passkey step-up (SPEC §6).
    step_up: bool = False
    # Needs a passkey assertion in the last five minutes, for every method...
    fresh_assertion: bool = False
    # ...or only for these methods (the form may be read with step-up; saving it needs more).
    fresh_assertion_for: frozenset[str] = field(default_factory=frozenset)

    def needs_fresh_assertion(self, method: str) -> bool:
        return self.fresh_assertion or method.upper() in self.fresh_assertion_for

    def needs_step_up(self, method: str) -> bool:
        return self.step_up or self.needs_fresh_assertion(method)


def _declare(rule: AccessRule) -> Callable:
    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def guarded(*args, **kwargs):
            if not rule.public:
                if not current_user.is_authenticated:
                    return current_app.login_manager.unauthorized()
                if rule.any_of and not any(current_user.can(p) for p in rule.any_of):
                    abort(403)
                if rule.needs_step_up(request.method):
                    refusal = _check_step_up(rule)
                    if refusal is not None:
                        return refusal
            return view(*args, **kwargs)

        guarded.access_rule = rule
        return guarded

    return decorator


def public(view: Callable) -> Callable:
    return _declare(AccessRule(public=True))(view)


def public_while_locked(view: Callable) -> Callable:
    return _declare(AccessRule(public=True, allowed_while_locked=True))(view)


def public_background(view: Callable) -> Callable:
    """Public, reachable while the screen is blanked, and not counted as activity: what the
    service worker and a device's outbox fetch in the background."""
    return _declare(AccessRule(public=True, allowed_while_locked=True, passive=True))(view)


def signed_in(view: Callable | None = None, *, allowed_while_locked=False, passive=False):
    decorator = _declare(AccessRule(allowed_while_locked=allowed_while_locked, passive=passive))
    return decorator(view) if view is not None else decorator


def requires(
    *permissions: Permission,
    step_up: bool = False,
    fresh_assertion: bool = False,
    fresh_assertion_for: Iterable[str] = (),
) -> Callable:
    """Any of `permissions`; with `step_up`, review unlocked by a passkey; with
    `fresh_assertion` (or `fresh_assertion_for` some methods), a passkey assertion in the last
    five minutes. A fresh assertion implies step-up."""
    methods = frozenset(method.upper() for method in fresh_assertion_for)
    return _declare(
        AccessRule(
            any_of=frozenset(permissions),
            step_up=step_up or fresh_assertion,
            fresh_assertion=fresh_assertion,
            fresh_assertion_for=methods,
        )
    )


STEP_UP_MESSAGE = "Confirm it is you with your passkey to continue."
FRESH_ASSERTION_MESSAGE = "Confirm it is you with your passkey again: this needs a fresh check."


def _check_step_up(rule: AccessRule):
    """None when the session's passkey step-up covers this request; otherwise the refusal.

    Pages go through the step-up page and come back; scripts get 403 `step_up_required`.
    """
    row = g.get("user_session")
    fresh_needed = rule.needs_fresh_assertion(request.method)
    if review_unlocked(row) and (not fresh_needed or has_fresh_assertion(row)):
        if note_review_activity(row):
            db.session.commit()
        return None
    message = FRESH_ASSERTION_MESSAGE if review_unlocked(row) else STEP_UP_MESSAGE
    reading = request.method in {"GET", "HEAD"}
    step_up_url = url_for("passkeys.step_up", next=_page_to_return_to(reading))
    if wants_json():
        return jsonify(
            error="step_up_required",
            fresh_assertion=fresh_needed,
            message=message,
            step_up_url=step_up_url,
        ), 403
    if not reading:
        flash(message + " Then make your change again.", "info")
    return redirect(step_up_url)


def _page_to_return_to(reading: bool) -> str:
    """After step-up: the page asked for, or for a refused form submission the page that held
    the form (a POST is never re-sent; the user makes the change again)."""
    if reading:
        return request.full_path.rstrip("?")
    referrer = urlsplit(request.referrer or "")
    if referrer.netloc == request.host and referrer.path.startswith("/"):
        return referrer.path + (f"?{referrer.query}" if referrer.query else "")
    return url_for("home.index")


def rule_for_endpoint(endpoint: str | None) -> AccessRule | None:
    view = current_app.view_functions.get(endpoint or "")
    if view is None:
        return None
    if endpoint == "static" or endpoint.endswith(".static"):
        return AccessRule(public=True, allowed_while_locked=True, passive=True)
    return getattr(view, "access_rule", None)


def enforce_session_state():
    """before_request: a blanked screen shows nothing but the unlock page; activity is noted."""
    row = g.get("user_session")
    if row is None:
        return None
    rule = rule_for_endpoint(request.endpoint)
    if row.locked_at is not None and not (rule and rule.allowed_while_locked):
        if wants_json():
            return jsonify(
                error="locked", message="The screen is blanked: unlock to continue."
            ), 423
        return redirect(url_for("auth.unlock", next=request.full_path.rstrip("?")))
    # Activity is written at most once a minute (sessions.LAST_SEEN_RESOLUTION), so most
    # requests make no write here at all.
    if not (rule and rule.passive) and touch(row):
        db.session.commit()
    return None
