"""Reading what the incident pages and the API are sent, and building what the page shows."""

import json
from datetime import date
from typing import Any

from flask import request
from sqlalchemy import select

from server.alerts.escalation import escalations_of
from server.alerts.operations import not_yet_read, readers
from server.auth.models import User, UserSession
from server.extensions import db
from server.ids import parse_ids
from server.incidents import form_data, policy
from server.incidents.errors import IncidentRefused
from server.incidents.files import MAX_FILE_BYTES, Upload
from server.incidents.forms import action_form, correction_form, status_form
from server.incidents.models import STATUS_KINDS, Incident
from server.incidents.operations import actions_page, status_changes
from server.incidents.vocabulary import choosable_categories
from server.pupils.models import year_label


def _optional_date(name: str) -> date | None:
    value = (request.form.get(name) or "").strip()
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise IncidentRefused("Enter a real date.", {name: "Enter a real date."}) from None


def action_fields() -> dict[str, Any]:
    """The action form as sent; the id is checked where the rule lives, in add_action."""
    return {
        "text": request.form.get("text", ""),
        "assignee_id": request.form.get("assignee_id") or None,
        "due_on": _optional_date("due_on"),
        "on_behalf_name": request.form.get("on_behalf_name", ""),
        "on_behalf_role": request.form.get("on_behalf_role", ""),
    }


def status_fields() -> tuple[str, str]:
    return request.form.get("kind", ""), request.form.get("note", "")


def correction_fields() -> dict[str, Any]:
    """The correction form as sent; the ids are checked in correct_incident."""
    return {
        "kind": request.form.get("kind", ""),
        "reason": request.form.get("reason", ""),
        "category_ids": request.form.getlist("category_ids"),
    }


def _loads(text: str) -> Any:
    """JSON text as Python, or None when it is not JSON (nesting too deep to read included)."""
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return None


def request_json() -> Any:
    """The request's JSON body, or None when it is not JSON."""
    try:
        return request.get_json(silent=True)
    except RecursionError:  # "[[[[…" thousands deep: not an incident, and not a 500 either
        return None


def submission_from_request() -> tuple[dict, list[Upload]]:
    """The incident (JSON, alone or as the `incident` part of a multipart body) and its files."""
    if request.mimetype == "multipart/form-data":
        payload = _loads(request.form.get("incident") or "null")
        uploads = [
            # Reading one byte past the limit is enough to refuse a file as too large.
            Upload(part.filename or "", part.stream.read(MAX_FILE_BYTES + 1))
            for part in request.files.getlist("files")
        ]
        # A file input left empty still sends a part, with no name and no content.
        uploads = [upload for upload in uploads if upload.filename or upload.data]
    else:
        payload, uploads = request_json(), []
    if not isinstance(payload, dict):
        raise IncidentRefused(
            "The incident could not be read.", {"incident": "Send the incident as JSON."}
        )
    return payload, uploads


def preview_ids(body: Any) -> tuple[list[int], list[int], list[int]]:
    """(pupil ids, category ids, extra recipient ids) from the alert-preview request."""
    if not isinstance(body, dict):
        raise IncidentRefused("The request could not be read.", {"body": "Send JSON."})

    def ids(value: Any, name: str) -> list[int]:
        parsed = parse_ids(value)
        if parsed is None:
            message = "That is not a valid list of ids."
            raise IncidentRefused(f"{name} is not a valid list of ids.", {name: message})
        return parsed

    # Only the incident's own pupil decides who is alerted: a linked pupil's class teacher never
    # is (server/alerts/rules.py), so linked pupils play no part in the preview.
    pupil_ids = ids([body["pupil_id"]] if body.get("pupil_id") is not None else [], "pupil_id")
    ids(body.get("linked_pupil_ids"), "linked_pupil_ids")  # still refused when malformed
    return (
        pupil_ids,
        ids(body.get("category_ids"), "category_ids"),
        ids(body.get("extra_recipient_ids"), "extra_recipient_ids"),
    )


def assignable_staff(incident: Incident) -> list[User]:
    users = db.session.scalars(
        select(User).where(User.active.is_(True)).order_by(User.full_name, User.id)
    )
    return [user for user in users if policy.may_see_incident_if_alerted(user, incident)]


def incident_page(
    user: User,
    incident: Incident,
    session_row: UserSession | None,
    refused: tuple[str, IncidentRefused] | None = None,
    actions_after=None,
) -> dict:
    """What the incident page shows. `refused` = (which form, the refusal) re-shows that form
    as it was sent, with the messages beside its fields."""
    sees_corrections = policy.can_see_corrections(user)
    may_correct = sees_corrections and policy.can_view(user, incident, session_row)
    sees_readers = policy.can_see_readers(user, incident)
    categories = choosable_categories()
    return {
        "incident": incident,
        "marks_by_side": {
            side: [m for m in incident.body_marks if m.side == side] for side in ("front", "back")
        },
        "history": [
            event for event in incident.events if sees_corrections or event.kind in STATUS_KINDS
        ],
        "sees_corrections": sees_corrections,
        "recategorised": any(e.kind == "recategorised" for e in incident.events),
        "pupil_year": year_label(incident.pupil.year_group),
        "readers": readers(incident) if sees_readers else None,
        "not_read": not_yet_read(incident) if sees_readers else [],
        "escalations": escalations_of(incident),
        # A page of actions at a time (issue 12): an incident's history can grow long.
        "actions_page": actions_page(incident, actions_after),
        "can_add_action": policy.can_add_action(user, incident, session_row),
        "can_change_status": policy.can_change_status(user, incident, session_row),
        "may_correct": may_correct,
        "correction_ready": policy.can_correct(user, incident, session_row),
        **_forms(incident, categories, refused),
    }


# Which form each page action posts, and where a domain function's field names show.
FORM_OF_ENDPOINT = {
    "incidents.add_action": "action_form",
    "incidents.change_status": "status_form",
    "incidents.correct": "correction_form",
}
_FIELD_OF = {"on_behalf": "on_behalf_name"}


def _forms(incident: Incident, categories, refused) -> dict:
    which, refusal = refused or (None, None)

    def formdata(name: str):
        return request.form if name == which else None

    forms = {
        "action_form": action_form(assignable_staff(incident), formdata("action_form")),
        "status_form": status_form(status_changes(incident), formdata("status_form")),
        "correction_form": correction_form(categories, incident, formdata("correction_form")),
    }
    if refusal is not None:
        form = forms[which]
        placed = False
        for name, message in refusal.fields.items():
            field = form._fields.get(_FIELD_OF.get(name, name))
            if field is not None:
                field.errors = [message]
                placed = True
        if not placed:
            form.form_errors.append(refusal.message)
    return forms


def form_data_json(user: User) -> str:
    """What the Add Incident form needs, as one JSON text for the page to carry: the vocabulary,
    the roster (the very bytes `/api/roster` sends, with their ETag, so the device's kept copy
    stays comparable) and the staff. Every `<` is escaped, so no name can end the script element
    that holds it."""
    roster, roster_etag = form_data.roster_json(user)
    vocabulary = json.dumps(form_data.form_vocabulary(user), separators=(",", ":"))
    staff = json.dumps(form_data.staff_list(), separators=(",", ":"))
    text = (
        f'{{"vocabulary":{vocabulary},"staff":{staff},"roster_etag":"{roster_etag}",'
        f'"roster":{roster.decode()}}}'
    )
    return text.replace("<", "\\u003c")
