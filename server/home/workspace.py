"""The workspace on the home page (issue 10): what needs the reader now, within their scope.

Unread urgent and Safeguarding incidents first; incidents by status with their age; actions
assigned to the reader and overdue actions; the pupils with most incidents this half-term.
Every list is filtered by `policy.visible_incidents`, so each role sees its own scope: a DSL
the school (with review unlocked), a class teacher their class, anyone what they wrote or were
alerted to. A fixed number of queries, whatever the school's size.
"""

from dataclasses import dataclass
from datetime import date

from sqlalchemy import exists, func, select, union
from sqlalchemy.orm import selectinload

from server.alerts.models import DANGER_RANK, Alert, AlertUnread, IncidentRead
from server.auth.models import User, UserSession
from server.auth.roles import Permission, Role
from server.auth.step_up import review_unlocked
from server.chronology.build import STATUS_FILTERS
from server.clock import school_today, start_of_day, utcnow
from server.extensions import db
from server.incidents import policy
from server.incidents.models import ACTIVE_STATUSES, Action, Category, Incident, IncidentState
from server.incidents.queries import entered_in_error
from server.pupils.models import Pupil, class_teachers

LIST_LENGTH = 15
# Counts by status stop here ("1,000+"): a count must not read the whole history.
COUNT_CAP = 1000
# An incident's unread alerts in the danger section: its own, and one per action since.
UNREAD_ROWS_PER_INCIDENT = 4
TOP_PUPILS = 5
# Half-terms by their first day (month, day); schools' dates vary by a few days.
HALF_TERM_STARTS = ((9, 1), (11, 1), (1, 1), (2, 19), (4, 15), (6, 1))


@dataclass
class Workspace:
    unread_priority: list[Incident]
    status_counts: dict[str, int]
    status: str
    by_status: list[Incident]
    assigned_to_me: list[Action]
    overdue: list[Action]
    top_pupils: list[tuple[Pupil, int]]
    half_term_start: date
    review_unlocked: bool
    # Where the status counts stop (a count of None is shown as "1,000+").
    count_cap: int = COUNT_CAP


def half_term_start(today: date) -> date:
    starts = sorted(date(today.year, month, day) for month, day in HALF_TERM_STARTS)
    started = [start for start in starts if start <= today]
    return started[-1] if started else date(today.year - 1, 6, 1)


def _visible(user: User, session_row: UserSession | None):
    # Entered in error is asked of `incident_state` (kept by triggers), where every list starts.
    return policy.visible_incidents(user, session_row)


def _load_categories() -> None:
    db.session.scalars(select(Category)).all()


def _with_parts(query):
    return query.options(selectinload(Incident.events), selectinload(Incident.original_categories))


def _candidates(user: User, session_row: UserSession | None):
    """SQL: a superset of the incidents `user` may read, drawn from their own history, or None
    where the walk down the whole school's `incident_state` is the short one.

    A list or capped count walks one status until it has enough rows `visible` allows. For
    someone who may read nearly everything (review unlocked with REVIEW_ALL, or a DSL, who is
    alerted to every incident by a rule that cannot be switched off) almost every row counts,
    so the walk stops early. For anyone else most rows would be skipped, so the walk starts
    from what they wrote, were alerted to and (with review) their class's incidents: their
    own history, not the school's. `visible` still decides; this only chooses where to look.
    """
    if user.has_role(Role.DSL) or (
        review_unlocked(session_row) and user.can(Permission.REVIEW_ALL)
    ):
        return None
    sources = [
        select(Incident.id).where(Incident.author_id == user.id),
        select(Alert.incident_id).where(Alert.user_id == user.id),
    ]
    if review_unlocked(session_row) and user.can(Permission.REVIEW_OWN_CLASS):
        sources.append(
            select(Incident.id)
            .join(Pupil, Pupil.id == Incident.pupil_id)
            .join(class_teachers, class_teachers.c.class_id == Pupil.class_id)
            .where(class_teachers.c.user_id == user.id)
        )
    return union(*sources)


def _walk(status: str, visible, candidates):
    query = (
        select(IncidentState.incident_id)
        .join(Incident, Incident.id == IncidentState.incident_id)
        .where(_listed(status), visible)
    )
    if candidates is not None:
        query = query.where(IncidentState.incident_id.in_(candidates))
    return query


def _listed(status: str):
    """SQL: rows of `incident_state` in a list of this status (a key of STATUS_FILTERS)."""
    return (IncidentState.in_error.is_(False)) & (IncidentState.status == status)


def unread_priority(user: User, visible) -> list[Incident]:
    # "Alerted and never read", asked from the user's newest unread alerts in the danger
    # section (alert_unread, kept by triggers, walked down its (user, rank, created_at) index
    # and LIMITed) rather than by walking every incident: an incident never read has all its
    # alerts unread, so it is among them, and the never-read test keeps the rest out.
    newest_danger = (
        select(AlertUnread.incident_id)
        .where(AlertUnread.user_id == user.id, AlertUnread.rank == DANGER_RANK)
        .order_by(AlertUnread.created_at.desc(), AlertUnread.alert_id.desc())
        .limit(LIST_LENGTH * UNREAD_ROWS_PER_INCIDENT)
    )
    read = exists().where(IncidentRead.user_id == user.id, IncidentRead.incident_id == Incident.id)
    query = (
        select(Incident)
        .join(IncidentState, IncidentState.incident_id == Incident.id)
        .where(Incident.id.in_(newest_danger), IncidentState.in_error.is_(False), visible, ~read)
        .order_by(Incident.created_at.desc())
        .limit(LIST_LENGTH)
    )
    return list(db.session.scalars(_with_parts(query)))


