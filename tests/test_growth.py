"""Growth with the school's history (issue 12): the inbox in keyset pages over the unread set
that triggers keep (`alert_unread`), the menu's count over unread rows only, and an incident's
actions a page at a time. Query counts are held here; timings are in bench/http.py."""

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy import func, select

from server.alerts import operations
from server.alerts.models import Alert, AlertUnread, IncidentRead
from server.auth.models import User
from server.extensions import db
from server.incidents import operations as incidents
from server.incidents.models import Incident, IncidentState
from server.incidents.queries import sensitive_incident
from tests.test_query_budgets import counted

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _incident(number) -> Incident:
    return db.session.scalar(select(Incident).where(Incident.number == number))


def _slowly_counted_unread(user: User) -> int:
    """The definition, asked the slow way: alerts with no reading at or after them."""
    read = (
        select(IncidentRead.id)
        .where(
            IncidentRead.user_id == Alert.user_id,
            IncidentRead.incident_id == Alert.incident_id,
            IncidentRead.read_at >= Alert.created_at,
        )
        .exists()
    )
    query = select(func.count(Alert.id)).where(Alert.user_id == user.id, ~read)
    if not user.can(operations.Permission.SEE_SENSITIVE):
        query = query.where(~sensitive_incident(Alert.incident_id))
    return db.session.scalar(query)


def _history(time_machine, record_incident, school, count: int) -> list[int]:
    numbers = []
    for minute in range(count):
        time_machine.move_to(START + timedelta(minutes=minute), tick=False)
        numbers.append(record_incident(school.staff, school.ben, categories=["Behaviour"]))
    return numbers


def test_the_unread_set_follows_alerts_and_readings(app, school, record_incident, time_machine):
    numbers = _history(time_machine, record_incident, school, 4)
    time_machine.move_to(START + timedelta(hours=1), tick=False)
    with app.test_request_context():
        dsl = db.session.get(User, school.dsl.id)
        assert operations.unread_count(dsl) == _slowly_counted_unread(dsl) == 4
        operations.mark_read(dsl, _incident(numbers[1]))
        db.session.commit()
        assert operations.unread_count(dsl) == _slowly_counted_unread(dsl) == 3
        unread_incidents = db.session.scalars(
            select(AlertUnread.incident_id).where(AlertUnread.user_id == dsl.id)
        ).all()
        assert _incident(numbers[1]).id not in unread_incidents


def test_an_action_after_reading_is_unread_again(app, school, record_incident, time_machine):
    time_machine.move_to(START, tick=False)
    number = record_incident(school.staff, school.ben, categories=["Behaviour"])
    time_machine.move_to(START + timedelta(minutes=5), tick=False)
    with app.test_request_context():
        slt = db.session.get(User, school.slt.id)
        operations.mark_read(slt, _incident(number))
        db.session.commit()
        assert operations.unread_count(slt) == 0
    time_machine.move_to(START + timedelta(minutes=10), tick=False)
    with app.test_request_context():
        incidents.add_action(
            db.session.get(User, school.dsl.id), _incident(number), text="Spoke to mum."
        )
        db.session.commit()
        slt = db.session.get(User, school.slt.id)
        assert operations.unread_count(slt) == _slowly_counted_unread(slt) == 1


def test_the_inbox_pages_cover_every_alert_once_danger_first(
    app, school, record_incident, time_machine, monkeypatch
):
    monkeypatch.setattr(operations, "INBOX_PAGE_SIZE", 2)
    routine = _history(time_machine, record_incident, school, 3)
    time_machine.move_to(START + timedelta(minutes=30), tick=False)
    urgent = record_incident(school.staff, school.ada, urgent=True)
    time_machine.move_to(START + timedelta(hours=1), tick=False)
    with app.test_request_context():
        dsl = db.session.get(User, school.dsl.id)
        operations.mark_read(dsl, _incident(routine[0]))
        db.session.commit()
        seen, after, pages = [], None, 0
        while True:
            page = operations.inbox(dsl, after=after)
            seen += [alert.incident.number for alert in page.alerts]
            pages += 1
            if not page.has_more:
                break
            after = page.next_cursor
        assert seen == [urgent, routine[2], routine[1], routine[0]]
        assert pages == 2
        unread = operations.inbox(dsl, unread_only=True)
        assert [a.incident.number for a in unread.alerts] == [urgent, routine[2]]


