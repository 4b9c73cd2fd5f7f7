"""Alert rows (one per recipient per incident or action), reads of incidents, and alert rules.

`alerts` and `incident_reads` are append-only in the database (migration 0004_alerts). Reading
is a fact appended to `incident_reads` (who, which incident, when) rather than a change to the
alert: an alert counts as read once its recipient has read its incident at or after the moment
the alert was made, so a later action's alert stays unread until the incident is read again.
Opening an incident (`incident_openings`) is recorded apart from marking it read, and each
escalation step (`escalations`) is a row of its own; both are append-only too (0008_push).
Delivery to devices (`server.push`) keeps its own state in its own tables.
"""

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import ForeignKey, Index, SmallInteger, String, UniqueConstraint, func, select, text
from sqlalchemy.orm import Mapped, column_property, mapped_column, relationship

from server.auth.models import User
from server.clock import utcnow
from server.database import UTCDateTime
from server.extensions import db

if TYPE_CHECKING:
    from server.incidents.models import Action, Incident


class IncidentRead(db.Model):
    """Someone read an incident (SPEC §4 "mark as read"); one row per reading, never changed."""

    __tablename__ = "incident_reads"
    __table_args__ = (
        Index("ix_incident_reads_incident_user", "incident_id", "user_id", "read_at"),
        Index("ix_incident_reads_user_incident", "user_id", "incident_id", "read_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    read_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    user: Mapped[User] = relationship(lazy="joined")


class Alert(db.Model):
    """One recipient told of one incident, or of one action on it, and why (`reason`)."""

    __tablename__ = "alerts"
    __table_args__ = (
        # NULLs are distinct in a unique constraint, so each kind of alert gets its own
        # partial unique index: one incident alert per person, one alert per person per action.
        Index(
            "uq_alerts_incident_user",
            "incident_id",
            "user_id",
            unique=True,
            sqlite_where=text("action_id IS NULL"),
            postgresql_where=text("action_id IS NULL"),
        ),
        Index(
            "uq_alerts_action_user",
            "action_id",
            "user_id",
            unique=True,
            sqlite_where=text("action_id IS NOT NULL"),
            postgresql_where=text("action_id IS NOT NULL"),
        ),
        Index("ix_alerts_user_created", "user_id", "created_at"),
        # The inbox's keyset pages (0010_performance).
        Index("ix_alerts_user_created_id", "user_id", "created_at", "id"),
        Index("ix_alerts_incident_user", "incident_id", "user_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"))
    action_id: Mapped[int | None] = mapped_column(ForeignKey("actions.id"))
    reason: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    user: Mapped[User] = relationship()
    incident: Mapped["Incident"] = relationship()
    action: Mapped["Action | None"] = relationship()

    # When the recipient read the incident after this alert was made; None while unread.
    read_at: Mapped[datetime | None] = column_property(
        select(func.min(IncidentRead.read_at))
        .where(
            IncidentRead.user_id == user_id,
            IncidentRead.incident_id == incident_id,
            IncidentRead.read_at >= created_at,
        )
        .correlate_except(IncidentRead)
        .scalar_subquery()
    )

    @property
    def is_read(self) -> bool:
        return self.read_at is not None

    def __repr__(self) -> str:
        return f"<Alert {self.id} user {self.user_id} incident {self.incident_id}>"


class AlertUnread(db.Model):
    """An alert not yet read: derived state kept by the database's own triggers (migration
    0010_performance), added with each alert and removed when its recipient reads the incident
    at or after it was made. The menu's count and the inbox read these few rows, never the
    whole history. Never written by the application."""

    __tablename__ = "alert_unread"
    __table_args__ = (
        Index("ix_alert_unread_user_created", "user_id", "created_at", "alert_id"),
        Index("ix_alert_unread_user_incident", "user_id", "incident_id"),
        # The inbox's unread sections in the order shown: danger first, newest first.
        Index(
            "ix_alert_unread_user_rank",
            "user_id",
            "rank",
            text("created_at DESC"),
            text("alert_id DESC"),
        ),
    )

    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id"), primary_key=True)
    user_id: Mapped[int] = mapped_column()
    incident_id: Mapped[int] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Whether the incident is now Safeguarding (follows re-categorisation), and the inbox's
    # section: DANGER_RANK (urgent or Safeguarding) or UNREAD_RANK.
    sensitive: Mapped[bool] = mapped_column(default=False)
    rank: Mapped[int] = mapped_column(SmallInteger, default=1)


DANGER_RANK, UNREAD_RANK = 0, 1


class IncidentOpening(db.Model):
    """Someone alerted to an incident opened it: seen, which is not yet "marked as read"."""

    __tablename__ = "incident_openings"
    __table_args__ = (
        Index("ix_incident_openings_incident_user", "incident_id", "user_id", "opened_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    user: Mapped[User] = relationship(lazy="joined")


class Escalation(db.Model):
    """One step of escalating an incident no DSL has read (SPEC §4): `dsl`, then `slt`.

    Unique per incident and step, so however many workers look, each step happens once.
    """

    __tablename__ = "escalations"
    __table_args__ = (UniqueConstraint("incident_id", "step"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)
    step: Mapped[str] = mapped_column(String(8))
    recipients: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    incident: Mapped["Incident"] = relationship()


class AlertRule(db.Model):
    """One row per (event, recipient) that is switched on; the meanings are in `rules.py`."""

    __tablename__ = "alert_rules"
    __table_args__ = (UniqueConstraint("event", "recipient"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    event: Mapped[str] = mapped_column(String(24))
    recipient: Mapped[str] = mapped_column(String(24))
