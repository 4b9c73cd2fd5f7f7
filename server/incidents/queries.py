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


def current_category_ids(incident_id, among=None):
    """SQL: the incident's current categories, as `Incident.categories` reads them in Python
    (the latest re-categorisation's categories, else those first recorded); with `among` (SQL
    for a set of category ids), only those that are in it."""
    latest = (
        select(func.max(IncidentEvent.id))
        .where(IncidentEvent.incident_id == incident_id, IncidentEvent.kind == "recategorised")
        .correlate_except(IncidentEvent)
        .scalar_subquery()
    )
    recategorised = select(incident_event_categories.c.category_id).where(
        incident_event_categories.c.event_id == latest
    )
    original = select(incident_categories.c.category_id).where(
        incident_categories.c.incident_id == incident_id, latest.is_(None)
    )
    if among is not None:
        recategorised = recategorised.where(incident_event_categories.c.category_id.in_(among))
        original = original.where(incident_categories.c.category_id.in_(among))
    return union_all(
        recategorised.correlate_except(incident_event_categories),
        original.correlate_except(incident_categories),
    )


def sensitive_incident(incident_id):
    """SQL: whether the incident is now in a sensitive (Safeguarding) category.

    Asked as "has it a current category among the sensitive ones", which PostgreSQL answers
    with the incident's one or two category rows against the sensitive ids hashed once, rather
    than as "is any sensitive category among its current ones", which it answered by running
    the current-categories subquery once per sensitive category for every incident a list or
    count walks (12 times per row in the demo school)."""
    sensitive = select(Category.id).where(Category.sensitive.is_(True))
    return current_category_ids(incident_id, among=sensitive).exists()


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
