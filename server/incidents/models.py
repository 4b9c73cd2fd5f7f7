"""The vocabulary of incidents: categories (with the DSL-only family) and agencies.

Admins edit both; incidents refer to them. Incidents themselves are added by the recording feature.
"""

from sqlalchemy import Boolean, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.extensions import db


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
