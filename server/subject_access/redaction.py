"""What a subject access export holds, and what in it is redacted (SPEC §8).

The export is every text of a pupil's records (incidents about them and incidents they are
linked to, not yet disposed of), each a `Text` with a key that names where it comes from.
Redactions are spans of those texts, each of one kind:

- ``pupil``: another pupil's name, matched against the roll, legal and preferred, as reports
  hide names (server.reports.names: full names for everyone, first names alone for pupils
  linked to these incidents), whole words, any case, possessives ("Sam's") included.
- ``third_party``: the name and role of someone recorded for (supply staff, an agency, a
  midday supervisor: "recorded on behalf of").
- ``staff``: a member of staff's name: their full name wherever it appears in a text, and the
  author, assignee and decider fields. By choice: staff acting in their job are often named.
- ``words``: third parties' words, by choice: (a) speech in double quotation marks (“…” or
  "…"), which may be the pupil's own words or someone else's, so the DSL decides each one; and
  (b) the whole account or action text written for someone else ("recorded on behalf of"),
  which is that person's account.
- ``added``: a phrase the DSL chose to redact, at every place it appears.

Every redaction is listed for the DSL to review, and each can be turned off or on before
release. Texts never change (records are immutable), so offsets stay true.
"""

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import subqueryload

from server.auth.models import User
from server.extensions import db
from server.incidents.models import Incident, IncidentEvent, incident_pupils
from server.pupils.models import Pupil
from server.reports.names import NameHider, name_matcher
from server.retention.models import DisposalTombstone, ImportedTombstone
from server.transfer.models import ImportedIncident

KINDS = {
    "pupil": "Another pupil’s name",
    "third_party": "Someone recorded for",
    "staff": "Member of staff",
    "words": "Third party’s words",
    "added": "Added by the DSL",
}
REPLACEMENTS = {
    "pupil": "[another pupil]",
    "third_party": "[third party]",
    "staff": "[member of staff]",
    "words": "[third party’s words removed]",
    "added": "[removed]",
}
# Which kinds are on when the export is built: always, or as the DSL chose.
OPTIONAL_KINDS = {"staff": "staff", "words": "third_parties"}
_QUOTED = re.compile(r"“[^”]{1,4000}”|\"[^\"\n]{1,4000}\"")


@dataclass
class Text:
    key: str  # e.g. "incident:12:account", "action:5:author"
    label: str  # where it is, for the DSL: "Incident #1042 – account"
    text: str
    whole: str | None = None  # a field that is a name as a whole: its kind


@dataclass
class Entry:
    """One incident as exported: facts that are not redacted, and its texts by key."""

    incident: Incident  # or an ImportedIncident, when `imported`
    linked: bool
    texts: list[Text] = field(default_factory=list)
    imported: bool = False  # from another school (server.transfer), marked with its name
    origin: str | None = None  # the school that recorded an imported incident


def incidents_for(pupil: Pupil) -> list[Incident]:
    linked = select(incident_pupils.c.incident_id).where(incident_pupils.c.pupil_id == pupil.id)
    disposed = select(DisposalTombstone.incident_id)
    return list(
        db.session.scalars(
            select(Incident)
            .where(or_(Incident.pupil_id == pupil.id, Incident.id.in_(linked)))
            .where(~Incident.id.in_(disposed))
            .options(
                subqueryload(Incident.actions),
                subqueryload(Incident.events).subqueryload(IncidentEvent.categories),
                subqueryload(Incident.body_marks),
                subqueryload(Incident.files),
                subqueryload(Incident.linked_pupils),
            )
            .order_by(Incident.occurred_at, Incident.number)
        )
    )


def entries_for(pupil: Pupil) -> list[Entry]:
    local = [_entry(incident, pupil) for incident in incidents_for(pupil)]
    return local + [_imported_entry(incident) for incident in imported_for(pupil)]


def imported_for(pupil: Pupil) -> list[ImportedIncident]:
    """Incidents imported from other schools about the pupil, not yet disposed of."""
    disposed = select(ImportedTombstone.imported_incident_id)
    return list(
        db.session.scalars(
            select(ImportedIncident)
            .where(ImportedIncident.pupil_id == pupil.id, ~ImportedIncident.id.in_(disposed))
            .order_by(ImportedIncident.occurred_at, ImportedIncident.id)
        )
    )