def test_a_cursor_that_cannot_be_read_is_refused_not_a_500(app, client, school, sign_in):
    sign_in(school.dsl)
    assert client.get("/alerts?after=nonsense").status_code == 400
    assert client.get("/alerts?after=9.2026-01-01T00:00:00+00:00.1").status_code == 400


def test_the_inbox_page_takes_the_same_queries_however_long_the_history(
    app, client, school, record_incident, sign_in, time_machine, monkeypatch
):
    monkeypatch.setattr(operations, "INBOX_PAGE_SIZE", 3)
    _history(time_machine, record_incident, school, 4)
    time_machine.move_to(START + timedelta(hours=1), tick=False)
    sign_in(school.dsl)
    client.get("/alerts")
    with counted(app) as few:
        assert client.get("/alerts").status_code == 200
    time_machine.move_to(START + timedelta(hours=2), tick=False)
    _history(time_machine, record_incident, school, 6)
    time_machine.move_to(START + timedelta(hours=3), tick=False)
    sign_in(school.dsl)  # the earlier session has long been idle
    client.get("/alerts")
    with counted(app) as many:
        assert client.get("/alerts").status_code == 200
    assert many.count == few.count, str(many)
    assert not any("min(incident_reads.read_at)" in s and "count" in s for s in many)


def test_the_migration_fills_the_unread_set_from_the_history(app, school, record_incident):
    """The upgrade's backfill and the triggers agree with the definition."""
    from importlib import import_module

    record_incident(school.staff, school.ben)
    record_incident(school.staff, school.ada, urgent=True)
    record_incident(school.dsl, school.ben, categories=["Safeguarding – Neglect"])
    migration = import_module("migrations.versions.0010_performance")
    unread = select(AlertUnread.alert_id, AlertUnread.sensitive, AlertUnread.rank)
    with app.app_context():
        kept = set(db.session.execute(unread).all())
        db.session.execute(sa.delete(AlertUnread))
        db.session.execute(sa.text(migration._BACKFILL))
        db.session.execute(sa.text(migration._UNREAD_RANK_BACKFILL))
        rebuilt = set(db.session.execute(unread).all())
        db.session.rollback()
    assert {(sensitive, rank) for _, sensitive, rank in kept} == {(False, 1), (False, 0), (True, 0)}
    assert kept == rebuilt and kept


def _stepped_up_request():
    from flask import g

    from server.auth.models import UserSession
    from server.clock import utcnow

    now = utcnow()
    g.user_session = UserSession(stepped_up_at=now, last_assertion_at=now, review_active_at=now)


def _expected_state(incident: Incident) -> tuple[str, bool]:
    """(workspace status, in error) as the Python model reads them, the record's own answer."""
    status = incident.status
    if status == "open" and incident.agencies:
        status = "referred"
    return status, incident.entered_in_error


