"""Seals: a digest of a record as stored, kept in the keyed audit chain when it is written.

An incident's `content_hash` is over what the client sent (for replays), which cannot be
rebuilt from the rows. A seal is over the rows themselves, read back through the model's
column types so SQLite and PostgreSQL give the same digest. `flask audit verify` reads each
sealed record again and names any whose rows no longer match: someone with the database
owner's rights changed it, with the triggers dropped.
"""

import hashlib
import json
from datetime import date, datetime
from typing import Any

from sqlalchemy import select

from server.extensions import db
from server.incidents.models import (
    Action,
    Incident,
    IncidentBodyMark,
    IncidentEvent,
    IncidentFile,
    incident_agencies,
    incident_categories,
    incident_event_categories,
    incident_pupils,
)


def _canonical(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat(timespec="microseconds")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float):
        return repr(value)
    return value


def _rows(statement) -> list[dict[str, Any]]:
    return [
        {key: _canonical(value) for key, value in row.items()}
        for row in db.session.execute(statement).mappings()
    ]


def _incident_rows(incident_id: int) -> dict[str, Any]:
    incidents = Incident.__table__
    children = {
        "pupils": incident_pupils,
        "categories": incident_categories,
        "agencies": incident_agencies,
        "body_marks": IncidentBodyMark.__table__,
        "files": IncidentFile.__table__,
    }
    content = {"incident": _rows(select(incidents).where(incidents.c.id == incident_id))}
    for name, table in children.items():
        order = list(table.primary_key.columns)
        content[name] = _rows(
            select(table).where(table.c.incident_id == incident_id).order_by(*order)
        )
    return content


def _action_rows(action_id: int) -> dict[str, Any]:
    actions = Action.__table__
    return {"action": _rows(select(actions).where(actions.c.id == action_id))}


def _event_rows(event_id: int) -> dict[str, Any]:
    """A status change or correction, with the categories a re-categorisation gave."""
    events, categories = IncidentEvent.__table__, incident_event_categories
    return {
        "event": _rows(select(events).where(events.c.id == event_id)),
        "categories": _rows(
            select(categories)
            .where(categories.c.event_id == event_id)
            .order_by(categories.c.category_id)
        ),
    }


READERS = {"incident": _incident_rows, "action": _action_rows, "event": _event_rows}


def seal(kind: str, record_id: int) -> dict[str, Any]:
    """The seal of a record as it is stored now (flush first): goes in an audit event."""
    content = json.dumps(READERS[kind](record_id), sort_keys=True, ensure_ascii=True)
    return {"kind": kind, "id": record_id, "digest": hashlib.sha256(content.encode()).hexdigest()}


def seal_matches(sealed: dict[str, Any]) -> bool:
    kind, record_id = sealed.get("kind"), sealed.get("id")
    if kind not in READERS or not isinstance(record_id, int):
        return False
    return seal(kind, record_id)["digest"] == sealed.get("digest")
