"""Building, reviewing and releasing a subject access export (SPEC §8).

Views are audited like any reading of the records; the release is audited with how many of
each kind of redaction were applied and how many the DSL turned off, never the redacted text
itself: the log is append-only and outlives even disposal, so text written into it could never
be taken out again, and it would put other people's details in front of everyone who reads it.
"""

import json
from dataclasses import dataclass

from sqlalchemy import select

from server.audit.operations import record
from server.auth.models import User
from server.auth.roles import Permission
from server.clock import to_local, utcnow
from server.errors import Refused
from server.extensions import db
from server.incidents.models import EVENT_LABELS, STATUS_LABELS
from server.pupils.models import Pupil
from server.subject_access import redaction
from server.subject_access.models import SubjectAccessExport

FORMAT = "haven-subject-access/1"
FORMATS = ("pdf", "json")
MAX_PHRASE = 200


class SubjectAccessRefused(Refused):
    pass


def _require(user: User) -> None:
    if not user.active or not user.can(Permission.SUBJECT_ACCESS):
        raise SubjectAccessRefused(
            "Only a designated safeguarding lead answers a subject access request.", 403
        )


def start_export(pupil: Pupil, *, by: User, staff: bool, third_parties: bool):
    _require(by)
    options = {"staff": bool(staff), "third_parties": bool(third_parties)}
    entries = redaction.entries_for(pupil)
    export = SubjectAccessExport(
        pupil_id=pupil.id,
        created_by_id=by.id,
        options=options,
        redactions=redaction.find_redactions(pupil, entries, options),
    )
    db.session.add(export)
    db.session.flush()
    record(
        "subject_access.started",
        actor=by,
        object_type="pupil",
        object_id=pupil.id,
        details={
            "export_id": export.id,
            "options": options,
            "incidents": len(entries),
            **redaction.counts(export.redactions),
        },  # fmt: skip
    )
    return export


def find_export(export_id: int, *, by: User) -> SubjectAccessExport:
    _require(by)
    export = db.session.get(SubjectAccessExport, export_id)
    if export is None:
        raise SubjectAccessRefused("There is no such export.", 404)
    return export


@dataclass
class Review:
    export: SubjectAccessExport
    entries: list[redaction.Entry]
    grouped: dict[str, list[dict]]
    texts: dict[str, redaction.Text]

    def segments(self, key: str):
        return redaction.segments(self.texts[key].text, self.grouped.get(key, []), only_on=False)

    def found_text(self, item: dict) -> str:
        return self.texts[item["key"]].text[item["start"] : item["end"]]

    def where(self, item: dict) -> str:
        return self.texts[item["key"]].label


def review(export: SubjectAccessExport, *, by: User) -> Review:
    """What the DSL reads to check the redactions (an audited view of the records)."""
    _require(by)
    entries = redaction.entries_for(export.pupil)
    record(
        "subject_access.reviewed",
        actor=by,
        object_type="pupil",
        object_id=export.pupil_id,
        details={"export_id": export.id},
    )
    texts = {text.key: text for entry in entries for text in entry.texts}
    return Review(export, entries, redaction.by_key(export.redactions), texts)


def set_redactions(export: SubjectAccessExport, on_ids: set[int], *, by: User) -> None:
    """Apply exactly the redactions in `on_ids`; the rest are left in the text."""
    _require(by)
    known = {item["id"] for item in export.redactions}
    if not on_ids <= known:
        raise SubjectAccessRefused("Choose redactions from the list.", 400)
    export.redactions = [{**item, "on": item["id"] in on_ids} for item in export.redactions]
    db.session.flush()
    record(
        "subject_access.adjusted",
        actor=by,
        object_type="pupil",
        object_id=export.pupil_id,
        details={"export_id": export.id, **redaction.counts(export.redactions)},
    )


