"""Devices enrolled for offline capture: one row per user per device (SPEC §5)."""

from datetime import datetime

from sqlalchemy import ForeignKey, Index, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.auth.models import User
from server.clock import utcnow
from server.database import UTCDateTime
from server.extensions import db


class Device(db.Model):
    """A browser on a device, enrolled to one user: its ECDSA P-256 public key signs what the
    device sends from its outbox, so replay needs no session. Revoking it (a lost iPad) stops
    everything it has not yet sent."""

    __tablename__ = "devices"
    __table_args__ = (Index("ix_devices_user", "user_id", "revoked_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    name: Mapped[str] = mapped_column(String(60))
    # SubjectPublicKeyInfo (DER) of the device's signing key.
    public_key: Mapped[bytes] = mapped_column(LargeBinary(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    user: Mapped[User] = relationship(foreign_keys=[user_id])
    revoked_by: Mapped[User | None] = relationship(foreign_keys=[revoked_by_id])

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    def __repr__(self) -> str:
        return f"<Device {self.id} of user {self.user_id}>"
