"""Recording an incident (SPEC §2): one function, one transaction, used online and offline.

`submit_incident` checks everything, then writes the incident, its parts, its files, its
alerts and its audit row together, or nothing. The client's UUID makes replays harmless.
"""

import hashlib
import json
import uuid as uuid_module
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import has_request_context, url_for
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload, make_transient_to_detached

from server.alerts.operations import (
    AlertPlan,
    AlertRefused,
    create_incident_alerts,
    incident_alert_plan,
)
from server.audit.operations import hold_chain_lock_and_read, record
from server.audit.seals import written_incident_seal
from server.auth.models import User
from server.auth.roles import Permission
from server.clock import to_local, utcnow
from server.extensions import db
from server.ids import parse_id, parse_ids
from server.incidents import files as file_store
from server.incidents.errors import IncidentRefused
from server.incidents.models import (
    BODY_MARK_KINDS,
    BODY_SIDES,
    MEDICAL_ATTENTION,
    PARENTS_CONTACTED,
    Agency,
    Category,
    Incident,
    IncidentBodyMark,
    IncidentFile,
)
from server.pupils.models import Pupil
from server.settings_cache import cached

FIRST_NUMBER = 1001
_HIGHEST_NUMBER = select(func.max(Incident.number)).scalar_subquery()
# Device clocks drift: a moment this little ahead of ours is "now", not the future.
CLOCK_TOLERANCE = timedelta(minutes=5)
# Nothing a school records happened before this; it is a mistyped year.
EARLIEST_OCCURRENCE = datetime(1900, 1, 1, tzinfo=UTC)
MAX_ACCOUNT_CHARS = 100_000
MAX_BODY_MARKS = 60
MAX_NESTING = 8
DSL_ONLY_REFUSAL = (
    "Only designated safeguarding leads can choose Safeguarding categories. "
    "Choose “Cause for concern – Safeguarding disclosure” instead."
)


@dataclass(frozen=True)
class Receipt:
    """What the client keeps: the server has this incident, under this number."""

    uuid: str
    id: int
    number: int
    url: str
    created: bool

    def to_json(self) -> dict[str, Any]:
        return {"uuid": self.uuid, "id": self.id, "number": self.number, "url": self.url}


@dataclass
class _Draft:
    pupil: Pupil | None = None
    occurred_at: datetime | None = None
    location: str | None = None
    account: str = ""
    parents_contacted: str = ""
    parents_reason: str | None = None
    medical_attention: str = ""
    urgent: bool = False
    body_marks: list[dict] = field(default_factory=list)
    categories: list[Category] = field(default_factory=list)
    linked_pupils: list[Pupil] = field(default_factory=list)
    agencies: list[Agency] = field(default_factory=list)
    extra_recipient_ids: list[int] = field(default_factory=list)
    # Held so the session keeps them (its identity map is weak): alerting asks for them again.
    extra_recipients: list[User] = field(default_factory=list)
    on_behalf_name: str | None = None
    on_behalf_role: str | None = None


def submit_incident(
    author: User,
    payload: dict[str, Any],
    uploads: Sequence[file_store.Upload] = (),
    via_device=None,
) -> Receipt:
    """Record an incident for `author`, or raise IncidentRefused having written nothing.

    `via_device` is the enrolled device whose outbox sent it (server/offline), for the audit.
    """
    if not author.can(Permission.RECORD_INCIDENTS):
        raise IncidentRefused("You cannot record incidents.", status=403)
    if not isinstance(payload, dict) or _too_deep(payload):
        raise IncidentRefused("The incident could not be read.", {"incident": "Not an incident."})
    client_uuid = _parse_uuid(payload.get("uuid"))
    digest = content_digest(payload, uploads)
    existing = _by_uuid(client_uuid)
    if existing is not None:
        return _replayed(existing, author, digest)
    draft = parse_payload(author, payload)
    checked = _check_uploads(uploads)
    plan = _alert_plan(author, draft)
    try:
        return _write(author, client_uuid, digest, draft, checked, plan, via_device)
    except IntegrityError:
        # The same UUID, sent twice at once (a retry racing its original): the other request
        # took it first, so this one is its replay, or refused if the content differs.
        existing = _by_uuid(client_uuid)
        if existing is None:
            raise
        return _replayed(existing, author, digest)


