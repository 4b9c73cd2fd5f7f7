"""The school roll as the admin pages see it: classes, their teachers, finding pupils.

Admins see names, classes, dates of birth and UPNs here, never anything recorded about a child.
"""

from dataclasses import dataclass

from flask_sqlalchemy.pagination import Pagination
from sqlalchemy import func, or_, select
from sqlalchemy.orm import contains_eager

from server.audit.operations import record
from server.auth.models import User, UserRole
from server.auth.roles import Permission, Role
from server.errors import Refused
from server.extensions import db
from server.pupils.models import YEAR_GROUPS, Pupil, SchoolClass, year_label

PUPILS_PER_PAGE = 50
PUPIL_STATUSES = {"on_roll": "On roll", "left": "Left", "all": "On roll and left"}


class RosterError(Refused):
    """A roster change that is not accepted, with the reason."""


@dataclass(frozen=True)
class ClassSummary:
    school_class: SchoolClass
    on_roll: int


def _year_order(year_group: str) -> int:
    return YEAR_GROUPS.index(year_group) if year_group in YEAR_GROUPS else len(YEAR_GROUPS)


def all_classes() -> list[SchoolClass]:
    classes = db.session.scalars(select(SchoolClass)).all()
    return sorted(classes, key=lambda c: (_year_order(c.year_group), c.name.casefold()))


def classes_by_year() -> list[tuple[str, list[ClassSummary]]]:
    """Every class, grouped by year group in school order, with its number of pupils on roll."""
    counts = dict(
        db.session.execute(
            select(Pupil.class_id, func.count(Pupil.id))
            .where(Pupil.on_roll.is_(True))
            .group_by(Pupil.class_id)
        ).all()
    )
    groups: dict[str, list[ClassSummary]] = {}
    for school_class in all_classes():
        summary = ClassSummary(school_class, counts.get(school_class.id, 0))
        groups.setdefault(year_label(school_class.year_group), []).append(summary)
    return list(groups.items())


def class_pupils(school_class: SchoolClass) -> list[Pupil]:
    return db.session.scalars(
        select(Pupil)
        .where(Pupil.class_id == school_class.id, Pupil.on_roll.is_(True))
        .order_by(Pupil.legal_last_name, Pupil.legal_first_name)
    ).all()


def eligible_class_teachers() -> list[User]:
    """Active staff holding the Class teacher role: the only people a class can be given."""
    return db.session.scalars(
        select(User)
        .join(UserRole)
        .where(User.active.is_(True), UserRole.role == Role.CLASS_TEACHER.value)
        .order_by(User.full_name)
    ).all()


def set_class_teachers(school_class: SchoolClass, user_ids, *, by: User) -> bool:
    """Make exactly these people the class's teachers; audited. Returns whether it changed."""
    if not by.can(Permission.MANAGE_ROSTER):
        raise RosterError("You do not have permission to change class teachers.", 403)
    eligible = {user.id: user for user in eligible_class_teachers()}
    try:
        wanted_ids = {int(user_id) for user_id in user_ids}
    except (TypeError, ValueError):
        raise RosterError("Choose class teachers from the list.") from None
    if unknown := wanted_ids - eligible.keys():
        raise RosterError(
            f"{len(unknown)} of the people chosen are not active staff with the Class teacher "
            "role. Give them the role on the Staff and roles page first."
        )
    before = {user.id for user in school_class.teachers}
    if before == wanted_ids:
        return False
    if by.id in wanted_ids - before:
        raise RosterError(
            "You cannot make yourself a class teacher: ask a colleague who manages classes.", 403
        )
    school_class.teachers = sorted(
        (eligible[user_id] for user_id in wanted_ids), key=lambda u: u.full_name
    )
    all_people = {user.id: user for user in school_class.teachers} | {
        user.id: user for user in db.session.scalars(select(User).where(User.id.in_(before)))
    }
    record(
        "class.teachers_changed",
        object_type="class",
        object_id=school_class.id,
        actor=by,
        details={
            "class": school_class.name,
            "added": sorted(all_people[i].email for i in wanted_ids - before),
            "removed": sorted(all_people[i].email for i in before - wanted_ids),
        },
    )
    db.session.flush()
    return True


def search_pupils(
    query: str = "", *, class_id: int | None = None, status: str = "on_roll", page: int = 1
) -> Pagination:
    """Pupils matching every word of `query` in a name or the UPN, 50 to a page."""
    statement = select(Pupil).outerjoin(SchoolClass).options(contains_eager(Pupil.school_class))
    for word in query.split()[:6]:
        pattern = f"%{_escape_like(word)}%"
        statement = statement.where(
            or_(
                *(
                    column.ilike(pattern, escape="\\")
                    for column in (
                        Pupil.legal_first_name,
                        Pupil.legal_last_name,
                        Pupil.preferred_first_name,
                        Pupil.preferred_last_name,
                        Pupil.upn,
                    )
                )
            )
        )
    if class_id:
        statement = statement.where(Pupil.class_id == class_id)
    if status == "on_roll":
        statement = statement.where(Pupil.on_roll.is_(True))
    elif status == "left":
        statement = statement.where(Pupil.on_roll.is_(False))
    statement = statement.order_by(Pupil.legal_last_name, Pupil.legal_first_name, Pupil.id)
    return db.paginate(statement, page=page, per_page=PUPILS_PER_PAGE, error_out=False)


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
