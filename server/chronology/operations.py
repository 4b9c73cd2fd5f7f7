"""Finding a pupil, opening their record (audited), adding an action from the chronology, and
"who viewed this child" (SPEC §7, §9). Views call these; each checks permission and audits.
"""

import json
from dataclasses import dataclass
from datetime import datetime

from flask import abort
from sqlalchemy import String, and_, cast, or_, select
from sqlalchemy.orm import selectinload

from server.audit.models import AuditEvent
from server.audit.operations import record
from server.auth.models import User, UserSession
from server.auth.roles import Permission
from server.chronology.build import Chronology, Filters, about_pupil, build_chronology
from server.extensions import db
from server.ids import row_by_id
from server.incidents import operations as incident_operations
from server.incidents import policy
from server.incidents.models import Action, Incident
from server.pupils.models import Pupil, SchoolClass, class_teachers

FIND_LIMIT = 20
# What counts as someone looking at a child's records, for "who viewed this child".
PUPIL_VIEW_ACTIONS = (
    "pupil.viewed",
    "report.exported",
    "report.viewed",
    "report.downloaded",
    "imported_incident.viewed",
    "imported_file.downloaded",
)
INCIDENT_VIEW_ACTIONS = ("incident.viewed", "incident.file_downloaded")


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def find_pupils(user: User, text: str, *, limit: int = FIND_LIMIT) -> list[Pupil]:
    """Pupils whose names (legal or preferred) or UPN hold every word typed, within the
    reader's scope: the whole roll, leavers too, for REVIEW_ALL; their own class otherwise."""
    words = text.split()[:6]
    if not words:
        return []
    query = select(Pupil).options(selectinload(Pupil.school_class))
    for word in words:
        pattern = f"%{_escape_like(word)}%"
        names = (
            Pupil.legal_first_name,
            Pupil.legal_last_name,
            Pupil.preferred_first_name,
            Pupil.preferred_last_name,
            Pupil.upn,
        )
        query = query.where(or_(*(column.ilike(pattern, escape="\\") for column in names)))
    if not user.can(Permission.REVIEW_ALL):
        own = select(class_teachers.c.class_id).where(class_teachers.c.user_id == user.id)
        query = query.where(Pupil.class_id.in_(own), Pupil.on_roll.is_(True))
    query = query.order_by(
        Pupil.on_roll.desc(), Pupil.legal_last_name, Pupil.legal_first_name, Pupil.id
    ).limit(limit)
    return list(db.session.scalars(query))


def pupil_json(pupil: Pupil) -> dict:
    return {
        "id": pupil.id,
        "name": pupil.display_name,
        "legal_name": pupil.legal_name,
        "class": pupil.school_class.name if pupil.school_class else "",
        "date_of_birth": pupil.date_of_birth.isoformat(),
        "on_roll": pupil.on_roll,
    }


def readable_pupil(user: User, pupil_id, session_row: UserSession | None) -> Pupil:
    """The pupil, if `user` may open their record; 404 for no such pupil, 403 otherwise."""
    pupil = row_by_id(Pupil, pupil_id)
    if pupil is None:
        abort(404)
    if not policy.can_open_pupil_record(user, pupil, session_row):
        abort(403)
    return pupil


def open_pupil_record(
    user: User, pupil_id, session_row: UserSession | None, filters: Filters
) -> Chronology:
    """The pupil's record and chronology as `user` may see it; the view is audited."""
    pupil = readable_pupil(user, pupil_id, session_row)
    chronology = build_chronology(
        user, pupil, session_row, filters, with_corrections=policy.can_see_corrections(user)
    )
    # Imported here: the transfer feature's pages use this module's pupil search.
    from server.transfer.imported import imported_entries
    from server.transfer.operations import can_read_imported

    details = {"filters": filters.as_audit(), "entries": len(chronology.entries)}
    if can_read_imported(user, session_row):
        chronology.imported = imported_entries(pupil.id, filters)
        if chronology.imported:
            # Which imported records were shown, as an incident view names its incident.
            details["imported"] = [entry.incident.id for entry in chronology.imported]
    record(
        "pupil.viewed",
        object_type="pupil",
        object_id=pupil.id,
        actor=user,
        details=details,
    )
    db.session.flush()
    return chronology


def add_action_from_chronology(
    user: User, pupil_id, number, session_row: UserSession | None, fields: dict
) -> Action:
    """An action added retrospectively from the chronology: the incident must be in it."""
    pupil = readable_pupil(user, pupil_id, session_row)
    incident = incident_operations.incident_by_number(number)
    in_chronology = db.session.scalar(
        select(Incident.id).where(Incident.id == incident.id, about_pupil(pupil.id))
    )
    if in_chronology is None:
        abort(404)
    return incident_operations.add_action(user, incident, **fields)


def author_choices(chronology: Chronology) -> list[User]:
    people = {entry.author.id: entry.author for entry in chronology.entries}
    return sorted(people.values(), key=lambda person: (person.full_name, person.id))


@dataclass(frozen=True)
class View:
    when: datetime
    who: str
    user_id: int | None
    what: str
    detail: str


def who_viewed(user: User, pupil: Pupil) -> list[View]:
    """Every view and export of the pupil's records, newest first (dsl only), from the audit
    log: their record and chronology, reports about them, and each incident about them."""
    if not user.can(Permission.SEE_WHO_VIEWED):
        abort(403)
    incident_ids = select(Incident.id).where(about_pupil(pupil.id))
    rows = db.session.scalars(
        select(AuditEvent)
        .where(
            or_(
                and_(
                    AuditEvent.object_type == "pupil",
                    AuditEvent.object_id == str(pupil.id),
                    AuditEvent.action.in_(PUPIL_VIEW_ACTIONS),
                ),
                and_(
                    AuditEvent.object_type == "incident",
                    AuditEvent.object_id.in_(_as_text(incident_ids)),
                    AuditEvent.action.in_(INCIDENT_VIEW_ACTIONS),
                ),
            )
        )
        .order_by(AuditEvent.id.desc())
    ).all()
    record("pupil.viewers_listed", object_type="pupil_viewers", object_id=pupil.id, actor=user)
    db.session.flush()
    actor_ids = {row.actor_user_id for row in rows if row.actor_user_id is not None}
    names = dict(
        db.session.execute(select(User.id, User.full_name).where(User.id.in_(actor_ids))).all()
    )
    return [_view(row, names) for row in rows]


def _as_text(incident_ids):
    """Audit rows name objects by text; compare as text on every database."""
    return select(cast(incident_ids.subquery().c.id, String))


_WHAT = {
    "pupil.viewed": "Opened the pupil record",
    "report.viewed": "Viewed a report",
    "report.exported": "Exported a report",
    "report.downloaded": "Downloaded a prepared report",
    "incident.viewed": "Opened an incident",
    "incident.file_downloaded": "Downloaded a file",
    "imported_incident.viewed": "Opened an imported record",
    "imported_file.downloaded": "Downloaded an imported file",
}


def _view(row: AuditEvent, names: dict[int, str]) -> View:
    details = json.loads(row.details or "{}")
    detail = ""
    if "number" in details:
        detail = f"#{details['number']}"
    if "report" in details:
        detail = " ".join(
            part
            for part in (details["report"], details.get("format"), details.get("names"))
            if part
        )
    who = names.get(row.actor_user_id) or row.actor_label
    return View(row.occurred_at, who, row.actor_user_id, _WHAT[row.action], detail)


def school_classes_taught(user: User) -> list[SchoolClass]:
    return list(
        db.session.scalars(
            select(SchoolClass).join(class_teachers).where(class_teachers.c.user_id == user.id)
        )
    )