def _imported_entry(incident: ImportedIncident) -> Entry:
    """The texts of an imported incident, keyed "imported:<id>:...": its staff are the other
    school's, so their names are redacted as whole fields (they are not on this roll)."""
    from server.retention.operations import origin_of

    entry = Entry(incident=incident, linked=False, imported=True, origin=origin_of(incident)[0])
    data, base = incident.data, f"imported:{incident.id}"

    def add(key, where, text, whole=None):
        if text and isinstance(text, str):
            entry.texts.append(Text(f"{base}:{key}", f"{incident.label} – {where}", text, whole))

    add("author", "recorded by", data.get("recorded_by"), "staff")
    add("on_behalf", "recorded for", _imported_on_behalf(data), "third_party")
    add("location", "where", data.get("location"))
    add("account", "account", data.get("account"))
    add("parents_reason", "parents not contacted because", data.get("parents_reason"))
    for mark in data.get("body_marks") or []:
        add(f"mark:{mark.get('number')}:note", f"body map mark {mark.get('number')}",
            mark.get("note"))  # fmt: skip
    for number, item in enumerate(data.get("files") or [], start=1):
        add(f"file:{number}:name", "attached file", item.get("name"))
    for number, action in enumerate(data.get("actions") or [], start=1):
        where = f"action {number}"
        add(f"action:{number}:author", f"{where} by", action.get("recorded_by"), "staff")
        add(f"action:{number}:on_behalf", f"{where} recorded for",
            _imported_on_behalf(action), "third_party")  # fmt: skip
        add(f"action:{number}:assignee", f"{where} assigned to", action.get("assigned_to"),
            "staff")  # fmt: skip
        add(f"action:{number}:text", where, action.get("text"))
    for number, event in enumerate(data.get("events") or [], start=1):
        kind = str(event.get("kind", "change"))
        add(f"event:{number}:author", f"{kind} by", event.get("recorded_by"), "staff")
        add(f"event:{number}:note", f"{kind} note", event.get("note"))
    return entry


def _imported_on_behalf(data: dict) -> str | None:
    person = data.get("recorded_on_behalf_of")
    if not isinstance(person, dict) or not person.get("name"):
        return None
    return f"{person.get('name')} ({person.get('role') or ''})"


def _entry(incident: Incident, pupil: Pupil) -> Entry:
    entry = Entry(incident=incident, linked=incident.pupil_id != pupil.id)
    label = incident.label

    def add(key, where, text, whole=None):
        if text:
            entry.texts.append(Text(key, f"{label} – {where}", text, whole))

    base = f"incident:{incident.id}"
    add(f"{base}:author", "recorded by", incident.author.full_name, "staff")
    add(f"{base}:on_behalf", "recorded for", on_behalf(incident), "third_party")
    add(f"{base}:location", "where", incident.location)
    add(f"{base}:account", "account", incident.account)
    add(f"{base}:parents_reason", "parents not contacted because", incident.parents_reason)
    for mark in incident.body_marks:
        add(f"mark:{mark.id}:note", f"body map mark {mark.number}", mark.note)
    for attached in incident.files:
        add(f"file:{attached.id}:name", "attached file", attached.original_name)
    for number, action in enumerate(incident.actions, start=1):
        where = f"action {number}"
        add(f"action:{action.id}:author", f"{where} by", action.author.full_name, "staff")
        add(
            f"action:{action.id}:on_behalf",
            f"{where} recorded for",
            on_behalf(action),
            "third_party",
        )
        if action.assignee is not None:
            add(
                f"action:{action.id}:assignee",
                f"{where} assigned to",
                action.assignee.full_name,
                "staff",
            )
        add(f"action:{action.id}:text", where, action.text)
    for event in incident.events:
        add(f"event:{event.id}:author", f"{event.kind} by", event.author.full_name, "staff")
        add(f"event:{event.id}:note", f"{event.kind} note", event.note)
    return entry


def on_behalf(record) -> str | None:
    if not record.recorded_on_behalf_name:
        return None
    return f"{record.recorded_on_behalf_name} ({record.recorded_on_behalf_role})"


# --- Finding redactions ---------------------------------------------------------------------


