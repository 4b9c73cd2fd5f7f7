"""How long a passkey step-up lasts (SPEC §6): the session state that unlocks review.

Review stays unlocked for 15 minutes after the last reviewing request, and never more than
2 hours after the assertion that unlocked it. Exports, transfers, corrections and role changes
need an assertion in the last 5 minutes. Signing out or idling out ends the session, and the
step-up with it.
"""

from datetime import timedelta

from server.auth.models import UserSession
from server.auth.sessions import renew_session_id
from server.clock import utcnow

REVIEW_SLIDING_WINDOW = timedelta(minutes=15)
REVIEW_MAXIMUM = timedelta(hours=2)
FRESH_ASSERTION_WINDOW = timedelta(minutes=5)
# How often sliding the review window on is written (see note_review_activity).
REVIEW_ACTIVITY_RESOLUTION = timedelta(minutes=1)


def review_unlocked(row: UserSession | None) -> bool:
    if row is None or row.stepped_up_at is None or row.review_active_at is None:
        return False
    now = utcnow()
    return (
        now < row.stepped_up_at + REVIEW_MAXIMUM
        and now < row.review_active_at + REVIEW_SLIDING_WINDOW
    )


def note_review_activity(row: UserSession) -> bool:
    """A request that used the unlocked review slides the 15-minute window on; returns whether
    the row changed. Written at most once every REVIEW_ACTIVITY_RESOLUTION, like last-seen, so
    a review page makes no write on most requests. The throttle can only close the window
    sooner (by under a minute), never keep it open longer: `review_active_at` is never later
    than the last reviewing request. Fresh assertions (`last_assertion_at`) and the 2-hour
    maximum are untouched."""
    now = utcnow()
    if row.review_active_at is not None and now - row.review_active_at < REVIEW_ACTIVITY_RESOLUTION:
        return False
    row.review_active_at = now
    return True


def has_fresh_assertion(row: UserSession | None) -> bool:
    if row is None or row.last_assertion_at is None:
        return False
    return utcnow() < row.last_assertion_at + FRESH_ASSERTION_WINDOW


def mark_stepped_up(row: UserSession) -> None:
    """Record a verified passkey assertion: review unlocked, and a new session id."""
    now = utcnow()
    row.stepped_up_at = row.last_assertion_at = row.review_active_at = now
    renew_session_id(row)
