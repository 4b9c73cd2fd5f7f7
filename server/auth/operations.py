"""The rules of signing in, out, resetting and locking. Views call these; tests do too."""

import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
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
from server.web import external_url

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


def _refuse_if_throttled(user: User, address: str, throttled_action: str) -> None:
    """Password guesses made while signed in count with sign-in failures (SPEC §9): while the
    account or address is throttled, no password is checked at all."""
    try:
        decision = throttling.check(user.email, address)
    except SQLAlchemyError:
        db.session.rollback()
        log.exception("throttle unavailable")
        raise AuthError(SIGN_IN_UNAVAILABLE, 503) from None
    if not decision.allowed:
        record(throttled_action, actor=user, object_type="user", object_id=user.id)
        minutes = decision.retry_after_minutes
        raise AuthError(
            f"Too many attempts. Try again in {minutes} minute{'s' if minutes > 1 else ''}.", 429
        )


def change_password(user: User, current_password: str, new_password: str) -> None:
    """Wrong current passwords are counted and audited; callers commit on refusal too."""
    address = client_address() or "unknown"
    _refuse_if_throttled(user, address, "auth.password_change_throttled")
    if not verify_password(user.password_hash, current_password):
        throttling.record_attempt(user.email, address, succeeded=False)
        record("auth.password_change_failed", actor=user, object_type="user", object_id=user.id)
        raise AuthError("Your current password is not right.", 422)
    set_password(user, new_password)
    throttling.record_attempt(user.email, address, succeeded=True)
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
    _refuse_if_throttled(row.user, address, "auth.unlock_throttled")
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


def request_password_reset(email: str) -> str:
    """Note the request and return the address for `send_reset_email`, which a job handles.

    The request does the same work whatever the address: it never looks the account up, so
    neither its answer nor its timing says whether an account exists (callers always show the
    same reply).
    """
    address = normalise_email(email)
    record("auth.reset_requested", actor_label=address or "(blank)")
    return address


def send_reset_email(address: str) -> None:
    """Queue the reset link; call after the request's transaction has committed."""
    enqueue(issue_reset_link, address)


def issue_reset_token(address: str) -> str | None:
    """A single-use reset token for an active account at `address`, or None; audited either way.

    The token is made and hashed before the account is looked up, so every address costs the
    same hashing.
    """
    token = secrets.token_urlsafe(32)
    digest = _token_digest(token)
    user = find_user_by_email(address)
    if user is None or not user.active:
        record("auth.reset_not_sent", actor_label=address or "(blank)", details={"sent": False})
        return None
    now = utcnow()
    recent = db.session.scalar(
        select(func.count(PasswordResetToken.id)).where(
            PasswordResetToken.user_id == user.id,
            PasswordResetToken.created_at > now - timedelta(hours=1),
        )
    )
    if recent >= RESET_REQUESTS_PER_HOUR:
        record("auth.reset_not_sent", actor=user, details={"sent": False, "reason": "too many"})
        return None
    revoke_reset_links(user)  # a new link replaces any earlier one still unused
    db.session.add(
        PasswordResetToken(
            user_id=user.id,
            token_hash=digest,
            expires_at=now + current_app.config["PASSWORD_RESET_LIFETIME"],
        )
    )
    record(
        "auth.reset_link_sent",
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


@job
def issue_reset_link(address: str) -> None:
    """The job behind "Forgotten your password?": make the token, commit, then mail the link,
    built on the configured base URL (never on the Host header of the request that asked)."""
    token = issue_reset_token(address)
    db.session.commit()
    if token is not None:
        deliver_reset_email(address, external_url("auth.reset_password", token=token))


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