def _by_uuid(client_uuid: str) -> Incident | None:
    return db.session.scalar(select(Incident).where(Incident.uuid == client_uuid))


def _too_deep(payload: dict) -> bool:
    """Nested deeper than any incident is (body marks are three deep): refused before hashing,
    which would otherwise run out of recursion on a crafted payload."""
    stack = [(payload, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_NESTING:
            return True
        if isinstance(value, dict):
            stack.extend((child, depth + 1) for child in value.values())
        elif isinstance(value, list):
            stack.extend((child, depth + 1) for child in value)
    return False


def content_digest(payload: dict[str, Any], uploads: Sequence[file_store.Upload]) -> str:
    """SHA-256 over the submitted content in a canonical form, files included."""
    canonical = json.dumps(
        {
            "incident": payload,
            "files": [[u.filename, hashlib.sha256(u.data).hexdigest()] for u in uploads],
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=True,
        default=str,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def _parse_uuid(value: Any) -> str:
    try:
        return str(uuid_module.UUID(str(value)))
    except (ValueError, TypeError, AttributeError):
        raise IncidentRefused(
            "The submission has no valid identifier; reload the page and try again.",
            {"uuid": "A UUID is required."},
        ) from None


def _serialise_numbering() -> int:
    """Numbers are handed out one after another with no gaps: whoever numbers an incident
    holds the audit chain's lock (PostgreSQL; SQLite's BEGIN IMMEDIATE already serialises) from
    here to the commit. It is taken only now, for the final append (the incident, its alerts
    and its audit event), after everything was checked, so requests do not queue behind one
    another's checking; and it is the one lock the audit chain takes at commit anyway.
    Returns the next number, read under the lock with the chain's head in one query."""
    (highest,) = hold_chain_lock_and_read(db.session(), _HIGHEST_NUMBER)
    return max(highest or 0, FIRST_NUMBER - 1) + 1


def _replayed(existing: Incident, author: User, digest: str) -> Receipt:
    if existing.author_id != author.id or existing.content_hash != digest:
        raise IncidentRefused(
            "A different incident was already sent with this identifier, so this one was not "
            "saved. Start a new incident.",
            {"uuid": "This identifier has already been used for different content."},
        )
    return _receipt(existing, created=False)


def _receipt(incident: Incident, created: bool) -> Receipt:
    url = (
        url_for("incidents.show", number=incident.number)
        if has_request_context()
        else f"/incidents/{incident.number}"
    )
    return Receipt(incident.uuid, incident.id, incident.number, url, created)


# --- Checking the payload ---------------------------------------------------------------


def parse_payload(author: User, payload: dict[str, Any]) -> _Draft:
    """Every field checked; all the faults reported together."""
    draft, errors = _Draft(), {}
    checks = (
        _check_pupil,
        _check_when,
        _check_texts,
        _check_parents,
        _check_medical,
        _check_body_marks,
        _check_categories,
        _check_linked_pupils,
        _check_agencies,
        _check_recipients,
        _check_on_behalf,
        _check_urgent,
    )
    for check in checks:
        check(author, payload, draft, errors)
    if errors:
        raise IncidentRefused.from_fields(errors)
    return draft


def _ids_or_refuse(payload, name: str, errors, not_valid: str) -> list[int] | None:
    """The ids sent as `name`, or None with `not_valid` noted when any is not an id."""
    ids = parse_ids(payload.get(name))
    if ids is None:
        errors[name] = not_valid
    return ids


def _as_text(value: Any) -> str | None:
    if value is None:
        return ""
    if not isinstance(value, str):
        return None
    return value.strip()


def _check_pupil(author, payload, draft, errors) -> None:
    sent = payload.get("pupil_id")
    pupil_id = parse_id(sent)
    pupil = db.session.get(Pupil, pupil_id) if pupil_id is not None else None
    if sent is not None and pupil_id is None:
        errors["pupil_id"] = "That is not a valid pupil. Choose the pupil from the school roll."
    elif pupil is None or not pupil.on_roll:
        errors["pupil_id"] = "Choose the pupil from the school roll."
    draft.pupil = pupil


def _check_when(author, payload, draft, errors) -> None:
    value = payload.get("occurred_at")
    try:
        moment = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        errors["occurred_at"] = "Enter the date and time it happened."
    elif moment > utcnow() + CLOCK_TOLERANCE:
        errors["occurred_at"] = "The date and time it happened cannot be in the future."
    elif moment < EARLIEST_OCCURRENCE:
        # Also keeps year-1 moments away from time-zone arithmetic, which cannot go below it.
        errors["occurred_at"] = "The date it happened is too long ago: check the year."
    elif draft.pupil is not None and to_local(moment).date() < draft.pupil.date_of_birth:
        errors["occurred_at"] = "The date it happened is before the pupil was born."
    else:
        draft.occurred_at = moment


def _check_texts(author, payload, draft, errors) -> None:
    location = _as_text(payload.get("location"))
    if location is None or len(location) > 200:
        errors["location"] = "Where it happened must be 200 characters or fewer."
    else:
        draft.location = location or None
    account = _as_text(payload.get("account"))
    if not account:
        errors["account"] = "Write an account of what happened."
    elif len(account) > MAX_ACCOUNT_CHARS:
        errors["account"] = "The account is too long: split it into an incident and actions."
    else:
        draft.account = account


def _check_parents(author, payload, draft, errors) -> None:
    answer = payload.get("parents_contacted")
    if answer not in PARENTS_CONTACTED:
        errors["parents_contacted"] = "Say whether parents or carers have been contacted."
        return
    draft.parents_contacted = answer
    reason = _as_text(payload.get("parents_reason"))
    if answer != "yes" and not reason:
        errors["parents_reason"] = "Say why parents or carers have not been contacted."
    elif reason is None or len(reason) > 5000:
        errors["parents_reason"] = "The reason must be 5,000 characters or fewer."
    else:
        draft.parents_reason = reason or None


def _check_medical(author, payload, draft, errors) -> None:
    answer = payload.get("medical_attention")
    if answer not in MEDICAL_ATTENTION:
        errors["medical_attention"] = "Say whether medical attention was sought."
    else:
        draft.medical_attention = answer


def _check_body_marks(author, payload, draft, errors) -> None:
    marks = payload.get("body_marks") or []
    if not isinstance(marks, list) or len(marks) > MAX_BODY_MARKS:
        errors["body_marks"] = f"The body map can hold up to {MAX_BODY_MARKS} marks."
        return
    for number, mark in enumerate(marks, start=1):
        problem = _body_mark_problem(mark)
        if problem:
            errors["body_marks"] = f"Mark {number}: {problem}"
            return
        note = (mark.get("note") or "").strip()
        draft.body_marks.append(
            {
                "number": number,
                "side": mark["side"],
                "x": float(mark["x"]),
                "y": float(mark["y"]),
                "kind": mark["kind"],
                "note": note or None,
            }
        )


def _body_mark_problem(mark: Any) -> str | None:
    if not isinstance(mark, dict):
        return "it could not be read."
    if mark.get("side") not in BODY_SIDES:
        return "choose the front or the back."
    for axis in ("x", "y"):
        value = mark.get(axis)
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
            return "its position is outside the body map."
    if mark.get("kind") not in BODY_MARK_KINDS:
        return "choose bruise, cut, burn, mark or other."
    note = mark.get("note")
    if note is not None and (not isinstance(note, str) or len(note) > 1000):
        return "the note must be 1,000 characters or fewer."
    return None


def _check_categories(author, payload, draft, errors) -> None:
    not_valid = "That is not a valid category. Choose categories from the list."
    ids = _ids_or_refuse(payload, "category_ids", errors, not_valid)
    if ids is None:
        return
    if not ids:
        errors["category_ids"] = "Choose at least one category."
        return
    categories = _categories(ids)
    if categories is None or not all(category.active for category in categories):
        errors["category_ids"] = "Choose categories from the list."
    elif any(c.dsl_only for c in categories) and not author.can(
        Permission.CHOOSE_DSL_ONLY_CATEGORIES
    ):
        errors["category_ids"] = DSL_ONLY_REFUSAL
    elif headings := [c for c in categories if c.id in _family_headings()]:
        # As correct_incident refuses (operations.py): an incident is about one of the kinds.
        errors["category_ids"] = (
            f"“{headings[0].name}” is a group heading: choose one of its categories."
        )
    else:
        draft.categories = categories


def _check_linked_pupils(author, payload, draft, errors) -> None:
    not_valid = "That is not a valid pupil. Choose linked pupils from the school roll."
    ids = _ids_or_refuse(payload, "linked_pupil_ids", errors, not_valid)
    if ids is None:
        return
    main_id = draft.pupil.id if draft.pupil else None
    pupils = _load(Pupil, [i for i in ids if i != main_id])
    if pupils is None:
        errors["linked_pupil_ids"] = "Choose linked pupils from the school roll."
    else:
        draft.linked_pupils = pupils


def _check_agencies(author, payload, draft, errors) -> None:
    not_valid = "That is not a valid agency. Choose agencies from the list."
    ids = _ids_or_refuse(payload, "agency_ids", errors, not_valid)
    if ids is None:
        return
    agencies = _load(Agency, ids)
    if agencies is None or not all(agency.active for agency in agencies):
        errors["agency_ids"] = "Choose agencies from the list."
    else:
        draft.agencies = agencies


def _check_recipients(author, payload, draft, errors) -> None:
    not_valid = "That is not a valid member of staff. Choose the people to alert from the list."
    ids = _ids_or_refuse(payload, "extra_recipient_ids", errors, not_valid)
    if ids is None:
        return
    users = _load(User, ids, joinedload(User.role_rows))  # roles too: alerting checks them
    if users is None or not all(user.active for user in users):
        errors["extra_recipient_ids"] = "Choose the people to alert from the staff list."
    else:
        draft.extra_recipient_ids = [user.id for user in users]
        draft.extra_recipients = users


def _check_on_behalf(author, payload, draft, errors) -> None:
    on_behalf = payload.get("on_behalf") or {}
    if not isinstance(on_behalf, dict):
        errors["on_behalf"] = "Give the name and role of the person you are recording for."
        return
    name, role = _as_text(on_behalf.get("name")), _as_text(on_behalf.get("role"))
    if name is None or role is None or bool(name) != bool(role):
        errors["on_behalf"] = "Give both the name and the role of the person you are recording for."
    elif len(name) > 120 or len(role) > 120:
        errors["on_behalf"] = "The name and role must each be 120 characters or fewer."
    else:
        draft.on_behalf_name, draft.on_behalf_role = name or None, role or None


def _check_urgent(author, payload, draft, errors) -> None:
    urgent = payload.get("urgent", False)
    if not isinstance(urgent, bool):
        errors["urgent"] = "Say whether it is urgent."
    else:
        draft.urgent = urgent


def _categories(ids: list[int]) -> list[Category] | None:
    """The categories with these ids, in the order given (None if any does not exist), from
    the per-process settings cache: no query while no one has changed the vocabulary."""
    known = cached("categories", _category_rows)
    if not all(i in known for i in ids):
        return None
    found = []
    for category_id in ids:
        category = Category(**known[category_id])
        make_transient_to_detached(category)
        # The session's own copy if it has one, else this one, as if loaded: no query.
        found.append(db.session.merge(category, load=False))
    return found


def _family_headings() -> set[int]:
    """The ids of families with active sub-categories (vocabulary.is_family_heading), from the
    same cached rows."""
    rows = cached("categories", _category_rows).values()
    return {row["parent_id"] for row in rows if row["active"] and row["parent_id"] is not None}


def _category_rows() -> dict[int, dict[str, Any]]:
    columns = Category.__table__.columns
    rows = db.session.execute(select(*columns)).mappings()
    return {row["id"]: dict(row) for row in rows}


def _load(model, ids: list[int], *options) -> list | None:
    """The rows with these ids, in the order given; None if any does not exist."""
    if not ids:
        return []
    query = select(model).where(model.id.in_(ids)).options(*options)
    rows = {row.id: row for row in db.session.scalars(query).unique()}
    if len(rows) != len(ids):
        return None
    return [rows[i] for i in ids]


def _check_uploads(uploads: Sequence[file_store.Upload]) -> list[file_store.CheckedFile]:
    if len(uploads) > file_store.MAX_FILES:
        raise IncidentRefused(
            f"Attach up to {file_store.MAX_FILES} files.",
            {"files": f"Attach up to {file_store.MAX_FILES} files."},
        )
    checked = []
    for upload in uploads:
        try:
            checked.append(file_store.check_upload(upload))
        except file_store.FileRefused as refusal:
            raise IncidentRefused(
                refusal.message, {"files": refusal.message}, status=refusal.status
            ) from None
    return checked


# --- Writing ------------------------------------------------------------------------------


def _alert_plan(author: User, draft: _Draft) -> AlertPlan:
    """Who will be alerted, asked before anything is written or locked; a chosen person who
    may not be alerted refuses the whole submission."""
    sensitive = any(category.sensitive for category in draft.categories)
    try:
        return incident_alert_plan(author, draft.pupil, sensitive, draft.extra_recipient_ids)
    except AlertRefused as refusal:
        message = str(getattr(refusal, "message", refusal))
        raise IncidentRefused(message, {"extra_recipient_ids": message}) from None


def _write(
    author: User,
    client_uuid: str,
    digest: str,
    draft: _Draft,
    checked: list[file_store.CheckedFile],
    plan: AlertPlan,
    via_device=None,
) -> Receipt:
    """Everything that can be done before the numbering lock is (files stored, the rows built,
    the savepoint begun): the lock is held only for the final append (the rows' INSERTs, the
    seal, the audit event) and the commit, which is what caps submissions per second."""
    stored_names: list[str] = []
    try:
        files = []
        for item in checked:
            stored_names.append(file_store.store(item.data))
            files.append(
                IncidentFile(
                    original_name=item.original_name,
                    stored_name=stored_names[-1],
                    content_type=item.content_type,
                    size=len(item.data),
                    sha256=item.sha256,
                )
            )
        incident = _new_incident(author, client_uuid, digest, draft)
        marks = [IncidentBodyMark(**mark) for mark in draft.body_marks]
        with db.session.begin_nested():
            incident.number = _serialise_numbering()
            db.session.add(incident)
            for part in (*marks, *files):
                part.incident = incident
                db.session.add(part)
            db.session.flush()
            create_incident_alerts(incident, plan=plan)
            record(
                "incident.created",
                object_type="incident",
                object_id=incident.id,
                actor=author,
                details=_audit_details(incident, client_uuid, via_device),
            )
    except BaseException:
        file_store.discard(stored_names)
        raise
    return _receipt(incident, created=True)


def _audit_details(incident: Incident, client_uuid: str, via_device) -> dict[str, Any]:
    details = {
        "number": incident.number,
        "uuid": client_uuid,
        "seal": written_incident_seal(incident),
    }
    if via_device is not None:
        details["device_id"] = via_device.id
    return details


def _new_incident(author: User, client_uuid: str, digest: str, draft: _Draft) -> Incident:
    """The incident's row, not yet in the session: its number is given under the lock."""
    return Incident(
        uuid=client_uuid,
        content_hash=digest,
        pupil=draft.pupil,
        occurred_at=draft.occurred_at,
        location=draft.location,
        account=draft.account,
        parents_contacted=draft.parents_contacted,
        parents_reason=draft.parents_reason,
        medical_attention=draft.medical_attention,
        urgent=draft.urgent,
        author=author,
        recorded_on_behalf_name=draft.on_behalf_name,
        recorded_on_behalf_role=draft.on_behalf_role,
        created_at=utcnow(),
        linked_pupils=draft.linked_pupils,
        original_categories=draft.categories,
        agencies=draft.agencies,
        # A new incident has no status changes, corrections, marks or files but those added
        # here: known, so never asked for.
        events=[],
        body_marks=[],
        files=[],
    )
