"""After submission (SPEC §3): reading an incident, its files, and appending actions, status
events and dsl corrections. Each function checks permission, writes, audits and flushes.
"""

from dataclasses import dataclass
from datetime import date

from flask import abort, g
from sqlalchemy import select

from server.alerts.operations import create_action_alerts
from server.audit.operations import record
from server.audit.seals import seal
from server.auth.models import User
from server.clock import school_today, utcnow
from server.extensions import db
from server.ids import parse_id, parse_ids
from server.incidents import files as file_store
from server.incidents import policy
from server.incidents.errors import IncidentRefused
from server.incidents.models import (
    CORRECTION_KINDS,
    STATUS_KINDS,
    Action,
    Category,
    Incident,
    IncidentEvent,
    IncidentFile,
)
from server.incidents.vocabulary import is_family_heading

MAX_NOTE_CHARS = 20_000
# The column holds 120 (PostgreSQL refuses more; SQLite would quietly store any length).
MAX_ON_BEHALF_CHARS = 120


def find_incident(number: int) -> Incident | None:
    if parse_id(number) is None:
        return None
    return db.session.scalar(select(Incident).where(Incident.number == number))


def incident_by_number(number: int) -> Incident:
    incident = find_incident(number)
    if incident is None:
        abort(404)
    return incident


def open_incident(user: User, number: int) -> tuple[Incident, str]:
    """The incident, if `user` may read it (else 403), with the view audited."""
    incident = incident_by_number(number)
    reason = policy.require_view(user, incident)
    record(
        "incident.viewed",
        object_type="incident",
        object_id=incident.id,
        actor=user,
        details={"number": incident.number, "access": reason},
    )
    db.session.flush()
    return incident, reason


def open_file(user: User, number: int, file_id: int) -> tuple[IncidentFile, bytes]:
    """An attached file's content, through the same permission check, audited."""
    incident = incident_by_number(number)
    # Permission first: an outsider must not learn which file ids exist (403, not 404).
    policy.require_view(user, incident)
    attached = db.session.get(IncidentFile, file_id) if parse_id(file_id) is not None else None
    if attached is None or attached.incident_id != incident.id:
        abort(404)
    if not file_store.readable(attached.stored_name):
        # Disposed of at the end of retention (server.retention): the key and file are gone.
        abort(410, "This file was disposed of at the end of its retention period.")
    record(
        "incident.file_downloaded",
        object_type="incident",
        object_id=incident.id,
        actor=user,
        details={"number": incident.number, "file_id": attached.id},
    )
    db.session.flush()
    return attached, file_store.load(attached.stored_name)


# --- Who may post to an incident: asked by the views before they read what was sent, and
# again by each domain function, so an outsider meets 403 whatever the form holds.


def require_may_add_action(user: User, incident: Incident) -> None:
    if not policy.can_add_action(user, incident, g.get("user_session")):
        raise IncidentRefused("You cannot add actions to this incident.", status=403)


def require_may_change_status(user: User, incident: Incident) -> None:
    if not policy.can_change_status(user, incident, g.get("user_session")):
        raise IncidentRefused("You cannot change the status of this incident.", status=403)


def require_may_correct(user: User, incident: Incident) -> None:
    session_row = g.get("user_session")
    if policy.can_correct(user, incident, session_row):
        return
    if policy.can_view(user, incident, session_row) and policy.can_see_corrections(user):
        raise IncidentRefused(
            "Confirm it is you with your passkey first, then make the correction.", status=403
        )
    raise IncidentRefused("Only a designated safeguarding lead can correct a record.", status=403)


def add_action(
    author: User,
    incident: Incident,
    text: str,
    assignee_id: int | str | None = None,
    due_on: date | None = None,
    on_behalf_name: str | None = None,
    on_behalf_role: str | None = None,
) -> Action:
    """Append an action. `assignee_id` may be the form's string: it is checked here."""
    require_may_add_action(author, incident)
    errors: dict[str, str] = {}
    text = (text or "").strip()
    if not text:
        errors["text"] = "Write what was done or needs doing."
    elif len(text) > MAX_NOTE_CHARS:
        errors["text"] = "The action must be 20,000 characters or fewer."
    assignee = None
    if assignee_id is not None:
        parsed = parse_id(assignee_id)
        assignee = db.session.get(User, parsed) if parsed is not None else None
        if parsed is None:
            errors["assignee_id"] = "That is not a valid member of staff. Choose from the list."
        elif assignee is None or not policy.may_see_incident_if_alerted(assignee, incident):
            errors["assignee_id"] = "Assign it to someone who may see this incident."
    if due_on is not None and due_on < school_today():
        errors["due_on"] = "The due date cannot be in the past."
    name, role = (on_behalf_name or "").strip(), (on_behalf_role or "").strip()
    if bool(name) != bool(role):
        errors["on_behalf"] = "Give both the name and the role of the person you are recording for."
    elif max(len(name), len(role)) > MAX_ON_BEHALF_CHARS:
        errors["on_behalf"] = "The name and role must each be 120 characters or fewer."
    if errors:
        raise IncidentRefused.from_fields(errors)
    action = Action(
        incident=incident,
        author=author,
        text=text,
        assignee=assignee,
        due_on=due_on,
        recorded_on_behalf_name=name or None,
        recorded_on_behalf_role=role or None,
        created_at=utcnow(),
    )
    db.session.add(action)
    db.session.flush()
    create_action_alerts(action)
    record(
        "action.created",
        object_type="incident",
        object_id=incident.id,
        actor=author,
        details={
            "number": incident.number,
            "action_id": action.id,
            "seal": seal("action", action.id),
        },
    )
    db.session.flush()
    return action


