"""An export being reviewed: working state, not a record (its release is audited)."""

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.auth.models import User
from server.clock import utcnow
from server.database import UTCDateTime
from server.extensions import db
from server.pupils.models import Pupil


class SubjectAccessExport(db.Model):
    __tablename__ = "subject_access_exports"

    id: Mapped[int] = mapped_column(primary_key=True)
    pupil_id: Mapped[int] = mapped_column(ForeignKey("pupils.id"), index=True)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # {"staff": bool, "third_parties": bool}: what was redacted by default when it was built.
    options: Mapped[dict[str, Any]] = mapped_column(JSON)
    # Each redaction: {"id", "key" (which text), "start", "end", "kind", "ref", "on"}. Offsets
    # into records that never change, so they stay true; no redacted text is kept here.
    redactions: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    released_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    pupil: Mapped[Pupil] = relationship(lazy="joined")
    created_by: Mapped[User] = relationship(foreign_keys=[created_by_id], lazy="joined")
