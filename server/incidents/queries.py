"""SQL forms of an incident's derived state, for lists and reports that must not load every
incident: its current categories (as `Incident.categories` reads them) and its status (as
`Incident.status` reads them). Tests hold the two forms to the same answers.
"""

from sqlalchemy import case, exists, func, select, union_all

from server.incidents.models import (
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
    """SQL: `open`, `closed` or `no_further_action`, as `Incident.status` reads it."""
    latest_kind = (
        select(IncidentEvent.kind)
        .where(IncidentEvent.incident_id == incident_id, IncidentEvent.kind.in_(STATUS_KINDS))
        .order_by(IncidentEvent.id.desc())
        .limit(1)
        .correlate_except(IncidentEvent)
        .scalar_subquery()
    )
    return case(
        (latest_kind.is_(None), "open"), (latest_kind == "reopened", "open"), else_=latest_kind
    )