_STATUS_ALLOWED_FROM = {
    "closed": {"open", "monitoring"},
    "no_further_action": {"open", "monitoring"},
    "monitoring": {"open"},
    "monitoring_ended": {"monitoring"},
    "reopened": {"closed", "no_further_action"},
}
_STATUS_REFUSALS = {
    "closed": "This incident is not open, so it cannot be closed.",
    "no_further_action": "This incident is not open.",
    "reopened": "This incident is already open.",
    "monitoring_ended": "This incident is not being monitored.",
}
_MONITORING_REFUSALS = {
    "monitoring": "This incident is already being monitored.",
    "closed": "This incident is closed: reopen it before monitoring it.",
    "no_further_action": "This incident is marked no further action: reopen it first.",
}


def status_changes(incident: Incident) -> list[str]:
    """The status events that apply to the incident now, in the order the page offers them."""
    return [kind for kind in STATUS_KINDS if incident.status in _STATUS_ALLOWED_FROM[kind]]


def _status_refusal(kind: str, status: str) -> str:
    if kind == "monitoring":
        return _MONITORING_REFUSALS[status]
    if kind == "reopened" and status == "monitoring":
        return "This incident is open and being monitored: choose Stop monitoring instead."
    return _STATUS_REFUSALS[kind]


def change_status(user: User, incident: Incident, kind: str, note: str) -> IncidentEvent:
    require_may_change_status(user, incident)
    if kind not in STATUS_KINDS:
        raise IncidentRefused("Choose a status.", {"kind": "Choose a status."})
    note = (note or "").strip()
    if not note:
        raise IncidentRefused("Write a note saying why.", {"note": "Write a note saying why."})
    if len(note) > MAX_NOTE_CHARS:
        raise IncidentRefused("The note is too long.", {"note": "The note is too long."})
    if incident.status not in _STATUS_ALLOWED_FROM[kind]:
        message = _status_refusal(kind, incident.status)
        raise IncidentRefused(message, {"kind": message})
    return _append_event(user, incident, kind, note, "incident.status_changed")


def correct_incident(
    dsl: User,
    incident: Incident,
    kind: str,
    reason: str,
    category_ids: list[int | str] | None = None,
) -> IncidentEvent:
    """Mark entered in error, or re-categorise: appended, the original kept (SPEC §3).

    `category_ids` may be the form's strings: they are checked here."""
    require_may_correct(dsl, incident)
    if kind not in CORRECTION_KINDS:
        raise IncidentRefused("Choose a correction.", {"kind": "Choose a correction."})
    reason = (reason or "").strip()
    if not reason:
        raise IncidentRefused("Give the reason.", {"reason": "Give the reason for the correction."})
    if len(reason) > MAX_NOTE_CHARS:
        raise IncidentRefused("The reason is too long.", {"reason": "The reason is too long."})
    categories: list[Category] = []
    if kind == "entered_in_error" and incident.entered_in_error:
        message = "This incident is already marked as entered in error."
        raise IncidentRefused(message, {"kind": message})
    if kind == "recategorised":
        categories = _new_categories(incident, category_ids or [])
    event = _append_event(dsl, incident, kind, reason, "incident.corrected", categories)
    return event


def _new_categories(incident: Incident, category_ids: list[int | str]) -> list[Category]:
    ids = parse_ids(category_ids)
    if ids is None:
        message = "That is not a valid category. Choose categories from the list."
        raise IncidentRefused(message, {"category_ids": message})
    categories = [db.session.get(Category, i) for i in ids]
    if not ids or any(c is None or not c.active for c in categories):
        message = "Choose at least one category from the list."
        raise IncidentRefused(message, {"category_ids": message})
    headings = [c for c in categories if is_family_heading(c)]
    if headings:
        message = f"“{headings[0].name}” is a group heading: choose one of its categories."
        raise IncidentRefused(message, {"category_ids": message})
    if {c.id for c in categories} == {c.id for c in incident.categories}:
        message = "Those are already its categories."
        raise IncidentRefused(message, {"category_ids": message})
    return categories


def _append_event(
    user: User,
    incident: Incident,
    kind: str,
    note: str,
    audit_action: str,
    categories: list[Category] = (),
) -> IncidentEvent:
    event = IncidentEvent(
        incident=incident,
        kind=kind,
        note=note,
        author=user,
        categories=list(categories),
        created_at=utcnow(),
    )
    db.session.add(event)
    db.session.flush()
    record(
        audit_action,
        object_type="incident",
        object_id=incident.id,
        actor=user,
        details={
            "number": incident.number,
            "event_id": event.id,
            "kind": kind,
            "category_ids": [c.id for c in categories],
            "seal": seal("event", event.id),
        },
    )
    db.session.flush()
    return event


# --- An incident's actions, a page at a time ------------------------------------------------

ACTIONS_PAGE_SIZE = 50


@dataclass
class ActionsPage:
    actions: list[Action]
    # The last action's id when later actions follow (the next page starts after it).
    next_after: int | None
    first: bool


def actions_page(incident: Incident, after=None, size: int = ACTIONS_PAGE_SIZE) -> ActionsPage:
    """The incident's actions, oldest first, `size` at a time after action id `after` (keyset:
    a page costs the same whatever the incident's history). An unreadable `after` is the
    first page."""
    after_id = parse_id(after) if after not in (None, "") else None
    query = select(Action).where(Action.incident_id == incident.id)
    if after_id is not None:
        query = query.where(Action.id > after_id)
    found = list(db.session.scalars(query.order_by(Action.id).limit(size + 1)))
    shown = found[:size]
    more = len(found) > size and shown
    return ActionsPage(shown, shown[-1].id if more else None, after_id is None)
