"""Passkeys held by staff, and the server-side WebAuthn challenges of ceremonies in progress."""

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.auth.models import User, UserSession
from server.clock import utcnow
from server.database import UTCDateTime
from server.extensions import db


class PasskeyCredential(db.Model):
    """A WebAuthn public-key credential registered to one user."""

    __tablename__ = "passkey_credentials"
    __table_args__ = (Index("ix_passkey_credentials_user", "user_id", "revoked_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    name: Mapped[str] = mapped_column(String(60))
    # The authenticator's raw credential id: how an assertion names its credential.
    credential_id: Mapped[bytes] = mapped_column(LargeBinary(1023), unique=True)
    public_key: Mapped[bytes] = mapped_column(LargeBinary)
    sign_count: Mapped[int] = mapped_column(BigInteger, default=0)
    # WebAuthn's user.id for this account: random, the same for all of a user's passkeys.
    user_handle: Mapped[bytes] = mapped_column(LargeBinary(64))
    aaguid: Mapped[str] = mapped_column(String(36))
    transports: Mapped[str] = mapped_column(String(120), default="")
    backed_up: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # Set when the authenticator's signature counter went backwards (a possible clone).
    flagged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    flag_reason: Mapped[str | None] = mapped_column(String(120))

    user: Mapped[User] = relationship(foreign_keys=[user_id])
    revoked_by: Mapped[User | None] = relationship(foreign_keys=[revoked_by_id])

    @property
    def usable(self) -> bool:
        return self.revoked_at is None and self.flagged_at is None

    @property
    def transport_list(self) -> list[str]:
        return [t for t in self.transports.split(",") if t]

    def __repr__(self) -> str:
        return f"<PasskeyCredential {self.id} of user {self.user_id}>"


class WebAuthnChallenge(db.Model):
    """A challenge sent to the browser: single-use, short-lived, bound to a user and session.

    Kept here rather than in the signed cookie, which an attacker could replay.
    """

    __tablename__ = "webauthn_challenges"
    __table_args__ = (Index("ix_webauthn_challenges_expires_at", "expires_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    challenge: Mapped[bytes] = mapped_column(LargeBinary(64), unique=True)
    purpose: Mapped[str] = mapped_column(String(16))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    session_id: Mapped[int] = mapped_column(ForeignKey("user_sessions.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Registration only: the WebAuthn user id the options gave, kept with the new passkey.
    user_handle: Mapped[bytes | None] = mapped_column(LargeBinary(64))

    user: Mapped[User] = relationship()
    session: Mapped[UserSession] = relationship()
