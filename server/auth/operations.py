"""The rules of signing in, out, resetting and locking. Views call these; tests do too."""

import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app, url_for
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from server.audit.operations import client_address, record
from server.auth import sessions, throttling
from server.auth.models import PasswordResetToken, User, UserSession
from server.auth.passwords import hash_password, password_problems, verify_password
from server.clock import utcnow
from server.errors import Refused
from server.extensions import db
from server.jobs import enqueue, job
from server.mail import send_mail

SIGN_IN_UNAVAILABLE = "Signing in is unavailable just now. Please try again in a minute."
BAD_CREDENTIALS = "That email address and password do not match an account."
RESET_REQUESTS_PER_HOUR = 3
log = logging.getLogger(__name__)


class AuthError(Refused):
    def __init__(self, message: str, status: int = 400):
        super().__init__(message, status)


def normalise_email(email: str) -> str:
    return (email or "").strip().lower()


def find_user_by_email(email: str) -> User | None:
    return db.session.scalar(select(User).where(User.email == normalise_email(email)))


@dataclass
class SignInOutcome:
    user: User | None
    error: AuthError | None = None


def sign_in(email: str, password: str) -> SignInOutcome:
    """Check the credentials under the throttle; on success start a new session.

    Failures are recorded and audited in the same transaction, which the caller commits
    whatever the outcome.
    """
    email = normalise_email(email)
    address = client_address() or "unknown"
    try:
        decision = throttling.check(email, address)
    except SQLAlchemyError:
        # Fail closed: with no way to count attempts, no password is checked at all.
        db.session.rollback()
        log.exception("sign-in throttle unavailable")
        return SignInOutcome(None, AuthError(SIGN_IN_UNAVAILABLE, 503))
    if not decision.allowed:
        record("auth.sign_in_throttled", actor_label=email or "(blank)")
        minutes = decision.retry_after_minutes
        return SignInOutcome(
            None,
            AuthError(
                f"Too many attempts. Try again in {minutes} minute{'s' if minutes > 1 else ''}, "
                "or reset your password.",
                429,
            ),
        )
    user = find_user_by_email(email)
    if not verify_password(user.password_hash if user else None, password):
        throttling.record_attempt(email, address, succeeded=False)
        record(
            "auth.sign_in_failed",
            actor_label=email or "(blank)",
            details={"reason": "bad credentials"},
        )
        return SignInOutcome(None, AuthError(BAD_CREDENTIALS, 401))
    if not user.active:
        throttling.record_attempt(email, address, succeeded=False)
        record("auth.sign_in_failed", actor=user, details={"reason": "account disabled"})
        return SignInOutcome(
            None,
            AuthError("This account has been disabled. Please speak to the school office.", 403),
        )
    throttling.record_attempt(email, address, succeeded=True)
    row = sessions.start_session(user)
    record("auth.sign_in", actor=user, object_type="session", object_id=row.id)
    return SignInOutcome(user)


def sign_out(row: UserSession, reason: str = "signed out") -> None:
    sessions.end_session(row, reason)
    record("auth.sign_out", actor=row.user, object_type="session", object_id=row.id)


def set_password(user: User, new_password: str) -> None:
    problems = password_problems(new_password, email=user.email, full_name=user.full_name)
    if problems:
        raise AuthError(" ".join(problems), 422)
    user.password_hash = hash_password(new_password)
    user.password_changed_at = utcnow()


def change_password(user: User, current_password: str, new_password: str) -> None:
    if not verify_password(user.password_hash, current_password):
        raise AuthError("Your current password is not right.", 422)
    set_password(user, new_password)
    # Other devices signed in with the old password are signed out; this one stays.
    current = sessions.current_session_row()
    for row in db.session.scalars(
        select(UserSession).where(UserSession.user_id == user.id, UserSession.ended_at.is_(None))
    ):
        if current is None or row.id != current.id:
            sessions.end_session(row, "password changed")
    record("auth.password_changed", actor=user, object_type="user", object_id=user.id)


def lock_screen(row: UserSession) -> None:
    sessions.lock_session(row)
    record("auth.screen_blanked", actor=row.user, object_type="session", object_id=row.id)


UNLOCK_LOCKED_OUT = (
    "Too many wrong passwords: you have been signed out. Sign in again in 15 minutes, "
    "or reset your password."
)