def find_redactions(pupil: Pupil, entries: list[Entry], options: dict[str, bool]) -> list[dict]:
    roster = list(db.session.scalars(select(Pupil)))
    linked = {p.id: p for entry in entries if not entry.imported for p in entry.incident.all_pupils}
    # Pupils named by another school's record: not on this roll, so matched by those names.
    elsewhere = name_matcher(
        name
        for entry in entries
        if entry.imported
        for name in entry.incident.data.get("linked_pupils") or []
        if isinstance(name, str)
    )
    pupils = NameHider("letters", roster, keep=pupil, linked=linked.values())
    staff = name_matcher(db.session.scalars(select(User.full_name)))
    on_behalf_texts = _on_behalf_texts(entries)
    found: list[dict[str, Any]] = []

    def add(key, start, end, kind, ref=None):
        default = OPTIONAL_KINDS.get(kind)
        on = True if default is None else bool(options.get(default))
        found.append(
            {
                "id": len(found) + 1,
                "key": key,
                "start": start,
                "end": end,
                "kind": kind,
                "ref": ref,
                "on": on,
            }  # fmt: skip
        )

    for entry in entries:
        for text in entry.texts:
            if text.whole:
                add(text.key, 0, len(text.text), text.whole)
                continue
            for start, end, other in pupils.matches(text.text):
                add(text.key, start, end, "pupil", other.id)
            for match in elsewhere.finditer(text.text) if elsewhere else ():
                add(text.key, match.start(), match.end(), "pupil")
            for match in staff.finditer(text.text) if staff else ():
                add(text.key, match.start(), match.end(), "staff")
            if text.key in on_behalf_texts:
                add(text.key, 0, len(text.text), "words")
            else:
                for match in _QUOTED.finditer(text.text):
                    add(text.key, match.start(), match.end(), "words")
    return found


def _on_behalf_texts(entries: list[Entry]) -> set[str]:
    """The accounts and action texts written for someone else: that person's words."""
    keys = set()
    for entry in entries:
        if entry.imported:
            data, base = entry.incident.data, f"imported:{entry.incident.id}"
            if _imported_on_behalf(data):
                keys.add(f"{base}:account")
            for number, action in enumerate(data.get("actions") or [], start=1):
                if _imported_on_behalf(action):
                    keys.add(f"{base}:action:{number}:text")
            continue
        if entry.incident.recorded_on_behalf_name:
            keys.add(f"incident:{entry.incident.id}:account")
        for action in entry.incident.actions:
            if action.recorded_on_behalf_name:
                keys.add(f"action:{action.id}:text")
    return keys


def phrase_redactions(entries: list[Entry], phrase: str, next_id: int) -> list[dict]:
    """Every whole-word place `phrase` appears, as DSL-added redactions."""
    matcher = name_matcher([phrase])
    added = []
    for entry in entries:
        for text in entry.texts:
            for match in matcher.finditer(text.text) if matcher else ():
                added.append(
                    {
                        "id": next_id + len(added),
                        "key": text.key,
                        "start": match.start(),
                        "end": match.end(),
                        "kind": "added",
                        "ref": None,
                        "on": True,
                    }  # fmt: skip
                )
    return added


# --- Applying them --------------------------------------------------------------------------


def segments(text: str, redactions: list[dict], *, only_on: bool = True) -> list[tuple]:
    """`text` cut into (piece, redaction or None): overlapping redactions are merged, the
    longest naming the replacement (a quotation that names a pupil is removed as a whole)."""
    spans = sorted(
        (r for r in redactions if r["on"] or not only_on),
        key=lambda r: (r["start"], -(r["end"] - r["start"])),
    )
    merged: list[list] = []
    for span in spans:
        if merged and span["start"] < merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], span["end"])
            continue
        merged.append([span["start"], span["end"], span])
    pieces, position = [], 0
    for start, end, span in merged:
        if start > position:
            pieces.append((text[position:start], None))
        pieces.append((text[start:end], span))
        position = end
    if position < len(text):
        pieces.append((text[position:], None))
    return pieces


def redacted(text: str, redactions: list[dict]) -> str:
    return "".join(
        piece if span is None else REPLACEMENTS[span["kind"]]
        for piece, span in segments(text, redactions)
    )


def by_key(redactions: list[dict]) -> dict[str, list[dict]]:
    grouped: dict[str, list[dict]] = {}
    for redaction in redactions:
        grouped.setdefault(redaction["key"], []).append(redaction)
    return grouped


def counts(redactions: list[dict]) -> dict[str, dict[str, int]]:
    """How many of each kind are applied and how many were turned off: what the log keeps."""
    return {
        "redacted": dict(Counter(r["kind"] for r in redactions if r["on"])),
        "not_redacted": dict(Counter(r["kind"] for r in redactions if not r["on"])),
    }
