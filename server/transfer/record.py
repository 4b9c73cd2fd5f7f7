"""The record a package carries (docs/transfer-format.md): every incident whose subject is the
pupil, with its actions, corrections and status changes, body map and files (their bytes),
every incident about the pupil this school had imported from earlier schools (marked with the
school that recorded it and when it was imported here), and the chronology as a PDF.
Incidents where the pupil is only a linked pupil are another child's record and stay here.
"""

import hashlib

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from server.auth.models import User
from server.auth.roles import Role
from server.clock import utcnow
from server.extensions import db
from server.incidents import files as stored_files
from server.incidents.models import Incident, IncidentEvent
from server.pupils.models import Pupil
from server.transfer.imported import imported_for_pupil
from server.transfer.keys import b64
from server.transfer.models import ImportedIncident

RECORD_FORMAT = "haven-pupil-record"
# Version 2 adds `imported_incidents` (what this school had imported from earlier schools). A
# reader of version 1 would silently drop that history, so the version changed; the importer
# still reads version 1.
RECORD_VERSION = 2


def _iso(moment) -> str | None:
    return moment.isoformat() if moment is not None else None


def _on_behalf(item) -> dict | None:
    if not item.recorded_on_behalf_name:
        return None
    return {"name": item.recorded_on_behalf_name, "role": item.recorded_on_behalf_role or ""}


def pupil_json(pupil: Pupil) -> dict:
    return {
        "upn": pupil.upn,
        "legal_first_name": pupil.legal_first_name,
        "legal_last_name": pupil.legal_last_name,
        "preferred_first_name": pupil.preferred_first_name,
        "preferred_last_name": pupil.preferred_last_name,
        "date_of_birth": pupil.date_of_birth.isoformat(),
        "year_group": pupil.year_group,
    }


def _file_json(file) -> dict:
    """A file as the package carries it: an upload here, or a file imported here."""
    data = stored_files.load(file.stored_name)
    return {
        "name": file.original_name,
        "content_type": file.content_type,
        "size": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "data": b64(data),
    }


def incident_json(incident: Incident) -> dict:
    return {
        "uuid": incident.uuid,
        "number": incident.number,
        "occurred_at": _iso(incident.occurred_at),
        "recorded_at": _iso(incident.created_at),
        "recorded_by": incident.author.full_name,
        "recorded_on_behalf_of": _on_behalf(incident),
        "location": incident.location,
        "account": incident.account,
        "categories": [category.full_name for category in incident.categories],
        "original_categories": [category.full_name for category in incident.original_categories],
        "sensitive": incident.is_sensitive,
        "status": incident.status,
        "entered_in_error": incident.entered_in_error,
        "urgent": incident.urgent,
        "parents_contacted": incident.parents_contacted,
        "parents_reason": incident.parents_reason,
        "medical_attention": incident.medical_attention,
        "linked_pupils": [pupil.display_name for pupil in incident.linked_pupils],
        "agencies": [agency.name for agency in incident.agencies],
        "body_marks": [
            {"number": m.number, "side": m.side, "x": m.x, "y": m.y, "kind": m.kind, "note": m.note}
            for m in incident.body_marks
        ],  # fmt: skip
        "actions": [
            {
                "text": action.text,
                "recorded_at": _iso(action.created_at),
                "recorded_by": action.author.full_name,
                "recorded_on_behalf_of": _on_behalf(action),
                "assigned_to": action.assignee.full_name if action.assignee else None,
                "due_on": action.due_on.isoformat() if action.due_on else None,
            }
            for action in incident.actions
        ],
        "events": [
            {
                "kind": event.kind,
                "note": event.note,
                "recorded_at": _iso(event.created_at),
                "recorded_by": event.author.full_name,
                "categories": [category.full_name for category in event.categories],
            }
            for event in incident.events
        ],
        "files": [_file_json(file) for file in incident.files],
    }


def pupil_incidents(pupil: Pupil) -> list[Incident]:
    return list(
        db.session.scalars(
            select(Incident)
            .where(Incident.pupil_id == pupil.id)
            .options(
                selectinload(Incident.original_categories),
                selectinload(Incident.events).selectinload(IncidentEvent.categories),
                selectinload(Incident.actions),
                selectinload(Incident.agencies),
                selectinload(Incident.linked_pupils),
                selectinload(Incident.body_marks),
                selectinload(Incident.files),
            )
            .order_by(Incident.occurred_at, Incident.number)
        )
    )


def imported_incident_json(incident: ImportedIncident) -> dict:
    """An incident this school imported, passed on with the school that recorded it and when
    it was imported here, so the next school sees the whole history."""
    content = {k: v for k, v in incident.data.items() if k not in ("files", "imported_at")}
    return {
        **content,
        "origin_school": incident.origin_school,
        "imported_at": _iso(incident.imported_at),
        "files": [_file_json(file) for file in incident.files],
    }


def chronology_pdf(user: User, pupil: Pupil) -> bytes:
    """The chronology as this school prints it (names shown: it is the record)."""
    from server.reports.documents import build_document
    from server.reports.render import pdf_bytes

    document = build_document(
        "chronology", user, {"pupil_id": pupil.id, "names": "shown"}, None, review=True
    )
    return pdf_bytes(document)


def _not_disposed(incidents: list, imported: list) -> tuple[list, list]:
    """Records disposed of at the end of their retention (server.retention) are not passed on:
    here only their tombstones remain, and their files can no longer be decrypted."""
    from server.retention.models import DisposalTombstone, ImportedTombstone

    gone = set(
        db.session.scalars(
            select(DisposalTombstone.incident_id).where(
                DisposalTombstone.incident_id.in_([incident.id for incident in incidents])
            )
        )
    )
    gone_imported = set(
        db.session.scalars(
            select(ImportedTombstone.imported_incident_id).where(
                ImportedTombstone.imported_incident_id.in_([incident.id for incident in imported])
            )
        )
    )
    return (
        [incident for incident in incidents if incident.id not in gone],
        [incident for incident in imported if incident.id not in gone_imported],
    )


def build_record(user: User, pupil: Pupil) -> tuple[dict, list]:
    """The record, and every incident in it (this school's, then those imported here)."""
    incidents, earlier = _not_disposed(pupil_incidents(pupil), imported_for_pupil(pupil.id))
    pdf = chronology_pdf(user, pupil)
    record = {
        "format": RECORD_FORMAT,
        "version": RECORD_VERSION,
        "exported_at": utcnow().isoformat(),
        "exported_by": {"name": user.full_name, "role": Role.DSL.label},
        "school": {
            "name": current_app.config["SCHOOL_NAME"] or "Haven school",
            "urn": current_app.config["SCHOOL_URN"] or None,
        },
        "pupil": pupil_json(pupil),
        "incidents": [incident_json(incident) for incident in incidents],
        "imported_incidents": [imported_incident_json(incident) for incident in earlier],
        "chronology_pdf": {
            "name": f"chronology-{pupil.upn}.pdf",
            "content_type": "application/pdf",
            "size": len(pdf),
            "sha256": hashlib.sha256(pdf).hexdigest(),
            "data": b64(pdf),
        },
    }
    return record, [*incidents, *earlier]
