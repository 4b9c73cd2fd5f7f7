"""A pupil's chronology (SPEC §7): every incident, action and status change about them, in time
order, as the reader may see it.

Which incidents appear is `server.incidents.policy.visible_incidents`, the visibility rule
itself in SQL; nothing here restates it. The number of queries does not depend on the number of
entries: one for the incidents, one per related collection, one for the categories.
"""

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import exists, or_, select, union
from sqlalchemy.orm import subqueryload

from server.auth.models import User, UserSession
from server.clock import start_of_day
from server.extensions import db
from server.incidents import policy
from server.incidents.models import (
    EVENT_LABELS,
    STATUS_KINDS,
    Action,
    Category,
    Incident,
    IncidentEvent,
    incident_agencies,
    incident_pupils,
)
from server.incidents.queries import current_status, in_family
from server.pupils.models import Pupil

# The statuses a reader can filter by; "referred" is an open incident with an outside agency.
# A monitored incident stays "monitoring" whatever its agencies: the DSL chose to watch it.
STATUS_FILTERS = {
    "open": "Open",
    "monitoring": "Monitoring",
    "referred": "Referred (open, with an agency)",
    "closed": "Closed",
    "no_further_action": "No further action",
}

KIND_LABELS = {
    "incident": "Incident",
    "action": "Action",
    **EVENT_LABELS,
    "entered_in_error": "Entered in error",
}


@dataclass(frozen=True)
class Filters:
    category_id: int | None = None
    date_from: date | None = None
    date_to: date | None = None
    author_id: int | None = None
    status: str | None = None

    def as_audit(self) -> dict:
        return {key: str(value) for key, value in vars(self).items() if value is not None}


@dataclass(frozen=True)
class Entry:
    """One line of the chronology: an incident, an action on it, or a change to it."""

    when: datetime
    kind: str  # "incident", "action" or an event kind
    incident: Incident
    author: User
    linked: bool  # the pupil is a linked pupil of this incident, not its subject
    action: Action | None = None
    event: IncidentEvent | None = None

    @property
    def sort_key(self):
        order = {"incident": 0, "action": 1}.get(self.kind, 2)
        return (self.when, self.incident.number, order, self.action.id if self.action else 0)


@dataclass
class Chronology:
    pupil: Pupil
    filters: Filters
    entries: list[Entry] = field(default_factory=list)
    incidents: list[Incident] = field(default_factory=list)
    # Incidents imported from the pupil's previous schools (server/transfer), read-only.
    imported: list = field(default_factory=list)

    @property
    def timeline(self) -> list:
        """This school's entries and imported ones, in time order."""
        if not self.imported:
            return self.entries
        return sorted([*self.entries, *self.imported], key=lambda entry: entry.sort_key)


def about_pupil(pupil_id: int):
    """SQL: incidents whose subject is the pupil, or that name them as a linked pupil.

    As a union of two indexed look-ups rather than an OR, which would scan every incident in
    the school: the chronology's time must not grow with the school's size."""
    ids = union(
        select(Incident.id).where(Incident.pupil_id == pupil_id),
        select(incident_pupils.c.incident_id).where(incident_pupils.c.pupil_id == pupil_id),
    )
    return Incident.id.in_(ids)


def display_status(incident: Incident) -> str:
    if incident.status == "open" and incident.agencies:
        return "referred"
    return incident.status


def build_chronology(
    user: User,
    pupil: Pupil,
    session_row: UserSession | None,
    filters: Filters = Filters(),  # noqa: B008 (frozen, never changed)
    *,
    with_corrections: bool = False,
    review: bool | None = None,
) -> Chronology:
    _load_categories()
    query = _incident_query(user, pupil, session_row, filters, review)
    incidents = db.session.scalars(query).all()
    chronology = Chronology(pupil=pupil, filters=filters, incidents=list(incidents))
    for incident in incidents:
        chronology.entries.extend(_entries(incident, pupil, filters, with_corrections))
    chronology.entries.sort(key=lambda entry: entry.sort_key)
    return chronology


def _load_categories() -> None:
    """Every category into the session at once, so `full_name` never asks for a parent."""
    db.session.scalars(select(Category)).all()


def _incident_query(user, pupil, session_row, filters: Filters, review: bool | None):
    query = (
        select(Incident)
        .where(about_pupil(pupil.id), policy.visible_incidents(user, session_row, review=review))
        .options(
            subqueryload(Incident.original_categories),
            subqueryload(Incident.events).subqueryload(IncidentEvent.categories),
            subqueryload(Incident.actions),
            subqueryload(Incident.agencies),
            subqueryload(Incident.linked_pupils),
            subqueryload(Incident.body_marks),
        )
        .order_by(Incident.occurred_at, Incident.number)
    )
    return _filtered(query, filters)


def _filtered(query, filters: Filters):
    if filters.category_id is not None:
        # A family matches any of its categories; a single category matches itself.
        query = query.where(in_family(Incident.id, filters.category_id))
    if filters.date_to is not None:
        query = query.where(
            Incident.occurred_at < start_of_day(filters.date_to + timedelta(days=1))
        )
    if filters.author_id is not None:
        by_author = exists().where(
            Action.incident_id == Incident.id, Action.author_id == filters.author_id
        )
        query = query.where(or_(Incident.author_id == filters.author_id, by_author))
    if filters.status is not None:
        query = query.where(status_matches(filters.status))
    return query


def status_matches(status: str):
    has_agency = exists().where(incident_agencies.c.incident_id == Incident.id)
    current = current_status(Incident.id)
    if status == "referred":
        return (current == "open") & has_agency
    if status == "open":
        return (current == "open") & ~has_agency
    return current == status


def _entries(incident: Incident, pupil: Pupil, filters: Filters, with_corrections: bool):
    linked = incident.pupil_id != pupil.id
    entries = [Entry(incident.occurred_at, "incident", incident, incident.author, linked)]
    entries += [
        Entry(action.created_at, "action", incident, action.author, linked, action=action)
        for action in incident.actions
    ]
    entries += [
        Entry(event.created_at, event.kind, incident, event.author, linked, event=event)
        for event in incident.events
        if event.kind in STATUS_KINDS or with_corrections
    ]
    return [entry for entry in entries if _in_range(entry, filters)]


def _in_range(entry: Entry, filters: Filters) -> bool:
    if filters.author_id is not None and entry.author.id != filters.author_id:
        return False
    if filters.date_from is not None and entry.when < start_of_day(filters.date_from):
        return False
    end = filters.date_to
    return end is None or entry.when < start_of_day(end + timedelta(days=1))
