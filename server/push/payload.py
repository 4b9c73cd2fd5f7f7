"""What a notification says (SPEC §4): who raised it and the category, marked urgent where it
is, and where tapping it goes. Never the pupil's name, nor anything of the account or an
action's text; sensitive categories are named by their family only ("Safeguarding").
"""

import json

from flask import current_app

from server.alerts.models import Alert, Escalation
from server.alerts.operations import alert_summary, category_label, raised_by_incident, unread_count
from server.auth.models import User

# One aes128gcm record: 4,096 bytes less padding, tag and header (PITFALLS: 3,993).
MAX_PAYLOAD_BYTES = 3993


def _path(endpoint: str, **values) -> str:
    """A path on this site, built outside any request (jobs run in a worker)."""
    return current_app.url_map.bind("haven.invalid").build(endpoint, values)


def _incident_path(incident) -> str:
    return _path("incidents.show", number=incident.number)


def for_alert(alert: Alert) -> dict:
    summary = alert_summary(alert)
    urgent = bool(alert.incident.urgent)
    return {
        "title": ("Urgent – " if urgent else "") + summary["title"],
        "body": f"{summary['body']} · {alert.incident.label}",
        "url": _incident_path(alert.incident),
        "tag": f"alert-{alert.id}",
        "urgent": urgent,
    }


ESCALATION_TITLES = {
    "dsl": "Not yet read by a DSL",
    "slt": "Still not read by a DSL",
}


def for_escalation(escalation: Escalation) -> dict:
    incident = escalation.incident
    category = category_label(incident, family_only_if_sensitive=True)
    urgent = bool(incident.urgent)
    return {
        "title": f"{ESCALATION_TITLES[escalation.step]}: {category}",
        "body": f"Raised by {raised_by_incident(incident)} · {incident.label}"
        + (" · Urgent" if urgent else ""),
        "url": _incident_path(incident),
        "tag": f"escalation-{escalation.id}",
        "urgent": True,
    }


def for_transfer_reminder(reminder) -> dict:
    """Never the pupil's name nor the school: only that a transfer still lacks its receipt."""
    return {
        "title": "A transfer has no confirmed receipt",
        "body": "A pupil's file you sent has not been confirmed by the receiving school.",
        "url": _path("transfer.outgoing", transfer_id=reminder.transfer_id),
        "tag": f"transfer-reminder-{reminder.id}",
        "urgent": False,
    }


def for_test() -> dict:
    return {
        "title": "Haven test notification",
        "body": "Notifications work on this device.",
        "url": _path("push.notifications"),
        "tag": "haven-test",
        "urgent": False,
    }


def encode(message: dict, recipient: User) -> str:
    """The JSON the device decrypts; the badge is the recipient's unread count as sent."""
    message = {**message, "badge": unread_count(recipient)}
    text = json.dumps(message, ensure_ascii=False, separators=(",", ":"))
    if len(text.encode()) > MAX_PAYLOAD_BYTES:
        raise ValueError("notification payload too large")
    return text
