"""Brute-force throttling of sign-in, per account and per address (SPEC §9).

Attempts are rows in the database, so the limits hold across every web process and restart.
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


def _recent_failures(column, value: str, since: datetime) -> list[datetime]:
    return list(
        db.session.scalars(
            select(SignInAttempt.attempted_at).where(
                column == value,
                SignInAttempt.succeeded.is_(False),
                SignInAttempt.attempted_at > since,
            )
        )
    )


def _last_success(email: str) -> datetime | None:
    return db.session.scalar(
        select(func.max(SignInAttempt.attempted_at)).where(
            SignInAttempt.email == email, SignInAttempt.succeeded.is_(True)
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


def record_attempt(email: str, ip_address: str, *, succeeded: bool) -> None:
    db.session.add(SignInAttempt(email=email, ip_address=ip_address, succeeded=succeeded))
    db.session.flush()
