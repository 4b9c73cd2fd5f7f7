"""Records imported from another school: checking a record before it is kept, keeping it
(append-only rows, files stored encrypted), and showing it, read-only and marked with the
school it came from, beside this school's own entries in the pupil's chronology.
"""

import base64
import binascii
import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from flask import abort
from sqlalchemy import select

from server.audit.operations import record as audit
from server.auth.models import User, UserSession
from server.extensions import db
from server.ids import parse_id
from server.incidents import files as stored_files
from server.transfer.models import ImportedFile, ImportedIncident, IncomingTransfer
from server.transfer.package import PackageRefused

MAX_INCIDENTS = 20_000


def _refuse(why: str):
    raise PackageRefused(f"The record in this package is not valid: {why}. Nothing was imported.")


def _text(value, what: str, *, optional=False, limit=200_000) -> str | None:
    if value is None and optional:
        return None
    if not isinstance(value, str) or len(value) > limit:
        _refuse(f"{what} is not text")
    return value


def parse_moment(value) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        _refuse(f"“{str(value)[:40]}” is not a date and time")
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def parse_date(value) -> date:
    try:
        return date.fromisoformat(value)
    except (TypeError, ValueError):
        _refuse(f"“{str(value)[:40]}” is not a date")


def _file_bytes(item, what: str) -> bytes:
    if not isinstance(item, dict):
        _refuse(f"{what} is not described")
    _text(item.get("name"), f"{what}'s name", limit=255)
    _text(item.get("content_type"), f"{what}'s type", limit=100)
    try:
        data = base64.b64decode(str(item.get("data", "")).encode("ascii"), validate=True)
    except (binascii.Error, ValueError, UnicodeEncodeError):
        _refuse(f"{what}'s content is not base64")
    if hashlib.sha256(data).hexdigest() != item.get("sha256"):
        _refuse(f"{what}'s content does not match its SHA-256")
    return data


def check_record(record: dict) -> None:
    """Everything the import relies on, checked before anything is kept."""
    if record.get("format") != "haven-pupil-record" or record.get("version") not in (1, 2):
        _refuse("it is not a Haven pupil record of version 1 or 2")
    pupil = record.get("pupil")
    if not isinstance(pupil, dict):
        _refuse("it does not say who the pupil is")
    for name in ("legal_first_name", "legal_last_name"):
        _text(pupil.get(name), "the pupil's name", limit=80)
    _text(pupil.get("upn"), "the UPN", optional=True, limit=20)
    parse_date(pupil.get("date_of_birth"))
    incidents = record.get("incidents")
    if not isinstance(incidents, list) or len(incidents) > MAX_INCIDENTS:
        _refuse("its incidents are not a list")
    for incident in incidents:
        _check_incident(incident)
    earlier = earlier_incidents(record)
    if not isinstance(earlier, list) or len(incidents) + len(earlier) > MAX_INCIDENTS:
        _refuse("its imported incidents are not a list")
    for incident in earlier:
        _check_incident(incident)
        origin = incident.get("origin_school")
        if not isinstance(origin, dict):
            _refuse("an imported incident does not name the school that recorded it")
        _text(origin.get("name"), "a school's name", limit=200)
        parse_moment(incident.get("imported_at"))
    _file_bytes(record.get("chronology_pdf"), "the chronology PDF")


def earlier_incidents(record: dict) -> list:
    """Incidents the sender had imported from earlier schools (record version 2; none in 1)."""
    return record.get("imported_incidents", []) if record.get("version", 1) >= 2 else []


def _check_incident(incident) -> None:
    if not isinstance(incident, dict):
        _refuse("an incident is not described")
    _text(incident.get("uuid"), "an incident's id", limit=64)
    if not isinstance(incident.get("number"), int) or isinstance(incident.get("number"), bool):
        _refuse("an incident has no number")
    parse_moment(incident.get("occurred_at"))
    _text(incident.get("account"), "an incident's account")
    for part in ("categories", "actions", "events", "body_marks", "files"):
        if not isinstance(incident.get(part), list):
            _refuse(f"an incident's {part.replace('_', ' ')} are not a list")
    for action in incident["actions"]:
        if not isinstance(action, dict):
            _refuse("an action is not described")
        _text(action.get("text"), "an action's text")
        parse_moment(action.get("recorded_at"))
    for event in incident["events"]:
        if not isinstance(event, dict):
            _refuse("a change is not described")
        _text(event.get("kind"), "a change's kind", limit=40)
        parse_moment(event.get("recorded_at"))
    for item in incident["files"]:
        _file_bytes(item, "a file")