def status_counts(visible, candidates=None) -> dict[str, int | None]:
    """{status: how many incidents}, each counted up to COUNT_CAP; None where there are more
    (shown as "1,000+"): one query that reads at most COUNT_CAP index entries a status, however
    long the school's history."""
    columns = []
    for status in STATUS_FILTERS:
        capped = _walk(status, visible, candidates).limit(COUNT_CAP + 1).subquery()
        columns.append(select(func.count()).select_from(capped).scalar_subquery())
    counts = db.session.execute(select(*columns)).one()
    return {
        status: (count if count <= COUNT_CAP else None)
        for status, count in zip(STATUS_FILTERS, counts, strict=True)
    }


def incidents_with_status(visible, status: str, candidates=None) -> list[Incident]:
    # Open work oldest first (the longest waiting); finished work newest first. A walk down
    # incident_state's (in_error, status, created_at, incident_id) index, LIMITed.
    waiting = status in (*ACTIVE_STATUSES, "referred")
    if waiting:
        order = (IncidentState.created_at, IncidentState.incident_id)
    else:
        order = (IncidentState.created_at.desc(), IncidentState.incident_id.desc())
    query = (
        select(Incident)
        .join(IncidentState, IncidentState.incident_id == Incident.id)
        .where(_listed(status), visible)
        .order_by(*order)
        .limit(LIST_LENGTH)
    )
    if candidates is not None:
        query = query.where(IncidentState.incident_id.in_(candidates))
    return list(db.session.scalars(_with_parts(query)))


def _actions(visible):
    return (
        select(Action)
        .join(Incident, Incident.id == Action.incident_id)
        .where(visible, ~entered_in_error(Incident.id))
        .options(selectinload(Action.incident).selectinload(Incident.events))
    )


def assigned_to(user: User, visible) -> list[Action]:
    query = _actions(visible).where(Action.assignee_id == user.id)
    query = query.order_by(Action.due_on.is_(None), Action.due_on, Action.created_at.desc())
    return list(db.session.scalars(query.limit(LIST_LENGTH)))


def overdue(visible, today: date) -> list[Action]:
    """Actions whose due date has passed on incidents still open or monitored (an outcome
    closes them)."""
    query = (
        _actions(visible)
        .join(IncidentState, IncidentState.incident_id == Incident.id)
        .where(
            Action.due_on < today,
            IncidentState.in_error.is_(False),
            IncidentState.status.in_((*ACTIVE_STATUSES, "referred")),
        )
        .order_by(Action.due_on, Action.id)
    )
    return list(db.session.scalars(query.limit(LIST_LENGTH)))


def top_pupils(visible, since: date) -> list[tuple[Pupil, int]]:
    count = func.count(Incident.id).label("incidents")
    rows = db.session.execute(
        select(Incident.pupil_id, count)
        .where(visible, ~entered_in_error(Incident.id), Incident.occurred_at >= start_of_day(since))
        .group_by(Incident.pupil_id)
        .order_by(count.desc(), Incident.pupil_id)
        .limit(TOP_PUPILS)
    ).all()
    pupils = {
        pupil.id: pupil
        for pupil in db.session.scalars(
            select(Pupil)
            .where(Pupil.id.in_([row.pupil_id for row in rows]))
            .options(selectinload(Pupil.school_class))
        )
    }
    return [(pupils[row.pupil_id], row.incidents) for row in rows]


def workspace(user: User, session_row: UserSession | None, status: str = "open") -> Workspace:
    if status not in STATUS_FILTERS:
        status = "open"
    _load_categories()
    visible = _visible(user, session_row)
    candidates = _candidates(user, session_row)
    today = school_today()
    since = half_term_start(today)
    return Workspace(
        unread_priority=unread_priority(user, visible),
        status_counts=status_counts(visible, candidates),
        status=status,
        by_status=incidents_with_status(visible, status, candidates),
        assigned_to_me=assigned_to(user, visible),
        overdue=overdue(visible, today),
        top_pupils=top_pupils(visible, since),
        half_term_start=since,
        review_unlocked=review_unlocked(session_row),
        count_cap=COUNT_CAP,
    )


def age(moment) -> str:
    """How long ago, in words a list can show: "3 h", "4 days", "6 weeks"."""
    seconds = (utcnow() - moment).total_seconds()
    if seconds < 3600:
        return f"{max(1, int(seconds // 60))} min"
    if seconds < 86400 * 2:
        return f"{int(seconds // 3600)} h"
    if seconds < 86400 * 28:
        return f"{int(seconds // 86400)} days"
    return f"{int(seconds // (86400 * 7))} weeks"
