"""Legal holds and tombstones: facts, never updated or deleted (migration 0012_retention)."""

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.auth.models import User
from server.clock import utcnow
from server.database import UTCDateTime
from server.extensions import db

HOLD_KINDS = ("set", "lifted")


class LegalHoldEvent(db.Model):
    """A legal hold set on a pupil's records, or lifted, with the reason. A hold is in force
    while the pupil's latest event is "set"."""

    __tablename__ = "legal_hold_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    pupil_id: Mapped[int] = mapped_column(ForeignKey("pupils.id"), index=True)
    kind: Mapped[str] = mapped_column(String(8))
    reason: Mapped[str] = mapped_column(Text)
    by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    by: Mapped[User] = relationship(lazy="joined")


class DisposalTombstone(db.Model):
    """What is left of one disposed incident: its number, dates and categories, and who
    proposed and who approved the disposal, and when."""

    __tablename__ = "disposal_tombstones"

    id: Mapped[int] = mapped_column(primary_key=True)
    pupil_id: Mapped[int] = mapped_column(ForeignKey("pupils.id"), index=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("access_requests.id"))
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), unique=True)
    incident_number: Mapped[int] = mapped_column(Integer)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # The category names at disposal, "; "-separated (names, not ids: categories can change).
    categories: Mapped[str] = mapped_column(Text)
    actions: Mapped[int] = mapped_column(Integer)
    files: Mapped[int] = mapped_column(Integer)
    proposed_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    approved_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    disposed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    proposed_by: Mapped[User] = relationship(foreign_keys=[proposed_by_id], lazy="joined")
    approved_by: Mapped[User] = relationship(foreign_keys=[approved_by_id], lazy="joined")

    @property
    def category_names(self) -> list[str]:
        return [name for name in self.categories.split("; ") if name]


class ImportedTombstone(db.Model):
    """What is left of one disposed incident imported from another school: where it came from,
    its number there, its dates and categories, and who proposed and approved the disposal."""

    __tablename__ = "imported_tombstones"

    id: Mapped[int] = mapped_column(primary_key=True)
    pupil_id: Mapped[int] = mapped_column(ForeignKey("pupils.id"), index=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("access_requests.id"))
    imported_incident_id: Mapped[int] = mapped_column(
        ForeignKey("imported_incidents.id"), unique=True
    )
    origin_school: Mapped[str] = mapped_column(String(200))
    origin_urn: Mapped[str] = mapped_column(String(20), default="")
    source_number: Mapped[int] = mapped_column(Integer)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime)
    categories: Mapped[str] = mapped_column(Text)  # "; "-separated, as the sender named them
    actions: Mapped[int] = mapped_column(Integer)
    files: Mapped[int] = mapped_column(Integer)
    proposed_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    approved_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    disposed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    proposed_by: Mapped[User] = relationship(foreign_keys=[proposed_by_id], lazy="joined")
    approved_by: Mapped[User] = relationship(foreign_keys=[approved_by_id], lazy="joined")

    @property
    def category_names(self) -> list[str]:
        return [name for name in self.categories.split("; ") if name]