def unlock_screen(row: UserSession, password: str) -> None:
    """Unlock a blanked screen. Wrong passwords count with sign-in failures (same throttle).

    While the account is throttled (by anyone's failures) no password is checked and the screen
    stays locked. When this session's own wrong password brings on the throttle, the session is
    ended: guessing at an unattended blanked iPad gets no further than at the sign-in page.
    """
    email, address = row.user.email, client_address() or "unknown"
    try:
        decision = throttling.check(email, address)
    except SQLAlchemyError:
        db.session.rollback()
        log.exception("unlock throttle unavailable")
        raise AuthError(SIGN_IN_UNAVAILABLE, 503) from None
    if not decision.allowed:
        record("auth.unlock_throttled", actor=row.user, object_type="session", object_id=row.id)
        minutes = decision.retry_after_minutes
        raise AuthError(
            f"Too many attempts. Try again in {minutes} minute{'s' if minutes > 1 else ''}.", 429
        )
    if verify_password(row.user.password_hash, password):
        throttling.record_attempt(email, address, succeeded=True)
        sessions.unlock_session(row)
        record("auth.screen_unlocked", actor=row.user, object_type="session", object_id=row.id)
        return
    throttling.record_attempt(email, address, succeeded=False)
    record("auth.unlock_failed", actor=row.user, object_type="session", object_id=row.id)
    if throttling.check(email, address).allowed:
        raise AuthError("That password is not right.", 401)
    sessions.end_session(row, "unlock attempts")
    record("auth.unlock_locked_out", actor=row.user, object_type="session", object_id=row.id)
    raise AuthError(UNLOCK_LOCKED_OUT, 401)


def _token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def request_password_reset(email: str) -> str | None:
    """Issue a single-use reset link for an active account; returns the token (for the mail).

    Callers always show the same reply, so this never reveals whether an account exists.
    """
    user = find_user_by_email(email)
    if user is None or not user.active:
        record(
            "auth.reset_requested",
            actor_label=normalise_email(email) or "(blank)",
            details={"sent": False},
        )
        return None
    now = utcnow()
    recent = db.session.scalar(
        select(func.count(PasswordResetToken.id)).where(
            PasswordResetToken.user_id == user.id,
            PasswordResetToken.created_at > now - timedelta(hours=1),
        )
    )
    if recent >= RESET_REQUESTS_PER_HOUR:
        record("auth.reset_requested", actor=user, details={"sent": False, "reason": "too many"})
        return None
    revoke_reset_links(user)  # a new link replaces any earlier one still unused
    token = secrets.token_urlsafe(32)
    db.session.add(
        PasswordResetToken(
            user_id=user.id,
            token_hash=_token_digest(token),
            expires_at=now + current_app.config["PASSWORD_RESET_LIFETIME"],
        )
    )
    record(
        "auth.reset_requested",
        actor=user,
        object_type="user",
        object_id=user.id,
        details={"sent": True},
    )
    return token


def revoke_reset_links(user: User) -> None:
    for unused in db.session.scalars(
        select(PasswordResetToken).where(
            PasswordResetToken.user_id == user.id, PasswordResetToken.used_at.is_(None)
        )
    ):
        unused.used_at = utcnow()


def send_reset_email(user_email: str, token: str) -> None:
    """Queue the reset mail; call after the token's transaction has committed."""
    link = url_for("auth.reset_password", token=token, _external=True)
    enqueue(deliver_reset_email, user_email, link)


@job
def deliver_reset_email(user_email: str, link: str) -> None:
    minutes = int(current_app.config["PASSWORD_RESET_LIFETIME"].total_seconds() // 60)
    send_mail(
        user_email,
        f"Reset your {current_app.config['SCHOOL_NAME'] or 'Haven'} password",
        "Someone (we hope you) asked to reset the password for this Haven account.\n\n"
        f"Open this link to choose a new password. It works once, for {minutes} minutes:\n\n"
        f"{link}\n\n"
        "If you did not ask for this, you can ignore this email: your password has not changed.\n",
    )


def reset_token_row(token: str) -> PasswordResetToken:
    row = db.session.scalar(
        select(PasswordResetToken).where(PasswordResetToken.token_hash == _token_digest(token))
    )
    if row is None or row.used_at is not None or row.expires_at <= utcnow() or not row.user.active:
        raise AuthError(
            "This reset link has expired or has already been used. Please ask for a new one.", 410
        )
    return row


def reset_password(token: str, new_password: str) -> User:
    row = reset_token_row(token)
    set_password(row.user, new_password)
    row.used_at = utcnow()
    sessions.end_all_sessions(row.user, "password reset")
    record("auth.password_reset", actor=row.user, object_type="user", object_id=row.user.id)
    return row.user
