"""Push subscriptions (one per device a user allowed notifications on) and deliveries.

A delivery is the outbox entry for one alert (or escalation, or test) to one device: written in
the same transaction as the alert, then moved from `pending` to `sent` (or `gone`, `failed`) by
the jobs in `server.push.delivery`. It is operational state, not a record: the alert it carries
is the record, and is append-only.
"""

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.auth.models import User
from server.clock import utcnow
from server.database import UTCDateTime
from server.extensions import db


class PushSubscription(db.Model):
    __tablename__ = "push_subscriptions"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    endpoint: Mapped[str] = mapped_column(String(1024), unique=True)
    p256dh: Mapped[str] = mapped_column(String(128))
    auth: Mapped[str] = mapped_column(String(64))
    # The enrolled device (SPEC §5) this browser belongs to, when it is one.
    device_id: Mapped[int | None] = mapped_column(ForeignKey("devices.id"), index=True)
    name: Mapped[str] = mapped_column(String(120), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    user: Mapped[User] = relationship()

    def as_webpush_info(self) -> dict:
        return {"endpoint": self.endpoint, "keys": {"p256dh": self.p256dh, "auth": self.auth}}


class DeliveryStatus:
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    GONE = "gone"  # the subscription expired (404/410) or was removed
    FAILED = "failed"  # refused for good by the push service, or out of attempts


class PushDelivery(db.Model):
    __tablename__ = "push_deliveries"
    __table_args__ = (
        # No device is sent the same alert (or escalation step) twice.
        Index(
            "uq_push_deliveries_alert",
            "subscription_id",
            "alert_id",
            unique=True,
            sqlite_where=text("alert_id IS NOT NULL"),
            postgresql_where=text("alert_id IS NOT NULL"),
        ),
        Index(
            "uq_push_deliveries_escalation",
            "subscription_id",
            "escalation_id",
            unique=True,
            sqlite_where=text("escalation_id IS NOT NULL"),
            postgresql_where=text("escalation_id IS NOT NULL"),
        ),
        Index(
            "uq_push_deliveries_transfer_reminder",
            "subscription_id",
            "transfer_reminder_id",
            unique=True,
            sqlite_where=text("transfer_reminder_id IS NOT NULL"),
            postgresql_where=text("transfer_reminder_id IS NOT NULL"),
        ),
        Index("ix_push_deliveries_status_due", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    subscription_id: Mapped[int | None] = mapped_column(
        ForeignKey("push_subscriptions.id", ondelete="SET NULL")
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    alert_id: Mapped[int | None] = mapped_column(ForeignKey("alerts.id"))
    escalation_id: Mapped[int | None] = mapped_column(ForeignKey("escalations.id"))
    # A reminder that a transfer has no confirmed receipt (server/transfer/reminders.py).
    transfer_reminder_id: Mapped[int | None] = mapped_column(ForeignKey("transfer_reminders.id"))
    high_urgency: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(12), default=DeliveryStatus.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    subscription: Mapped[PushSubscription | None] = relationship()
