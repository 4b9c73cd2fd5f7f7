"""Brute-force throttling of sign-in, per account and per address (SPEC §9), and of the other
public doors that need it (the transfer inbox), per address.

Attempts are rows in the database, so the limits hold across every web process and restart.
Each row has a `kind`: sign-in attempts count only against sign-in, inbox posts only against
the inbox. Callers fail closed: when the count cannot be read, the request is refused.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import func, select

from server.auth.models import SignInAttempt
from server.clock import utcnow
from server.extensions import db


@dataclass(frozen=True)
class ThrottleDecision:
    allowed: bool
    retry_after: timedelta = timedelta(0)

    @property
    def retry_after_minutes(self) -> int:
        return max(1, -(-int(self.retry_after.total_seconds()) // 60))


def _blocked_until(failures: list[datetime], limit: int, window: timedelta) -> datetime | None:
    """With `limit` or more failures in the window, the block lasts until the oldest of the
    most recent `limit` failures leaves the window."""
    if len(failures) < limit:
        return None
    return sorted(failures)[-limit] + window


SIGN_IN = "sign_in"
TRANSFER_INBOX = "transfer_inbox"


def _recent_failures(
    column, value: str, since: datetime, kind: str = SIGN_IN, *, failures_only: bool = True
) -> list[datetime]:
    conditions = [
        SignInAttempt.kind == kind,
        column == value,
        SignInAttempt.attempted_at > since,
    ]
    if failures_only:
        conditions.append(SignInAttempt.succeeded.is_(False))
    return list(db.session.scalars(select(SignInAttempt.attempted_at).where(*conditions)))


def _last_success(email: str) -> datetime | None:
    return db.session.scalar(
        select(func.max(SignInAttempt.attempted_at)).where(
            SignInAttempt.kind == SIGN_IN,
            SignInAttempt.email == email,
            SignInAttempt.succeeded.is_(True),
        )
    )


def check(email: str, ip_address: str) -> ThrottleDecision:
    config = current_app.config
    window = config["THROTTLE_WINDOW"]
    now = utcnow()
    account_since = max(filter(None, [now - window, _last_success(email)]))
    blocks = [
        _blocked_until(
            _recent_failures(SignInAttempt.email, email, account_since),
            config["THROTTLE_ACCOUNT_FAILURES"],
            window,
        ),
        _blocked_until(
            _recent_failures(SignInAttempt.ip_address, ip_address, now - window),
            config["THROTTLE_ADDRESS_FAILURES"],
            window,
        ),
    ]
    until = max((block for block in blocks if block and block > now), default=None)
    return ThrottleDecision(True) if until is None else ThrottleDecision(False, until - now)


def record_attempt(email: str, ip_address: str, *, succeeded: bool, kind: str = SIGN_IN) -> None:
    db.session.add(
        SignInAttempt(kind=kind, email=email, ip_address=ip_address, succeeded=succeeded)
    )
    db.session.flush()


def check_address(kind: str, ip_address: str, limit: int, window: timedelta) -> ThrottleDecision:
    """Every request of `kind` from the address counts, accepted or refused: a public door
    that takes large bodies is throttled by how often it is used, not only by failures."""
    now = utcnow()
    until = _blocked_until(
        _recent_failures(
            SignInAttempt.ip_address, ip_address, now - window, kind, failures_only=False
        ),
        limit,
        window,
    )
    return (
        ThrottleDecision(True)
        if until is None or until <= now
        else ThrottleDecision(False, until - now)
    )