def test_incident_state_follows_every_event_and_its_backfill_agrees(app, school, record_incident):
    from importlib import import_module

    mash = school.vocabulary["Children's social care / MASH"]
    n = {
        "open": record_incident(school.staff, school.ada),
        "referred": record_incident(school.staff, school.ben, agency_ids=[mash]),
        "closed": record_incident(school.staff, school.ada),
        "reopened": record_incident(school.staff, school.ada),
        "monitoring": record_incident(school.staff, school.ben),
        "referred_again": record_incident(school.staff, school.ben, agency_ids=[mash]),
        "nfa": record_incident(school.staff, school.ada),
        "error": record_incident(school.staff, school.ada),
    }
    with app.test_request_context():
        _stepped_up_request()
        dsl = db.session.get(User, school.dsl.id)
        incidents.change_status(dsl, _incident(n["closed"]), "closed", "Done.")
        incidents.change_status(dsl, _incident(n["reopened"]), "closed", "Done.")
        incidents.change_status(dsl, _incident(n["reopened"]), "reopened", "More came to light.")
        incidents.change_status(dsl, _incident(n["monitoring"]), "monitoring", "Watching.")
        incidents.change_status(dsl, _incident(n["referred_again"]), "monitoring", "Watching.")
        incidents.change_status(dsl, _incident(n["referred_again"]), "monitoring_ended", "Ok.")
        incidents.change_status(dsl, _incident(n["nfa"]), "no_further_action", "Nothing more.")
        incidents.correct_incident(dsl, _incident(n["error"]), "entered_in_error", "Wrong pupil.")
        db.session.commit()
    migration = import_module("migrations.versions.0010_performance")
    with app.app_context():
        kept = {
            row.incident_id: (row.status, row.in_error)
            for row in db.session.scalars(select(IncidentState))
        }
        expected = {
            incident.id: _expected_state(incident)
            for incident in db.session.scalars(select(Incident))
        }
        assert kept == expected
        assert {kept[_incident(number).id][0] for key, number in n.items() if key != "error"} == {
            "open",
            "referred",
            "closed",
            "monitoring",
            "no_further_action",
        }
        assert kept[_incident(n["referred_again"]).id] == ("referred", False)
        assert kept[_incident(n["error"]).id] == ("open", True)
        db.session.execute(sa.delete(IncidentState))
        db.session.execute(sa.text(migration._STATE_BACKFILL))
        db.session.execute(sa.text(migration._STATE_BACKFILL_STATUS))
        rebuilt = {
            row.incident_id: (row.status, row.in_error)
            for row in db.session.scalars(select(IncidentState))
        }
        db.session.rollback()
    assert rebuilt == kept


def _unread_rows(user_id) -> dict[int, tuple[bool, int]]:
    return {
        row.incident_id: (row.sensitive, row.rank)
        for row in db.session.scalars(select(AlertUnread).where(AlertUnread.user_id == user_id))
    }


def test_the_unread_sections_follow_urgency_and_recategorisation(app, school, record_incident):
    older = record_incident(school.staff, school.ada)
    urgent = record_incident(school.staff, school.ada, urgent=True)
    routine = record_incident(school.staff, school.ada)
    neglect = school.vocabulary["Safeguarding – Neglect"]
    behaviour = school.vocabulary["Behaviour"]
    with app.test_request_context():
        ids = {number: _incident(number).id for number in (older, urgent, routine)}
        assert _unread_rows(school.dsl.id) == {
            ids[older]: (False, 1),
            ids[urgent]: (False, 0),
            ids[routine]: (False, 1),
        }
        _stepped_up_request()
        dsl = db.session.get(User, school.dsl.id)
        teacher = db.session.get(User, school.teacher.id)
        assert older in [a.incident.number for a in operations.inbox(teacher).alerts]
        incidents.correct_incident(
            dsl, _incident(older), "recategorised", "It was neglect.", [behaviour, neglect]
        )
        db.session.commit()
        assert _unread_rows(school.dsl.id)[ids[older]] == (True, 0)
        # The inbox reads its sections from these rows: the re-categorised concern comes first.
        assert [a.incident.number for a in operations.inbox(dsl).alerts] == [
            urgent,
            older,
            routine,
        ]
        # Someone without Safeguarding access no longer counts or sees that alert.
        assert older not in [a.incident.number for a in operations.inbox(teacher).alerts]
        assert operations.unread_count(teacher) == _slowly_counted_unread(teacher)
        assert operations.unread_count(dsl) == _slowly_counted_unread(dsl) == 3
        incidents.correct_incident(
            dsl, _incident(older), "recategorised", "It was not.", [behaviour]
        )
        db.session.commit()
        assert _unread_rows(school.dsl.id)[ids[older]] == (False, 1)
        assert [a.incident.number for a in operations.inbox(dsl).alerts] == [
            urgent,
            routine,
            older,
        ]


