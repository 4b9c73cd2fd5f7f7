"""Server-side sessions: started at sign-in, checked on every request, ended by the server.

The Flask cookie holds only a random token. Its hash finds the `UserSession` row, so sign-out,
idle timeout and disabling a user take effect at once, whatever cookie a browser still holds.
"""

import hashlib
import secrets
from datetime import datetime, timedelta

from flask import current_app, request, session
from sqlalchemy import select, update
from sqlalchemy.orm import joinedload

from server.auth.models import User, UserSession
from server.clock import utcnow
from server.extensions import db

SESSION_TOKEN_KEY = "sid"  # noqa: S105  (a key name, not a secret)
# Activity is written to the session row at most this often, not on every request. The idle
# deadline is reckoned from what was written, so a session ends between IDLE_TIMEOUT minus
# this and IDLE_TIMEOUT after the last request: never later than the rule allows. The page's
# idle timer asks the server for that same deadline, so its warning still comes first.
LAST_SEEN_RESOLUTION = timedelta(minutes=1)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start_session(user: User) -> UserSession:
    """Begin a fresh session (a new id every sign-in) and put its token in the cookie."""
    previous = current_session_row()
    if previous is not None:
        end_session(previous, "replaced")
    token = secrets.token_urlsafe(32)
    row = UserSession(
        token_hash=token_digest(token),
        user_id=user.id,
        ip_address=request.remote_addr,
        user_agent=(request.user_agent.string or "")[:255],
    )
    db.session.add(row)
    db.session.flush()
    # Clearing drops everything a pre-sign-in visitor could have planted, the CSRF token too.
    session.clear()
    session[SESSION_TOKEN_KEY] = token
    session.permanent = True
    return row


def renew_session_id(row: UserSession) -> UserSession:
    """Give the signed-in user a new session id, keeping the session's state (used at step-up)."""
    token = secrets.token_urlsafe(32)
    row.token_hash = token_digest(token)
    session[SESSION_TOKEN_KEY] = token
    db.session.flush()
    return row


def current_session_row() -> UserSession | None:
    token = session.get(SESSION_TOKEN_KEY)
    if not token:
        return None
    # The session, its user and the user's roles in one query: every request needs all three.
    return (
        db.session.execute(
            select(UserSession)
            .where(UserSession.token_hash == token_digest(token))
            .options(joinedload(UserSession.user).joinedload(User.role_rows))
        )
        .unique()
        .scalar_one_or_none()
    )


def idle_deadline(row: UserSession) -> datetime:
    return row.last_seen_at + current_app.config["IDLE_TIMEOUT"]


def resolve_session() -> tuple[UserSession | None, str | None]:
    """The request's live session, or None and why the cookie's session is no longer valid.

    A session that has just lapsed (idle, user disabled) is ended here, with its reason.
    """
    token = session.get(SESSION_TOKEN_KEY)
    if not token:
        return None, None
    row = current_session_row()
    if row is None:
        return None, "unknown"
    if row.ended_at is not None:
        return None, row.end_reason
    if not row.user.active:
        end_session(row, "disabled")
        return None, "disabled"
    if utcnow() >= idle_deadline(row):
        end_session(row, "idle")
        return None, "idle"
    return row, None


def touch(row: UserSession, *, force: bool = False) -> bool:
    """Note activity; written only when the last note is LAST_SEEN_RESOLUTION old (or
    `force`, for an explicit "I am still here"). Returns whether the row changed."""
    now = utcnow()
    if not force and now - row.last_seen_at < LAST_SEEN_RESOLUTION:
        return False
    row.last_seen_at = now
    return True


def end_session(row: UserSession, reason: str) -> None:
    if row.ended_at is None:
        row.ended_at = utcnow()
        row.end_reason = reason
    db.session.flush()


def end_all_sessions(user: User, reason: str) -> int:
    result = db.session.execute(
        update(UserSession)
        .where(UserSession.user_id == user.id, UserSession.ended_at.is_(None))
        .values(ended_at=utcnow(), end_reason=reason)
    )
    return result.rowcount or 0


def lock_session(row: UserSession) -> None:
    row.locked_at = utcnow()


def unlock_session(row: UserSession) -> None:
    row.locked_at = None
    touch(row, force=True)