def add_phrase(export: SubjectAccessExport, phrase: str, *, by: User) -> int:
    """Redact `phrase` wherever it appears as whole words; returns how many places."""
    _require(by)
    phrase = " ".join((phrase or "").split())
    if len(phrase) < 2 or len(phrase) > MAX_PHRASE:
        raise SubjectAccessRefused(f"Give the words to redact (2 to {MAX_PHRASE} characters).", 400)
    entries = redaction.entries_for(export.pupil)
    next_id = max((item["id"] for item in export.redactions), default=0) + 1
    added = redaction.phrase_redactions(entries, phrase, next_id)
    if not added:
        raise SubjectAccessRefused(f"“{phrase}” does not appear in these records.", 400)
    export.redactions = [*export.redactions, *added]
    db.session.flush()
    record(
        "subject_access.adjusted",
        actor=by,
        object_type="pupil",
        object_id=export.pupil_id,
        details={
            "export_id": export.id,
            "added": len(added),
            **redaction.counts(export.redactions),
        },
    )
    return len(added)


# --- The released document ------------------------------------------------------------------


def document(export: SubjectAccessExport) -> dict:
    """The export as released: every text with its redactions applied."""
    entries = redaction.entries_for(export.pupil)
    grouped = redaction.by_key(export.redactions)

    def text(key: str, value: str | None) -> str | None:
        return None if value is None else redaction.redacted(value, grouped.get(key, []))

    incidents = []
    for entry in entries:
        if entry.imported:
            continue
        incident = entry.incident
        base = f"incident:{incident.id}"
        incidents.append(
            {
                "number": incident.number,
                "about_this_pupil": not entry.linked,
                "occurred_at": _when(incident.occurred_at),
                "recorded_at": _when(incident.created_at),
                "recorded_by": text(f"{base}:author", incident.author.full_name),
                "recorded_for": text(f"{base}:on_behalf", redaction.on_behalf(incident)),
                "categories": [category.full_name for category in incident.categories],
                "status": STATUS_LABELS[incident.status],
                "location": text(f"{base}:location", incident.location),
                "account": text(f"{base}:account", incident.account),
                "parents_contacted": incident.parents_contacted,
                "parents_reason": text(f"{base}:parents_reason", incident.parents_reason),
                "medical_attention": incident.medical_attention,
                "body_marks": [
                    {
                        "number": m.number,
                        "side": m.side,
                        "kind": m.kind,
                        "note": text(f"mark:{m.id}:note", m.note),
                    }  # fmt: skip
                    for m in incident.body_marks
                ],
                "files": [text(f"file:{f.id}:name", f.original_name) for f in incident.files],
                "actions": [
                    {
                        "at": _when(a.created_at),
                        "by": text(f"action:{a.id}:author", a.author.full_name),
                        "recorded_for": text(f"action:{a.id}:on_behalf", redaction.on_behalf(a)),
                        "assigned_to": text(
                            f"action:{a.id}:assignee", a.assignee.full_name if a.assignee else None
                        ),
                        "due_on": a.due_on.isoformat() if a.due_on else None,
                        "text": text(f"action:{a.id}:text", a.text),
                    }
                    for a in incident.actions
                ],
                "events": [
                    {
                        "at": _when(e.created_at),
                        "what": EVENT_LABELS.get(e.kind, e.kind),
                        "by": text(f"event:{e.id}:author", e.author.full_name),
                        "note": text(f"event:{e.id}:note", e.note),
                    }
                    for e in incident.events
                ],
            }
        )
    pupil = export.pupil
    return {
        "format": FORMAT,
        "produced_at": _when(utcnow()),
        "pupil": {
            "name": pupil.legal_name,
            "preferred_name": pupil.display_name,
            "date_of_birth": pupil.date_of_birth.isoformat(),
        },
        "redaction_note": (
            "Other people's details have been removed where they appear: "
            + ", ".join(
                f"{label} {redaction.REPLACEMENTS[kind]}" for kind, label in redaction.KINDS.items()
            )  # fmt: skip
            + ". Attached files are listed by name only; their content is provided separately "
            "after review."
        ),
        "incidents": incidents,
        "imported_incidents": [
            _imported_document(entry, text) for entry in entries if entry.imported
        ],
    }


