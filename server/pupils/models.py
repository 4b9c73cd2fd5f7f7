"""Classes, their teachers, and the pupils on (and off) the school roll."""

from datetime import date, datetime

from sqlalchemy import Boolean, Column, Date, ForeignKey, Index, String, Table
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.auth.models import User
from server.clock import utcnow
from server.database import UTCDateTime
from server.extensions import db

# Year groups a school roll may use, in school order.
YEAR_GROUPS = ["N", "R", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12", "13"]

class_teachers = Table(
    "class_teachers",
    db.metadata,
    Column("class_id", ForeignKey("school_classes.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
)


class SchoolClass(db.Model):
    __tablename__ = "school_classes"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(40), unique=True)
    year_group: Mapped[str] = mapped_column(String(2))

    teachers: Mapped[list[User]] = relationship(secondary=class_teachers, lazy="selectin")
    pupils: Mapped[list["Pupil"]] = relationship(back_populates="school_class")

    @property
    def year_label(self) -> str:
        return year_label(self.year_group)

    def __repr__(self) -> str:
        return f"<SchoolClass {self.name}>"


class Pupil(db.Model):
    __tablename__ = "pupils"
    __table_args__ = (Index("ix_pupils_names", "legal_last_name", "legal_first_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    upn: Mapped[str] = mapped_column(String(13), unique=True)
    legal_first_name: Mapped[str] = mapped_column(String(80))
    legal_last_name: Mapped[str] = mapped_column(String(80))
    preferred_first_name: Mapped[str | None] = mapped_column(String(80))
    preferred_last_name: Mapped[str | None] = mapped_column(String(80))
    date_of_birth: Mapped[date] = mapped_column(Date)
    year_group: Mapped[str] = mapped_column(String(2))
    class_id: Mapped[int | None] = mapped_column(ForeignKey("school_classes.id"))
    on_roll: Mapped[bool] = mapped_column(Boolean, default=True)
    left_on: Mapped[date | None] = mapped_column(Date)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    school_class: Mapped[SchoolClass | None] = relationship(back_populates="pupils")

    @property
    def first_name(self) -> str:
        return self.preferred_first_name or self.legal_first_name

    @property
    def last_name(self) -> str:
        return self.preferred_last_name or self.legal_last_name

    @property
    def display_name(self) -> str:
        return f"{self.first_name} {self.last_name}"

    @property
    def legal_name(self) -> str:
        return f"{self.legal_first_name} {self.legal_last_name}"

    @property
    def class_teachers(self) -> list[User]:
        return self.school_class.teachers if self.school_class else []

    def __repr__(self) -> str:
        return f"<Pupil {self.id} {self.upn}>"


def year_label(year_group: str) -> str:
    return {"N": "Nursery", "R": "Reception"}.get(year_group, f"Year {year_group}")
