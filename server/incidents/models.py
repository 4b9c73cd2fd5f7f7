"""Incidents and their vocabulary: categories (with the DSL-only family), agencies, and the
append-only record of each incident with its body marks, files, actions and events.
"""

from datetime import date, datetime

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.auth.models import User
from server.clock import utcnow
from server.database import UTCDateTime
from server.extensions import db
from server.incidents.body_regions import region_label
from server.pupils.models import Pupil


class Category(db.Model):
    """A category, or a family of them (a parent with children, like Safeguarding)."""

    __tablename__ = "categories"
    __table_args__ = (UniqueConstraint("parent_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("categories.id"))
    # Only dsl may choose it; only dsl, slt and pastoral may see or be alerted to it (SPEC §1).
    sensitive: Mapped[bool] = mapped_column(Boolean, default=False)
    dsl_only: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    position: Mapped[int] = mapped_column(Integer, default=0)

    parent: Mapped["Category | None"] = relationship(remote_side=[id], back_populates="children")
    children: Mapped[list["Category"]] = relationship(
        back_populates="parent", order_by="Category.position"
    )

    @property
    def full_name(self) -> str:
        return f"{self.parent.name} – {self.name}" if self.parent else self.name


class Agency(db.Model):
    __tablename__ = "agencies"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    position: Mapped[int] = mapped_column(Integer, default=0)


# --- Incidents and their append-only history (SPEC §2, §3) --------------------------------
# Every table below is append-only in the database (migration 0002_incidents): a record, once
# written, is never updated or deleted. Later changes are further rows (actions and events).

PARENTS_CONTACTED = ("yes", "no", "not_yet")
MEDICAL_ATTENTION = ("yes", "no", "not_needed")
BODY_SIDES = ("front", "back")
BODY_MARK_KINDS = ("bruise", "cut", "burn", "mark", "other")
# Each status event and the status it leaves the incident in. "monitoring" is an open concern
# being watched; stopping monitoring, like reopening, returns it to "open".
STATUS_AFTER = {
    "closed": "closed",
    "reopened": "open",
    "no_further_action": "no_further_action",
    "monitoring": "monitoring",
    "monitoring_ended": "open",
}
STATUS_KINDS = tuple(STATUS_AFTER)
STATUS_LABELS = {
    "open": "Open",
    "monitoring": "Monitoring",
    "closed": "Closed",
    "no_further_action": "No further action",
}
# Work on an incident in these statuses is still outstanding (lists, overdue actions).
ACTIVE_STATUSES = ("open", "monitoring")
EVENT_LABELS = {
    "closed": "Closed",
    "reopened": "Reopened",
    "no_further_action": "No further action",
    "monitoring": "Monitoring started",
    "monitoring_ended": "Monitoring stopped",
    "entered_in_error": "Marked as entered in error",
    "recategorised": "Re-categorised",
}
CORRECTION_KINDS = ("entered_in_error", "recategorised")
EVENT_KINDS = STATUS_KINDS + CORRECTION_KINDS

incident_pupils = Table(
    "incident_pupils",
    db.metadata,
    Column("incident_id", ForeignKey("incidents.id"), primary_key=True),
    Column("pupil_id", ForeignKey("pupils.id"), primary_key=True),
    Index("ix_incident_pupils_pupil", "pupil_id"),
)

incident_categories = Table(
    "incident_categories",
    db.metadata,
    Column("incident_id", ForeignKey("incidents.id"), primary_key=True),
    Column("category_id", ForeignKey("categories.id"), primary_key=True),
)

incident_agencies = Table(
    "incident_agencies",
    db.metadata,
    Column("incident_id", ForeignKey("incidents.id"), primary_key=True),
    Column("agency_id", ForeignKey("agencies.id"), primary_key=True),
)

incident_event_categories = Table(
    "incident_event_categories",
    db.metadata,
    Column("event_id", ForeignKey("incident_events.id"), primary_key=True),
    Column("category_id", ForeignKey("categories.id"), primary_key=True),
)


class Incident(db.Model):
    __tablename__ = "incidents"
    __table_args__ = (
        Index("ix_incidents_pupil_occurred", "pupil_id", "occurred_at"),
        # School-wide reports and the DSL's lists ask by period (migration 0009_workspace).
        Index("ix_incidents_occurred", "occurred_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # The short number people quote ("#1042"), shown top left of the incident page.
    number: Mapped[int] = mapped_column(Integer, unique=True)
    # Generated by the client, so any number of replays of one submission make one incident.
    uuid: Mapped[str] = mapped_column(String(36), unique=True)
    # SHA-256 of the submitted content: a replay must match it exactly.
    content_hash: Mapped[str] = mapped_column(String(64))
    pupil_id: Mapped[int] = mapped_column(ForeignKey("pupils.id"))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    location: Mapped[str | None] = mapped_column(String(200))
    account: Mapped[str] = mapped_column(Text)
    parents_contacted: Mapped[str] = mapped_column(String(10))
    parents_reason: Mapped[str | None] = mapped_column(Text)
    medical_attention: Mapped[str] = mapped_column(String(12))
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    recorded_on_behalf_name: Mapped[str | None] = mapped_column(String(120))
    recorded_on_behalf_role: Mapped[str | None] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    pupil: Mapped[Pupil] = relationship(lazy="joined")
    author: Mapped[User] = relationship(foreign_keys=[author_id], lazy="joined")
    linked_pupils: Mapped[list[Pupil]] = relationship(
        secondary=incident_pupils, order_by=Pupil.legal_last_name
    )
    original_categories: Mapped[list[Category]] = relationship(
        secondary=incident_categories, order_by=Category.id
    )
    agencies: Mapped[list[Agency]] = relationship(
        secondary=incident_agencies, order_by=Agency.position
    )
    body_marks: Mapped[list["IncidentBodyMark"]] = relationship(
        back_populates="incident", order_by="IncidentBodyMark.number"
    )
    files: Mapped[list["IncidentFile"]] = relationship(
        back_populates="incident", order_by="IncidentFile.id"
    )
    actions: Mapped[list["Action"]] = relationship(back_populates="incident", order_by="Action.id")
    events: Mapped[list["IncidentEvent"]] = relationship(
        back_populates="incident", order_by="IncidentEvent.id"
    )

    @property
    def label(self) -> str:
        return f"#{self.number}"

    @property
    def categories(self) -> list[Category]:
        """The current categories: the latest re-categorisation, or those first recorded."""
        for event in reversed(self.events):
            if event.kind == "recategorised":
                return list(event.categories)
        return list(self.original_categories)

    @property
    def is_sensitive(self) -> bool:
        return any(category.sensitive for category in self.categories)

    @property
    def entered_in_error(self) -> bool:
        return any(event.kind == "entered_in_error" for event in self.events)

    @property
    def status(self) -> str:
        """A key of `STATUS_LABELS`, from the latest status event."""
        for event in reversed(self.events):
            if event.kind in STATUS_AFTER:
                return STATUS_AFTER[event.kind]
        return "open"

    @property
    def all_pupils(self) -> list[Pupil]:
        return [self.pupil, *self.linked_pupils]

    def __repr__(self) -> str:
        return f"<Incident #{self.number}>"


class IncidentBodyMark(db.Model):
    """A numbered mark on the body map: side, position (0..1 of the outline) and kind."""

    __tablename__ = "incident_body_marks"
    __table_args__ = (UniqueConstraint("incident_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"))
    number: Mapped[int] = mapped_column(Integer)
    side: Mapped[str] = mapped_column(String(5))
    x: Mapped[float] = mapped_column(Float)
    y: Mapped[float] = mapped_column(Float)
    kind: Mapped[str] = mapped_column(String(10))
    note: Mapped[str | None] = mapped_column(Text)

    incident: Mapped[Incident] = relationship(back_populates="body_marks")

    @property
    def region(self) -> str:
        """Where on the body, in words ("left forearm, front"): derived from the position by
        the same table the form uses, so it is never stored and never disagrees."""
        return region_label(self.side, self.x, self.y)


class IncidentFile(db.Model):
    """An attached document, stored encrypted under a server-generated name (SPEC §9)."""

    __tablename__ = "incident_files"

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)
    original_name: Mapped[str] = mapped_column(String(255))
    stored_name: Mapped[str] = mapped_column(String(64), unique=True)
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    # Of the stored content (after location metadata was removed from images).
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    incident: Mapped[Incident] = relationship(back_populates="files")


class Action(db.Model):
    """A follow-up appended under an incident; outcomes are further actions (SPEC §3)."""

    __tablename__ = "actions"
    # Overdue actions, oldest due first (the workspace; migration 0010_performance).
    __table_args__ = (Index("ix_actions_due_on", "due_on", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    text: Mapped[str] = mapped_column(Text)
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    due_on: Mapped[date | None] = mapped_column(Date)
    recorded_on_behalf_name: Mapped[str | None] = mapped_column(String(120))
    recorded_on_behalf_role: Mapped[str | None] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    incident: Mapped[Incident] = relationship(back_populates="actions")
    author: Mapped[User] = relationship(foreign_keys=[author_id], lazy="joined")
    assignee: Mapped[User | None] = relationship(foreign_keys=[assignee_id], lazy="joined")

    def __repr__(self) -> str:
        return f"<Action {self.id} on incident {self.incident_id}>"


class IncidentState(db.Model):
    """An incident's current state for the workspace's lists and counts: derived, kept by the
    database's own triggers (migration 0010_performance) on inserts into `incidents`,
    `incident_events` and `incident_agencies`, never written by the application. The incident
    and its events stay the record (immutable); this row can always be rebuilt from them.

    `status` is a key of `STATUS_FILTERS` (chronology): "referred" is an open incident with an
    agency, "open" one without. `status_event_id` is the status event it follows, so events
    applied out of order never leave an older status behind.
    """

    __tablename__ = "incident_state"
    __table_args__ = (
        # Lists and capped counts walk one status in age order, limited (the workspace).
        Index("ix_incident_state_list", "in_error", "status", "created_at", "incident_id"),
    )

    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), primary_key=True)
    status: Mapped[str] = mapped_column(String(20), default="open")
    status_event_id: Mapped[int | None] = mapped_column()
    referred: Mapped[bool] = mapped_column(Boolean, default=False)
    in_error: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class IncidentEvent(db.Model):
    """A status change or a dsl correction, appended; the original record stays as it was."""

    __tablename__ = "incident_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    note: Mapped[str | None] = mapped_column(Text)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    incident: Mapped[Incident] = relationship(back_populates="events")
    author: Mapped[User] = relationship(lazy="joined")
    # For `recategorised`: the categories from then on.
    categories: Mapped[list[Category]] = relationship(
        secondary=incident_event_categories, order_by=Category.id
    )

    @property
    def is_correction(self) -> bool:
        return self.kind in CORRECTION_KINDS


class FileKey(db.Model):
    """A stored file's own data key, wrapped under the master file key (migration
    0012_retention). Not a record: deleting the row destroys the key, which is how disposal
    makes every copy of the file, a backup's included, unreadable."""

    __tablename__ = "file_keys"

    stored_name: Mapped[str] = mapped_column(String(64), primary_key=True)
    wrapped_key: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
