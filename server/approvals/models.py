"""Access requests and the DSL's decision on each. Both are facts: never updated or deleted
(migration 0006_approvals); a request is pending while it has no decision."""

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.auth.models import User
from server.clock import utcnow
from server.database import UTCDateTime
from server.extensions import db


class AccessRequest(db.Model):
    __tablename__ = "access_requests"
    __table_args__ = (Index("ix_access_requests_kind_target", "kind", "target_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # "account" (a new or changed account), "class_teachers" or "alert_rules".
    kind: Mapped[str] = mapped_column(String(24))
    # The account's or class's id; None for a new account and for the alert rules.
    target_id: Mapped[int | None]
    # What the DSL reads, one line each, written when the request was made.
    summary: Mapped[str] = mapped_column(Text)
    # The state asked for, and the state it was asked against (`before`): a request is applied
    # only while the target still stands as it did, so nothing changed since is approved unseen.
    change: Mapped[dict[str, Any]] = mapped_column(JSON)
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    requested_by: Mapped[User] = relationship(foreign_keys=[requested_by_id])
    decision: Mapped["AccessDecision | None"] = relationship(
        back_populates="request", lazy="selectin"
    )

    @property
    def summary_lines(self) -> list[str]:
        return self.summary.splitlines()

    @property
    def pending(self) -> bool:
        return self.decision is None


class AccessDecision(db.Model):
    __tablename__ = "access_decisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Unique: one decision per request, even when two DSLs decide at the same moment.
    request_id: Mapped[int] = mapped_column(ForeignKey("access_requests.id"), unique=True)
    approved: Mapped[bool] = mapped_column(Boolean)
    decided_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    request: Mapped[AccessRequest] = relationship(back_populates="decision")
    decided_by: Mapped[User] = relationship(foreign_keys=[decided_by_id])
