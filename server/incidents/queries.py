"""SQL forms of an incident's derived state, for lists and reports that must not load every
incident: its current categories (as `Incident.categories` reads them) and its status (as
`Incident.status` reads them). Tests hold the two forms to the same answers.
"""

from sqlalchemy import case, exists, func, select, union_all

from server.incidents.models import (
    STATUS_AFTER,
    STATUS_KINDS,
    Category,
    IncidentEvent,
    incident_categories,
    incident_event_categories,
)


def current_category_ids(incident_id):
    """SQL: the incident's current categories, as `Incident.categories` reads them in Python
    (the latest re-categorisation's categories, else those first recorded)."""
    latest = (
        select(func.max(IncidentEvent.id))
        .where(IncidentEvent.incident_id == incident_id, IncidentEvent.kind == "recategorised")
        .correlate_except(IncidentEvent)
        .scalar_subquery()
    )
    return union_all(
        select(incident_event_categories.c.category_id)
        .where(incident_event_categories.c.event_id == latest)
        .correlate_except(incident_event_categories),
        select(incident_categories.c.category_id)
        .where(incident_categories.c.incident_id == incident_id, latest.is_(None))
        .correlate_except(incident_categories),
    )


def sensitive_incident(incident_id):
    """SQL: whether the incident is now in a sensitive (Safeguarding) category."""
    return exists().where(
        Category.id.in_(current_category_ids(incident_id)), Category.sensitive.is_(True)
    )


def in_family(incident_id, family_id: int):
    return exists().where(
        Category.id.in_(current_category_ids(incident_id)),
        (Category.id == family_id) | (Category.parent_id == family_id),
    )


def entered_in_error(incident_id):
    return exists().where(
        IncidentEvent.incident_id == incident_id, IncidentEvent.kind == "entered_in_error"
    ).correlate_except(IncidentEvent)


def current_status(incident_id):
    """SQL: the status, a key of `STATUS_LABELS`, as `Incident.status` reads it."""
    latest_kind = (
        select(IncidentEvent.kind)
        .where(IncidentEvent.incident_id == incident_id, IncidentEvent.kind.in_(STATUS_KINDS))
        .order_by(IncidentEvent.id.desc())
        .limit(1)
        .correlate_except(IncidentEvent)
        .scalar_subquery()
    )
    return case(STATUS_AFTER, value=latest_kind, else_="open")


def current_categories():
    """SQL: (incident_id, category_id) for every incident's current categories, as one set, for
    school-wide counts that must not ask incident by incident."""
    latest = (
        select(IncidentEvent.incident_id, func.max(IncidentEvent.id).label("event_id"))
        .where(IncidentEvent.kind == "recategorised")
        .group_by(IncidentEvent.incident_id)
        .subquery()
    )
    first_recorded = select(
        incident_categories.c.incident_id, incident_categories.c.category_id
    ).where(incident_categories.c.incident_id.not_in(select(latest.c.incident_id)))
    recategorised = select(latest.c.incident_id, incident_event_categories.c.category_id).join(
        incident_event_categories, incident_event_categories.c.event_id == latest.c.event_id
    )
    return union_all(first_recorded, recategorised).subquery("current_categories")


def first_event_at(kinds):
    """SQL: (incident_id, at) — when each incident first had an event of these kinds."""
    return (
        select(IncidentEvent.incident_id, func.min(IncidentEvent.created_at).label("at"))
        .where(IncidentEvent.kind.in_(kinds))
        .group_by(IncidentEvent.incident_id)
        .subquery()
    )
