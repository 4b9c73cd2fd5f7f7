"""The one mechanism that decides who may reach a route (SPEC §1, §9).

Every view declares its rule with one of the decorators below; `tests/test_access.py` fails
for a route that declares none. Record-level rules (which incident, which pupil) live in each
feature's policy functions and are called from the domain functions.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import wraps

from flask import abort, current_app, g, jsonify, redirect, request, url_for
from flask_login import current_user

from server.auth.roles import Permission
from server.auth.sessions import touch
from server.extensions import db


@dataclass(frozen=True)
class AccessRule:
    """What a route needs: a signed-in user (unless public) holding any of `any_of`."""

    public: bool = False
    any_of: frozenset[Permission] = field(default_factory=frozenset)
    # Routes that a locked (blanked) screen may still reach: unlock and sign-out.
    allowed_while_locked: bool = False
    # Reading it does not count as activity (the idle-timer poll).
    passive: bool = False


def _declare(rule: AccessRule) -> Callable:
    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def guarded(*args, **kwargs):
            if not rule.public:
                if not current_user.is_authenticated:
                    return current_app.login_manager.unauthorized()
                if rule.any_of and not any(current_user.can(p) for p in rule.any_of):
                    abort(403)
            return view(*args, **kwargs)

        guarded.access_rule = rule
        return guarded

    return decorator


def public(view: Callable) -> Callable:
    return _declare(AccessRule(public=True))(view)


def public_while_locked(view: Callable) -> Callable:
    return _declare(AccessRule(public=True, allowed_while_locked=True))(view)


def signed_in(view: Callable | None = None, *, allowed_while_locked=False, passive=False):
    decorator = _declare(AccessRule(allowed_while_locked=allowed_while_locked, passive=passive))
    return decorator(view) if view is not None else decorator


def requires(*permissions: Permission) -> Callable:
    return _declare(AccessRule(any_of=frozenset(permissions)))


def rule_for_endpoint(endpoint: str | None) -> AccessRule | None:
    view = current_app.view_functions.get(endpoint or "")
    if view is None:
        return None
    if endpoint == "static" or endpoint.endswith(".static"):
        return AccessRule(public=True, allowed_while_locked=True, passive=True)
    return getattr(view, "access_rule", None)


def wants_json() -> bool:
    return request.path.startswith("/api/") or (
        request.accept_mimetypes.best_match(["application/json", "text/html"]) == "application/json"
    )


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
    if not (rule and rule.passive):
        touch(row)
        db.session.commit()
    return None