def store_records(row: IncomingTransfer, pupil, record: dict) -> dict:
    """Keep every incident and file of a checked record for `pupil`; returns the counts."""
    check_record(record)
    stored: list[str] = []
    incidents = files = 0
    try:
        for item in [*record["incidents"], *earlier_incidents(record)]:
            content = {key: value for key, value in item.items() if key != "files"}
            content["files"] = [
                {key: value for key, value in file.items() if key != "data"}
                for file in item["files"]
            ]
            incident = ImportedIncident(
                incoming_transfer_id=row.id,
                pupil_id=pupil.id,
                source_uuid=item["uuid"],
                source_number=item["number"],
                occurred_at=parse_moment(item["occurred_at"]),
                sensitive=bool(item.get("sensitive")),
                content=json.dumps(content, sort_keys=True),
            )
            db.session.add(incident)
            db.session.flush()
            incidents += 1
            for file in item["files"]:
                _keep_file(row, incident.id, "attachment", file, stored)
                files += 1
        _keep_file(row, None, "chronology", record["chronology_pdf"], stored)
        db.session.flush()
    except Exception:
        stored_files.discard(stored)
        raise
    return {"incidents": incidents, "files": files}


def _keep_file(row, incident_id, kind: str, item: dict, stored: list[str]) -> None:
    data = _file_bytes(item, "a file")
    stored_name = stored_files.store(data)
    stored.append(stored_name)
    db.session.add(
        ImportedFile(
            incoming_transfer_id=row.id,
            imported_incident_id=incident_id,
            kind=kind,
            original_name=item["name"][:255],
            content_type=item["content_type"][:100],
            size=len(data),
            sha256=hashlib.sha256(data).hexdigest(),
            stored_name=stored_name,
        )
    )


# --- Reading imported records ---------------------------------------------------------------


@dataclass(frozen=True)
class ImportedEntry:
    """An imported incident in the chronology, beside this school's entries."""

    when: datetime
    incident: ImportedIncident
    data: dict = field(default_factory=dict)
    imported: bool = True

    @property
    def kind(self) -> str:
        return "imported"

    @property
    def sort_key(self):
        return (self.when, 0, 0, 0)


def imported_for_pupil(pupil_id: int) -> list[ImportedIncident]:
    return list(
        db.session.scalars(
            select(ImportedIncident)
            .where(ImportedIncident.pupil_id == pupil_id)
            .order_by(ImportedIncident.occurred_at, ImportedIncident.id)
        )
    )


def imported_entries(pupil_id: int, filters=None) -> list[ImportedEntry]:
    """Imported incidents for the chronology. A filter by category, author or status (which
    name this school's categories and people) leaves them out; a date range applies."""
    if filters is not None and any(
        value is not None for value in (filters.category_id, filters.author_id, filters.status)
    ):
        return []
    entries = []
    for incident in imported_for_pupil(pupil_id):
        if filters is not None and not _in_dates(incident.occurred_at, filters):
            continue
        entries.append(ImportedEntry(incident.occurred_at, incident, incident.data))
    return entries


def _in_dates(moment: datetime, filters) -> bool:
    from server.clock import to_local

    day = to_local(moment).date()
    if filters.date_from is not None and day < filters.date_from:
        return False
    return filters.date_to is None or day <= filters.date_to


def open_imported(user: User, imported_id, session_row: UserSession | None) -> ImportedIncident:
    """One imported incident, for those who may read imported records; the view is audited."""
    from server.transfer.operations import can_read_imported

    if not can_read_imported(user, session_row):
        abort(403)
    found = parse_id(imported_id)
    incident = db.session.get(ImportedIncident, found) if found is not None else None
    if incident is None:
        abort(404)
    audit(
        "imported_incident.viewed",
        object_type="pupil",
        object_id=incident.pupil_id,
        actor=user,
        details={"imported_incident": incident.id, "from": incident.school_name,
                 "source": incident.label},
    )  # fmt: skip
    return incident


def open_imported_file(
    user: User, file_id, session_row: UserSession | None
) -> tuple[ImportedFile, bytes]:
    from server.transfer.operations import can_read_imported

    if not can_read_imported(user, session_row):
        abort(403)
    found = parse_id(file_id)
    file = db.session.get(ImportedFile, found) if found is not None else None
    if file is None:
        abort(404)
    pupil_id = file.transfer.pupil_id
    if not stored_files.readable(file.stored_name):
        abort(410, "This file was disposed of at the end of its retention period.")
    audit(
        "imported_file.downloaded",
        object_type="pupil",
        object_id=pupil_id,
        actor=user,
        details={"imported_file": file.id, "kind": file.kind, "from": file.transfer.sender_name},
    )
    return file, stored_files.load(file.stored_name)
