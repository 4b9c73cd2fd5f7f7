"""WebAuthn challenges: issued per ceremony, stored on the server, usable once, for 5 minutes.

Several may be outstanding for one session (two tabs, a double click): each response is
matched to its own challenge, found by the value the browser signed.
"""

import secrets
from datetime import timedelta

from sqlalchemy import delete, select, update

from server.auth.models import User, UserSession
from server.clock import utcnow
from server.extensions import db
from server.passkeys.models import WebAuthnChallenge

CHALLENGE_LIFETIME = timedelta(minutes=5)
# Rows are kept a little past expiry so a late answer is refused as "expired", not "unknown".
_KEEP_EXPIRED = timedelta(hours=1)

REGISTRATION = "registration"
STEP_UP = "step_up"


class ChallengeRefused(Exception):
    """The response answers no challenge this session may use; the message is the reason."""


def issue_challenge(
    user: User, row: UserSession, purpose: str, user_handle: bytes | None = None
) -> bytes:
    now = utcnow()
    db.session.execute(
        delete(WebAuthnChallenge).where(WebAuthnChallenge.expires_at < now - _KEEP_EXPIRED)
    )
    challenge = secrets.token_bytes(32)
    db.session.add(
        WebAuthnChallenge(
            challenge=challenge,
            purpose=purpose,
            user_id=user.id,
            session_id=row.id,
            created_at=now,
            expires_at=now + CHALLENGE_LIFETIME,
            user_handle=user_handle,
        )
    )
    db.session.flush()
    return challenge


def consume_challenge(
    challenge: bytes, user: User, row: UserSession, purpose: str
) -> WebAuthnChallenge:
    """Use up the challenge a response signed, or raise `ChallengeRefused` saying why.

    It is spent before the response is verified, so a failed attempt cannot be retried with it.
    """
    found = db.session.scalar(
        select(WebAuthnChallenge).where(
            WebAuthnChallenge.challenge == challenge,
            WebAuthnChallenge.purpose == purpose,
            WebAuthnChallenge.user_id == user.id,
            WebAuthnChallenge.session_id == row.id,
        )
    )
    if found is None:
        raise ChallengeRefused("unknown challenge")
    now = utcnow()
    # One UPDATE that only succeeds while unused: two racing requests cannot both spend it.
    spent = db.session.execute(
        update(WebAuthnChallenge)
        .where(WebAuthnChallenge.id == found.id, WebAuthnChallenge.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if spent.rowcount != 1:
        raise ChallengeRefused("challenge already used")
    if now >= found.expires_at:
        raise ChallengeRefused("challenge expired")
    return found
