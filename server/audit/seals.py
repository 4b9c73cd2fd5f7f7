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

from sqlalchemy import TypeDecorator, select
from sqlalchemy import inspect as sa_inspect

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


def _as_stored(column, value: Any) -> Any:
    """A value as the database gives it back through the column's type (e.g. a moment sent
    with an offset comes back in UTC)."""
    kind = column.type
    if isinstance(kind, TypeDecorator) and value is not None:
        dialect = db.session.get_bind().dialect
        value = kind.process_result_value(kind.process_bind_param(value, dialect), dialect)
    return _canonical(value)


def _object_row(instance) -> dict[str, Any]:
    mapper = sa_inspect(instance).mapper
    return {
        column.name: _as_stored(
            column, getattr(instance, mapper.get_property_by_column(column).key)
        )
        for column in mapper.local_table.columns
    }


def written_incident_seal(incident: Incident) -> dict[str, Any]:
    """The seal of an incident just written in this transaction (flushed), worked out from
    what was written rather than read back: exactly what `seal("incident", id)` reads, which
    `flask audit verify` recomputes from the rows (tests hold the two to the same digest)."""
    content = {
        "incident": [_object_row(incident)],
        "pupils": sorted(
            ({"incident_id": incident.id, "pupil_id": p.id} for p in incident.linked_pupils),
            key=lambda row: row["pupil_id"],
        ),
        "categories": sorted(
            (
                {"incident_id": incident.id, "category_id": c.id}
                for c in incident.original_categories
            ),
            key=lambda row: row["category_id"],
        ),
        "agencies": sorted(
            ({"incident_id": incident.id, "agency_id": a.id} for a in incident.agencies),
            key=lambda row: row["agency_id"],
        ),
        "body_marks": sorted((_object_row(m) for m in incident.body_marks), key=lambda r: r["id"]),
        "files": sorted((_object_row(f) for f in incident.files), key=lambda r: r["id"]),
    }
    text = json.dumps(content, sort_keys=True, ensure_ascii=True)
    return {
        "kind": "incident",
        "id": incident.id,
        "digest": hashlib.sha256(text.encode()).hexdigest(),
    }


def seal(kind: str, record_id: int) -> dict[str, Any]:
    """The seal of a record as it is stored now (flush first): goes in an audit event."""
    content = json.dumps(READERS[kind](record_id), sort_keys=True, ensure_ascii=True)
    return {"kind": kind, "id": record_id, "digest": hashlib.sha256(content.encode()).hexdigest()}


def seal_matches(sealed: dict[str, Any]) -> bool:
    kind, record_id = sealed.get("kind"), sealed.get("id")
    if kind not in READERS or not isinstance(record_id, int):
        return False
    return seal(kind, record_id)["digest"] == sealed.get("digest")
