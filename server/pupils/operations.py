"""The school roll as the admin pages see it: classes, their teachers, finding pupils.

Admins see names, classes, dates of birth and UPNs here, never anything recorded about a child.
"""

from dataclasses import dataclass

from flask_sqlalchemy.pagination import Pagination
from sqlalchemy import func, or_, select
from sqlalchemy.orm import contains_eager

from server.approvals import operations as approvals
from server.audit.operations import record
from server.auth import accounts
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


def set_class_teachers(school_class: SchoolClass, user_ids, *, by: User):
    """Make exactly these people the class's teachers; audited. Returns whether it changed, or
    — when it gives the class to someone and `by` is not a DSL — the request filed for a DSL
    to approve (a class teacher reads their class's records: SPEC §1)."""
    if not by.can(Permission.MANAGE_ROSTER):
        raise RosterError("You do not have permission to change class teachers.", 403)
    try:
        wanted_ids = {int(user_id) for user_id in user_ids}
    except (TypeError, ValueError):
        raise RosterError("Choose class teachers from the list.") from None
    before = {user.id for user in school_class.teachers}
    if before == wanted_ids:
        return False
    _check_teachers(wanted_ids, before, by)
    if wanted_ids - before and not accounts.decides_who_reads(by):
        return approvals.file_class_teachers_request(school_class, before, wanted_ids, by=by)
    _write_class_teachers(school_class, before, wanted_ids, by)
    return True


def _check_teachers(wanted_ids: set[int], before: set[int], by: User) -> dict[int, User]:
    eligible = {user.id: user for user in eligible_class_teachers()}
    if unknown := wanted_ids - eligible.keys():
        raise RosterError(
            f"{len(unknown)} of the people chosen are not active staff with the Class teacher "
            "role. Give them the role on the Staff and roles page first."
        )
    if by.id in wanted_ids - before:
        raise RosterError(
            "You cannot make yourself a class teacher: ask a colleague who manages classes.", 403
        )
    return eligible


def apply_class_teachers_request(change: dict, *, by: User) -> None:
    """A DSL's approval: the teachers asked for, if the class still has those it had then."""
    school_class = db.session.get(SchoolClass, change["class_id"])
    before = set(change["before"])
    if school_class is None or {user.id for user in school_class.teachers} != before:
        raise RosterError(accounts.STALE_REQUEST_MESSAGE, 409)
    wanted = set(change["after"])
    _check_teachers(wanted, before, by)
    _write_class_teachers(school_class, before, wanted, by)


def _write_class_teachers(
    school_class: SchoolClass, before: set[int], wanted_ids, by, *, everyone: bool = False
) -> None:
    people = (
        db.session.scalars(select(User).where(User.id.in_(wanted_ids)))
        if everyone
        else eligible_class_teachers()
    )
    eligible = {user.id: user for user in people}
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


def set_classes_taught(person: User, class_ids, *, by: User | None) -> None:
    """Make the classes `person` teaches exactly these (a staff import's row, approved by a
    DSL); each class changed is audited."""
    wanted = set(class_ids)
    for school_class in db.session.scalars(select(SchoolClass).order_by(SchoolClass.name)):
        teaches = person in school_class.teachers
        if (school_class.id in wanted) == teaches:
            continue
        before = {user.id for user in school_class.teachers}
        after = before | {person.id} if school_class.id in wanted else before - {person.id}
        _write_class_teachers(school_class, before, after, by, everyone=True)


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
