"""Escalation (SPEC §4): an urgent or Safeguarding incident no DSL has marked read re-alerts
every DSL after 15 minutes and SLT after 30, stops once a DSL reads it, each step once.

The clock is moved, never slept; the sweep is what the rq clock (or the in-process loop) runs.
"""

import json
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError

from server.alerts import escalation
from server.alerts.models import Alert, Escalation
from server.alerts.operations import mark_read
from server.audit.models import AuditEvent
from server.auth.models import User
from server.auth.roles import Role
from server.extensions import db
from server.incidents.models import Incident
from server.push import delivery

START = datetime(2026, 3, 6, 15, 50, tzinfo=UTC)  # a Friday, ten minutes before home time


def _incident(number) -> Incident:
    return db.session.scalar(select(Incident).where(Incident.number == number))


def _sweep_at(app, moment, time_machine) -> dict:
    time_machine.move_to(moment, tick=False)
    with app.app_context():
        return delivery.sweep()


def _steps(app, number) -> list[str]:
    with app.app_context():
        return [e.step for e in escalation.escalations_of(_incident(number))]


@pytest.fixture
def deputy(make_user):
    return make_user(Role.DSL, full_name="Dan Deputy")


def test_an_urgent_incident_nobody_reads_goes_to_every_dsl_then_to_slt(
    app, school, deputy, subscribed, record_incident, time_machine, local_push, deliver_jobs
):
    time_machine.move_to(START, tick=False)
    lead, second, leader = subscribed(school.dsl), subscribed(deputy), subscribed(school.slt)
    number = record_incident(school.staff, school.ada, urgent=True)
    deliver_jobs()
    before = {d.token: len(local_push.to(d)) for d in (lead, second, leader)}

    assert _sweep_at(app, START + timedelta(minutes=14, seconds=59), time_machine)["escalated"] == 0
    assert _sweep_at(app, START + timedelta(minutes=15), time_machine)["escalated"] == 1
    assert _steps(app, number) == ["dsl"]
    for device in (lead, second):
        [message] = local_push.to(device)[before[device.token] :]
        shown = device.decrypt(message)
        assert shown["title"] == "Not yet read by a DSL: Behaviour"
        assert shown["body"] == f"Raised by Tess Assistant · #{number} · Urgent"
        assert shown["url"] == f"/incidents/{number}" and message.urgency == "high"
    assert len(local_push.to(leader)) == before[leader.token]  # not SLT yet

    assert _sweep_at(app, START + timedelta(minutes=29), time_machine)["escalated"] == 0
    assert _sweep_at(app, START + timedelta(minutes=30), time_machine)["escalated"] == 1
    assert _steps(app, number) == ["dsl", "slt"]
    [to_slt] = local_push.received(leader)[before[leader.token] :]
    assert to_slt["title"] == "Still not read by a DSL: Behaviour" and to_slt["urgent"] is True

    # Done: nothing more however long it stays unread.
    assert _sweep_at(app, START + timedelta(hours=5), time_machine)["escalated"] == 0
    with app.app_context():
        audit = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "incident.escalated")
        ).all()
        assert [(json.loads(a.details)["step"], a.actor_label) for a in audit] == [
            ("dsl", "system"),
            ("slt", "system"),
        ]


def test_a_safeguarding_incident_escalates_even_when_not_marked_urgent(
    app, school, record_incident, time_machine
):
    time_machine.move_to(START, tick=False)
    number = record_incident(school.dsl, school.ada, categories=["Safeguarding – Neglect"])
    _sweep_at(app, START + timedelta(minutes=15), time_machine)
    assert _steps(app, number) == ["dsl"]


def test_a_routine_incident_never_escalates(app, school, record_incident, time_machine):
    time_machine.move_to(START, tick=False)
    number = record_incident(school.staff, school.ada)
    _sweep_at(app, START + timedelta(hours=1), time_machine)
    assert _steps(app, number) == []


def test_escalation_stops_once_a_dsl_has_read_it(
    app, school, deputy, record_incident, time_machine
):
    time_machine.move_to(START, tick=False)
    number = record_incident(school.staff, school.ada, urgent=True)
    _sweep_at(app, START + timedelta(minutes=15), time_machine)
    time_machine.move_to(START + timedelta(minutes=20), tick=False)
    with app.test_request_context():
        mark_read(db.session.get(User, deputy.id), _incident(number))
        db.session.commit()
    _sweep_at(app, START + timedelta(minutes=31), time_machine)
    assert _steps(app, number) == ["dsl"]


def test_a_read_by_someone_who_is_not_a_dsl_does_not_stop_it(
    app, school, record_incident, time_machine
):
    time_machine.move_to(START, tick=False)
    number = record_incident(school.staff, school.ada, urgent=True)
    time_machine.move_to(START + timedelta(minutes=5), tick=False)
    with app.test_request_context():
        mark_read(db.session.get(User, school.slt.id), _incident(number))
        db.session.commit()
    _sweep_at(app, START + timedelta(minutes=15), time_machine)
    assert _steps(app, number) == ["dsl"]


