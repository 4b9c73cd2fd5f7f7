"""The inbox puts danger first (SPEC §4): unread urgent and Safeguarding alerts, then the other
unread, then read; urgent is marked in words, not colour alone; "entered in error" shows; and
opening an incident is recorded apart from marking it read."""

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from server.alerts import operations
from server.alerts.models import IncidentOpening
from server.auth.models import User
from server.extensions import db
from server.incidents.models import Incident

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _incident(number) -> Incident:
    return db.session.scalar(select(Incident).where(Incident.number == number))


def _inbox_numbers(app, person) -> list[int]:
    with app.app_context():
        page = operations.inbox(db.session.get(User, person.id))
        return [alert.incident.number for alert in page.alerts]


def test_an_urgent_disclosure_comes_before_five_newer_routine_alerts(
    app, school, record_incident, time_machine
):
    time_machine.move_to(START, tick=False)
    read_urgent = record_incident(school.staff, school.ada, urgent=True)
    disclosure = record_incident(
        school.staff,
        school.ada,
        categories=["Cause for concern – Safeguarding disclosure"],
        urgent=True,
    )
    neglect = record_incident(school.dsl, school.ben, categories=["Safeguarding – Neglect"])
    routine = []
    for minute in range(1, 6):
        time_machine.move_to(START + timedelta(minutes=minute), tick=False)
        routine.append(record_incident(school.staff, school.ben, categories=["Behaviour"]))
    time_machine.move_to(START + timedelta(minutes=10), tick=False)
    with app.test_request_context():
        operations.mark_read(db.session.get(User, school.slt.id), _incident(read_urgent))
        db.session.commit()
    order = _inbox_numbers(app, school.slt)
    assert order[:2] == [neglect, disclosure]  # unread danger, newest first
    assert order[2:7] == list(reversed(routine))  # then unread
    assert order[7:] == [read_urgent]  # read last, urgent or not


def test_urgent_is_said_in_words_and_entered_in_error_is_shown(
    app, client, school, record_incident, sign_in, step_up
):
    urgent = record_incident(school.staff, school.ada, urgent=True)
    routine = record_incident(school.staff, school.ben)
    sign_in(school.dsl)
    step_up()
    client.post(
        f"/incidents/{routine}/corrections",
        data={"kind": "entered_in_error", "reason": "Recorded twice"},
    )
    page = client.get("/alerts").get_data(as_text=True)
    urgent_row = page[page.index(f">#{urgent}<") - 400 : page.index(f">#{urgent}<")]
    assert "data-urgent" in urgent_row and "Urgent</strong>" in urgent_row
    routine_row = page[page.index(f">#{routine}<") : page.index(f">#{routine}<") + 600]
    assert "Entered in error" in routine_row


def test_opening_is_recorded_apart_from_marking_read(
    app, client, school, record_incident, sign_in, time_machine
):
    time_machine.move_to(START, tick=False)
    number = record_incident(school.staff, school.ada)
    time_machine.move_to(START + timedelta(minutes=3), tick=False)
    sign_in(school.teacher)
    assert client.get(f"/incidents/{number}").status_code == 200
    client.get(f"/incidents/{number}")  # opening again adds nothing
    with app.app_context():
        openings = db.session.scalars(select(IncidentOpening)).all()
        assert [(o.user_id, o.opened_at) for o in openings] == [
            (school.teacher.id, START + timedelta(minutes=3))
        ]
        assert operations.unread_count(db.session.get(User, school.teacher.id)) == 1
    client.post("/auth/sign-out")
    sign_in(school.staff)  # the author sees opened and read apart
    page = client.get(f"/incidents/{number}").get_data(as_text=True)
    assert "Carl Teacher ·" in page and "not marked as read" in page
    assert "not opened" in page  # the others alerted


def test_someone_never_alerted_opening_it_is_not_an_opening(
    app, client, school, record_incident, sign_in
):
    number = record_incident(school.staff, school.ada)
    sign_in(school.staff)  # the author was not alerted
    client.get(f"/incidents/{number}")
    with app.app_context():
        assert db.session.scalars(select(IncidentOpening)).all() == []
