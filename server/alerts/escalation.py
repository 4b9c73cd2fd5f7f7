"""Escalation (SPEC §4): an urgent incident, or one in a Safeguarding category, that no DSL has
marked as read is re-alerted to every DSL with high urgency after 15 minutes, then to SLT after
30 (both configurable, counted from when it was recorded). It never waits for working hours, and
stops once a DSL has marked it read; an incident marked "entered in error" is not escalated.

Each step is one `escalations` row, unique per incident and step: with several workers, the one
whose insert commits escalates, the others find the row and do nothing. The step, its alert
rows for anyone not yet alerted, its deliveries and its audit entry commit together.
"""

import logging
from datetime import datetime

from flask import current_app
from sqlalchemy import exists, or_, select
from sqlalchemy.exc import IntegrityError

from server.alerts.models import Alert, Escalation, IncidentRead
from server.alerts.rules import Reason, users_with_role
from server.audit.operations import record
from server.auth.models import User, UserRole
from server.auth.roles import Role
from server.clock import utcnow
from server.extensions import db
from server.incidents.models import Incident
from server.incidents.queries import sensitive_incident
from server.push.outbox import queue_for_users

log = logging.getLogger(__name__)

STEPS = (("dsl", Role.DSL, "ESCALATE_TO_DSL_AFTER"), ("slt", Role.SLT, "ESCALATE_TO_SLT_AFTER"))
STEP_LABELS = {
    "dsl": "Re-alerted every designated safeguarding lead",
    "slt": "Alerted senior leadership",
}


def read_by_a_dsl(incident_id):
    """SQL: someone who is a DSL has marked the incident read."""
    return exists().where(
        IncidentRead.incident_id == incident_id,
        IncidentRead.user_id == UserRole.user_id,
        UserRole.role == Role.DSL.value,
    )


def due_steps(now: datetime | None = None) -> list[tuple[int, str]]:
    """(incident id, step) pairs whose time has come and that have not happened."""
    now = now or utcnow()
    config = current_app.config
    earliest = now - config["ESCALATION_WINDOW"]
    due = []
    for step, _role, setting in STEPS:
        done = exists().where(Escalation.incident_id == Incident.id, Escalation.step == step)
        ids = db.session.scalars(
            select(Incident.id).where(
                Incident.created_at >= earliest,
                Incident.created_at <= now - config[setting],
                or_(Incident.urgent.is_(True), sensitive_incident(Incident.id)),
                ~read_by_a_dsl(Incident.id),
                ~done,
            )
        )
        due.extend((incident_id, step) for incident_id in ids)
    return due


def escalate_due(now: datetime | None = None) -> list[Escalation]:
    done = []
    for incident_id, step in due_steps(now):
        escalation = escalate(incident_id, step)
        if escalation is not None:
            done.append(escalation)
    return done


def escalate(incident_id: int, step: str) -> Escalation | None:
    """Take one step and commit it; None if it was already taken (here or by another worker)
    or no longer applies."""
    incident = db.session.get(Incident, incident_id)
    if incident is None or incident.entered_in_error:
        return None
    if db.session.scalar(select(read_by_a_dsl(incident_id))):
        return None
    role = dict((name, role) for name, role, _setting in STEPS)[step]
    recipients = users_with_role(role)
    escalation = Escalation(
        incident_id=incident_id, step=step, recipients=len(recipients), created_at=utcnow()
    )
    try:
        db.session.add(escalation)
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        return None
    _alert_those_not_yet_alerted(incident, recipients)
    queue_for_users(
        [user.id for user in recipients], high_urgency=True, escalation_id=escalation.id
    )
    record(
        "incident.escalated",
        object_type="incident",
        object_id=incident.id,
        actor_label="system",
        details={"number": incident.number, "step": step, "recipients": len(recipients)},
    )
    try:
        db.session.commit()
    except IntegrityError:
        # Another worker took the same step first (PostgreSQL reports it at commit).
        db.session.rollback()
        return None
    log.info("incident %s escalated to %s (%d people)", incident.number, step, len(recipients))
    return escalation


def _alert_those_not_yet_alerted(incident: Incident, recipients: list[User]) -> None:
    """Someone escalated to who had no alert gets one, so it is in their inbox (and theirs to
    read, as any alert makes it)."""
    already = set(
        db.session.scalars(
            select(Alert.user_id).where(Alert.incident_id == incident.id, Alert.action_id.is_(None))
        )
    )
    now = utcnow()
    for user in recipients:
        if user.id not in already:
            db.session.add(
                Alert(
                    user_id=user.id,
                    incident_id=incident.id,
                    reason=Reason.ESCALATION.value,
                    created_at=now,
                )
            )
    db.session.flush()


def escalations_of(incident: Incident) -> list[Escalation]:
    return list(
        db.session.scalars(
            select(Escalation)
            .where(Escalation.incident_id == incident.id)
            .order_by(Escalation.created_at, Escalation.id)
        )
    )