def test_escalation_does_not_wait_for_working_hours(app, school, record_incident, time_machine):
    saturday_night = datetime(2026, 3, 7, 23, 40, tzinfo=UTC)
    time_machine.move_to(saturday_night, tick=False)
    number = record_incident(school.staff, school.ada, urgent=True)
    _sweep_at(app, saturday_night + timedelta(minutes=15), time_machine)
    assert _steps(app, number) == ["dsl"]


def test_an_incident_entered_in_error_is_not_escalated(
    app, client, school, record_incident, time_machine, sign_in, step_up
):
    time_machine.move_to(START, tick=False)
    number = record_incident(school.staff, school.ada, urgent=True)
    sign_in(school.dsl)
    step_up()
    response = client.post(
        f"/incidents/{number}/corrections",
        data={"kind": "entered_in_error", "reason": "Wrong child chosen"},
    )
    assert response.status_code == 302
    with app.app_context():
        assert _incident(number).entered_in_error
    # The DSL who corrected it has not marked it read: only the correction stops it.
    _sweep_at(app, START + timedelta(minutes=16), time_machine)
    assert _steps(app, number) == []


def test_each_step_happens_once_however_many_workers_look(
    app, school, deputy, subscribed, record_incident, time_machine, local_push, deliver_jobs
):
    time_machine.move_to(START, tick=False)
    device = subscribed(deputy)
    number = record_incident(school.staff, school.ada, urgent=True)
    deliver_jobs()
    already = len(local_push.to(device))
    time_machine.move_to(START + timedelta(minutes=16), tick=False)
    with app.app_context():
        due = escalation.due_steps()
        incident_id = _incident(number).id
    assert due == [(incident_id, "dsl")]
    # Two workers that both saw it due: the second finds the step taken and does nothing.
    with app.app_context():
        first = escalation.escalate(incident_id, "dsl")
    with app.app_context():
        second = escalation.escalate(incident_id, "dsl")
        delivery.sweep()
    assert first is not None and second is None
    assert len(local_push.to(device)) == already + 1


def test_slt_not_alerted_by_the_rules_get_an_alert_when_escalated_to(
    app, client, school, record_incident, time_machine, sign_in, make_user
):
    time_machine.move_to(START, tick=False)
    # A second leader the office has not been alerted to anything (say, a new head).
    head = make_user(Role.SLT, full_name="Hana Head")
    with app.test_request_context():
        from server.alerts.operations import set_rules
        from server.alerts.rules import DEFAULT_RULES, Event, Reason

        chosen = {event: set(reasons) for event, reasons in DEFAULT_RULES.items()}
        chosen[Event.INCIDENT] -= {Reason.SLT}
        set_rules(chosen, by=db.session.get(User, school.dsl.id))
        db.session.commit()
    number = record_incident(school.staff, school.ada, urgent=True)
    _sweep_at(app, START + timedelta(minutes=30), time_machine)
    with app.app_context():
        reasons = db.session.scalars(select(Alert.reason).where(Alert.user_id == head.id)).all()
    assert reasons == ["escalation"]
    sign_in(head)
    page = client.get("/alerts").get_data(as_text=True)
    assert f"#{number}" in page and "Escalated" in page


def test_the_incident_page_shows_each_step(
    app, client, school, record_incident, time_machine, sign_in
):
    time_machine.move_to(START, tick=False)
    number = record_incident(school.staff, school.ada, urgent=True)
    _sweep_at(app, START + timedelta(minutes=31), time_machine)
    sign_in(school.staff)  # the author
    page = client.get(f"/incidents/{number}").get_data(as_text=True)
    assert "Escalation" in page
    assert 'data-escalation-step="dsl"' in page and 'data-escalation-step="slt"' in page
    assert "Re-alerted every designated safeguarding lead" in page


def test_the_delays_are_configurable(app, school, record_incident, time_machine):
    app.config["ESCALATE_TO_DSL_AFTER"] = timedelta(minutes=5)
    try:
        time_machine.move_to(START, tick=False)
        number = record_incident(school.staff, school.ada, urgent=True)
        _sweep_at(app, START + timedelta(minutes=5), time_machine)
        assert _steps(app, number) == ["dsl"]
    finally:
        app.config["ESCALATE_TO_DSL_AFTER"] = timedelta(minutes=15)


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE escalations SET step = 'slt'",
        "DELETE FROM escalations",
        "UPDATE incident_openings SET opened_at = opened_at",
        "DELETE FROM incident_openings",
    ],
)
def test_escalations_and_openings_are_append_only(
    app, client, school, record_incident, time_machine, sign_in, statement
):
    time_machine.move_to(START, tick=False)
    number = record_incident(school.staff, school.ada, urgent=True)
    _sweep_at(app, START + timedelta(minutes=15), time_machine)
    sign_in(school.slt)
    client.get(f"/incidents/{number}")
    with app.app_context():
        assert db.session.scalar(select(sa.func.count()).select_from(Escalation)) == 1
        with pytest.raises(DBAPIError), db.session.begin_nested():
            db.session.execute(sa.text(statement))
