"""A report export built by a background job, its progress, and where the finished file waits.

Not a record: a run is working state, updated as the job goes and removed (with its file) once
it expires. The file holds a child's records, so it is stored like an upload: outside the web
root, encrypted, under a server-generated name.
"""

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from server.clock import utcnow
from server.database import UTCDateTime
from server.extensions import db

RUN_STATUSES = ("queued", "running", "done", "failed")


class ReportRun(db.Model):
    __tablename__ = "report_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    format: Mapped[str] = mapped_column(String(8))
    # What was asked for (pupil, filters, period, names), as JSON.
    params: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(12), default="queued")
    stage: Mapped[str] = mapped_column(String(120), default="Waiting to start")
    progress: Mapped[int] = mapped_column(Integer, default=0)
    stored_name: Mapped[str | None] = mapped_column(String(64))
    filename: Mapped[str | None] = mapped_column(String(200))
    content_type: Mapped[str | None] = mapped_column(String(100))
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
