"""Transfers of a pupil's file between schools (SPEC §8).

Outgoing transfers, their reminders, the schools whose keys a DSL has checked, and packages
that arrived are working state (their status changes as receipts come). What was imported
from another school is a record: `imported_incidents` and `imported_files` are append-only in
the database (migration 0011_transfer), like this school's own incidents.
"""

import json
from datetime import date, datetime

from sqlalchemy import Boolean, Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.auth.models import User
from server.clock import utcnow
from server.database import UTCDateTime
from server.extensions import db
from server.pupils.models import Pupil


class TrustedSchool(db.Model):
    """Another school's transfer key, accepted by a DSL who checked its fingerprint."""

    __tablename__ = "transfer_schools"

    id: Mapped[int] = mapped_column(primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(40), unique=True)
    school_name: Mapped[str] = mapped_column(String(200))
    urn: Mapped[str] = mapped_column(String(20), default="")
    signing_key: Mapped[str] = mapped_column(String(64))
    encryption_key: Mapped[str] = mapped_column(String(64))
    endpoint: Mapped[str] = mapped_column(String(500), default="")
    trusted_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    trusted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    trusted_by: Mapped[User] = relationship()


class OutgoingTransfer(db.Model):
    """A package this school made for another: sent, then received, then confirmed."""

    __tablename__ = "outgoing_transfers"

    id: Mapped[int] = mapped_column(primary_key=True)
    package_id: Mapped[str] = mapped_column(String(64), unique=True)
    pupil_id: Mapped[int] = mapped_column(ForeignKey("pupils.id"), index=True)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    recipient_name: Mapped[str] = mapped_column(String(200))
    recipient_urn: Mapped[str] = mapped_column(String(20), default="")
    recipient_fingerprint: Mapped[str] = mapped_column(String(40))
    recipient_signing_key: Mapped[str] = mapped_column(String(64))
    recipient_encryption_key: Mapped[str] = mapped_column(String(64))
    recipient_endpoint: Mapped[str] = mapped_column(String(500), default="")
    incidents: Mapped[int] = mapped_column(Integer, default=0)
    files: Mapped[int] = mapped_column(Integer, default=0)
    package_sha256: Mapped[str] = mapped_column(String(64))
    # The package (already encrypted to the receiver), stored like an upload until confirmed.
    stored_name: Mapped[str | None] = mapped_column(String(64))
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_by: Mapped[str] = mapped_column(String(12), default="")  # "download" or "endpoint"
    received_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    receipt: Mapped[str | None] = mapped_column(Text)
    delivery_error: Mapped[str] = mapped_column(String(300), default="")

    pupil: Mapped[Pupil] = relationship(lazy="joined")
    created_by: Mapped[User] = relationship(lazy="joined")

    @property
    def status(self) -> str:
        if self.confirmed_at is not None:
            return "confirmed"
        if self.received_at is not None:
            return "received"
        if self.sent_at is not None:
            return "sent"
        return "prepared"


class TransferReminder(db.Model):
    """One reminder per transfer per school day once the five school days have passed."""

    __tablename__ = "transfer_reminders"
    __table_args__ = (UniqueConstraint("transfer_id", "school_day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    transfer_id: Mapped[int] = mapped_column(ForeignKey("outgoing_transfers.id"))
    school_day: Mapped[date] = mapped_column(Date)
    recipients: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    transfer: Mapped[OutgoingTransfer] = relationship(lazy="joined")


class IncomingTransfer(db.Model):
    """A package that arrived here, verified and addressed to this school, awaiting (or past)
    its import by a DSL. The package itself is kept encrypted like an upload."""

    __tablename__ = "incoming_transfers"

    id: Mapped[int] = mapped_column(primary_key=True)
    package_id: Mapped[str] = mapped_column(String(64), unique=True)
    package_sha256: Mapped[str] = mapped_column(String(64))
    sender_name: Mapped[str] = mapped_column(String(200))
    sender_urn: Mapped[str] = mapped_column(String(20), default="")
    sender_fingerprint: Mapped[str] = mapped_column(String(40), index=True)
    sender_endpoint: Mapped[str] = mapped_column(String(500), default="")
    package_created_at: Mapped[str] = mapped_column(String(40))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    received_via: Mapped[str] = mapped_column(String(12))  # "endpoint" or "upload"
    stored_name: Mapped[str] = mapped_column(String(64), unique=True)
    status: Mapped[str] = mapped_column(String(12), default="received")  # then "imported"
    pupil_id: Mapped[int | None] = mapped_column(ForeignKey("pupils.id"), index=True)
    imported_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    imported_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    receipt: Mapped[str | None] = mapped_column(Text)
    receipt_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    receipt_error: Mapped[str] = mapped_column(String(300), default="")

    pupil: Mapped[Pupil | None] = relationship()
    imported_by: Mapped[User | None] = relationship()


class ImportedIncident(db.Model):
    """An incident as another school recorded it: read-only, marked with where it came from.

    `content` is the incident exactly as the package carried it (docs/transfer-format.md):
    its account, categories, actions, corrections and body map."""

    __tablename__ = "imported_incidents"
    __table_args__ = (UniqueConstraint("incoming_transfer_id", "source_uuid"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    incoming_transfer_id: Mapped[int] = mapped_column(ForeignKey("incoming_transfers.id"))
    pupil_id: Mapped[int] = mapped_column(ForeignKey("pupils.id"), index=True)
    source_uuid: Mapped[str] = mapped_column(String(64))
    source_number: Mapped[int] = mapped_column(Integer)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sensitive: Mapped[bool] = mapped_column(Boolean, default=False)
    content: Mapped[str] = mapped_column(Text)
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    transfer: Mapped[IncomingTransfer] = relationship(lazy="joined")
    files: Mapped[list["ImportedFile"]] = relationship(order_by="ImportedFile.id")

    @property
    def data(self) -> dict:
        return json.loads(self.content)

    @property
    def label(self) -> str:
        return f"{self.transfer.sender_name} #{self.source_number}"


class ImportedFile(db.Model):
    """A file that came in a package (an attachment, or the sender's chronology PDF), stored
    encrypted like an upload."""

    __tablename__ = "imported_files"

    id: Mapped[int] = mapped_column(primary_key=True)
    incoming_transfer_id: Mapped[int] = mapped_column(ForeignKey("incoming_transfers.id"))
    imported_incident_id: Mapped[int | None] = mapped_column(ForeignKey("imported_incidents.id"))
    kind: Mapped[str] = mapped_column(String(16))  # "attachment" or "chronology"
    original_name: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    stored_name: Mapped[str] = mapped_column(String(64), unique=True)
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    transfer: Mapped[IncomingTransfer] = relationship()