def _imported_document(entry: redaction.Entry, text) -> dict:
    """An incident imported from another school, marked with that school, redacted alike."""
    incident, data = entry.incident, entry.incident.data
    base = f"imported:{incident.id}"
    return {
        "from_school": entry.origin,
        "their_number": incident.source_number,
        "imported_at": _when(incident.imported_at),
        "occurred_at": _when(incident.occurred_at),
        "recorded_by": text(f"{base}:author", data.get("recorded_by")),
        "recorded_for": text(f"{base}:on_behalf", redaction._imported_on_behalf(data)),
        "categories": [str(name) for name in data.get("categories") or []],
        "location": text(f"{base}:location", data.get("location")),
        "account": text(f"{base}:account", data.get("account")),
        "parents_reason": text(f"{base}:parents_reason", data.get("parents_reason")),
        "body_marks": [
            {
                "number": mark.get("number"),
                "side": mark.get("side"),
                "kind": mark.get("kind"),
                "note": text(f"{base}:mark:{mark.get('number')}:note", mark.get("note")),
            }
            for mark in data.get("body_marks") or []
        ],
        "files": [
            text(f"{base}:file:{number}:name", item.get("name"))
            for number, item in enumerate(data.get("files") or [], start=1)
        ],
        "actions": [
            {
                "at": action.get("recorded_at"),
                "by": text(f"{base}:action:{number}:author", action.get("recorded_by")),
                "recorded_for": text(
                    f"{base}:action:{number}:on_behalf", redaction._imported_on_behalf(action)
                ),
                "text": text(f"{base}:action:{number}:text", action.get("text")),
            }
            for number, action in enumerate(data.get("actions") or [], start=1)
        ],
        "events": [
            {
                "at": event.get("recorded_at"),
                "what": str(event.get("kind", "")).replace("_", " "),
                "by": text(f"{base}:event:{number}:author", event.get("recorded_by")),
                "note": text(f"{base}:event:{number}:note", event.get("note")),
            }
            for number, event in enumerate(data.get("events") or [], start=1)
        ],
    }


def _when(moment) -> str:
    return to_local(moment).isoformat(timespec="minutes")


def release(export: SubjectAccessExport, fmt: str, *, by: User) -> tuple[str, str, bytes]:
    """(file name, content type, bytes) of the export in `fmt`, audited."""
    _require(by)
    if fmt not in FORMATS:
        raise SubjectAccessRefused("Choose PDF or JSON.", 400)
    doc = document(export)
    if fmt == "json":
        content = json.dumps(doc, indent=1, ensure_ascii=False).encode()
        content_type = "application/json"
    else:
        from server.subject_access.render import pdf

        content = pdf(doc)
        content_type = "application/pdf"
    export.released_at = utcnow()
    export.released_by_id = by.id
    db.session.flush()
    record(
        "subject_access.released",
        actor=by,
        object_type="pupil",
        object_id=export.pupil_id,
        details={
            "export_id": export.id,
            "format": fmt,
            "incidents": len(doc["incidents"]),
            "imported_incidents": len(doc["imported_incidents"]),
            **redaction.counts(export.redactions),
        },  # fmt: skip
    )
    filename = f"subject-access-{export.pupil_id}-{to_local(utcnow()):%Y-%m-%d}.{fmt}"
    return filename, content_type, content


def exports_for(pupil: Pupil) -> list[SubjectAccessExport]:
    return list(
        db.session.scalars(
            select(SubjectAccessExport)
            .where(SubjectAccessExport.pupil_id == pupil.id)
            .order_by(SubjectAccessExport.id.desc())
        )
    )