def test_the_menu_badge_stops_counting_at_its_cap(
    app, client, school, record_incident, sign_in, monkeypatch
):
    monkeypatch.setattr(operations, "UNREAD_COUNT_CAP", 2)
    for _ in range(4):
        record_incident(school.staff, school.ada)
    with app.app_context():
        assert operations.unread_count(db.session.get(User, school.dsl.id)) == 3
    sign_in(school.dsl)
    assert 'aria-label="2+ unread">2+</span>' in client.get("/").get_data(as_text=True)


def test_the_home_page_counts_up_to_its_cap(
    app, client, school, sign_in, step_up, record_incident, monkeypatch
):
    from server.home import workspace

    monkeypatch.setattr(workspace, "COUNT_CAP", 2)
    for _ in range(3):
        record_incident(school.staff, school.ada)
    with app.test_request_context():
        _stepped_up_request()
        dsl = db.session.get(User, school.dsl.id)
        from flask import g

        counts = workspace.status_counts(workspace._visible(dsl, g.user_session))
    assert counts["open"] is None and counts["closed"] == 0
    sign_in(school.dsl)
    step_up()
    page = client.get("/").get_data(as_text=True)
    tabs = page[page.find("status-tabs") :][:1500]
    assert "Open (2+)" in tabs and "Closed (0)" in tabs, tabs


def test_a_huge_unread_backlog_is_read_a_page_at_a_time(
    app, client, school, record_incident, sign_in, monkeypatch
):
    """Page 1 of the inbox asks the unread set once, LIMITed, however many are unread."""
    monkeypatch.setattr(operations, "INBOX_PAGE_SIZE", 2)
    for _ in range(5):
        record_incident(school.staff, school.ada)
    sign_in(school.dsl)
    client.get("/alerts")
    with counted(app) as statements:
        assert client.get("/alerts").status_code == 200
    unread_reads = [s for s in statements if "FROM alert_unread" in s]
    assert unread_reads and all("LIMIT" in s.upper() for s in unread_reads), str(statements)
    # Everything the page needed was unread: no walk of the read alerts at all.
    assert not any("FROM alerts" in s and "NOT (EXISTS" in s for s in statements), str(statements)


# --- An incident's actions ----------------------------------------------------------------


@pytest.fixture
def long_history(app, school, record_incident):
    number = record_incident(school.staff, school.ada)
    with app.test_request_context():
        for n in range(5):
            incidents.add_action(
                db.session.get(User, school.dsl.id), _incident(number), text=f"Step {n}."
            )
        db.session.commit()
    return number


def test_actions_come_a_page_at_a_time(app, long_history):
    with app.app_context():
        incident = _incident(long_history)
        first = incidents.actions_page(incident, size=2)
        assert [a.text for a in first.actions] == ["Step 0.", "Step 1."] and first.first
        second = incidents.actions_page(incident, first.next_after, size=2)
        third = incidents.actions_page(incident, second.next_after, size=2)
        assert [a.text for a in second.actions + third.actions] == ["Step 2.", "Step 3.", "Step 4."]
        assert third.next_after is None
        assert incidents.actions_page(incident, "not-an-id", size=2).first


def test_the_incident_page_links_to_later_actions(
    app, client, school, sign_in, step_up, long_history, monkeypatch
):
    monkeypatch.setattr(incidents, "ACTIONS_PAGE_SIZE", 2)
    monkeypatch.setattr(incidents.actions_page, "__defaults__", (None, 2))
    sign_in(school.dsl)
    step_up()
    page = client.get(f"/incidents/{long_history}").get_data(as_text=True)
    assert "Step 1." in page and "Step 2." not in page and "Later actions" in page
    with app.app_context():
        after = incidents.actions_page(_incident(long_history), size=2).next_after
    later = client.get(f"/incidents/{long_history}?actions_after={after}").get_data(as_text=True)
    assert "Step 2." in later and "Step 3." in later and "Step 1." not in later
    assert "First actions" in later and "Later actions" in later
