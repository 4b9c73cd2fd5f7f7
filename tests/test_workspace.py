"""The workspace on the home page (issue 10): unread urgent and Safeguarding incidents first,
incidents by status with age, actions assigned to me and overdue, the pupils with most
incidents this half-term; each role within its scope."""

from datetime import date, timedelta

import flask
import pytest
import sqlalchemy as sa
import time_machine

from server.alerts.operations import mark_read
from server.auth.models import User, UserSession
from server.clock import school_today, utcnow
from server.extensions import db
from server.home.workspace import half_term_start, workspace
from server.incidents.models import Incident
from server.incidents.operations import add_action, change_status


def _stepped_up() -> UserSession:
    now = utcnow()
    return UserSession(stepped_up_at=now, last_assertion_at=now, review_active_at=now)


def _incident(number) -> Incident:
    return db.session.scalar(sa.select(Incident).where(Incident.number == number))


def _user(user) -> User:
    return db.session.get(User, user.id)


@pytest.fixture
def caseload(app, school, record_incident, make_pupil):
    mash = school.vocabulary["Children's social care / MASH"]
    # Three days ago, so that actions can fall due since (a due date is never in the past).
    travel = time_machine.travel(utcnow() - timedelta(days=3))
    travel.start()
    n = {
        "urgent": record_incident(school.staff, school.ada, urgent=True),
        "sensitive": record_incident(school.dsl, school.ben, categories=["Safeguarding – Neglect"]),
        "ordinary": record_incident(school.staff, school.ada),
        "referred": record_incident(school.staff, school.ben, agency_ids=[mash]),
        "closed": record_incident(school.teacher, school.ada),
        "nfa": record_incident(school.other_teacher, school.ben),
    }
    with app.test_request_context():
        flask.g.user_session = _stepped_up()
        dsl = _user(school.dsl)
        change_status(dsl, _incident(n["closed"]), "closed", "Done.")
        change_status(dsl, _incident(n["nfa"]), "no_further_action", "Nothing more.")
        add_action(
            dsl,
            _incident(n["ordinary"]),
            "Call the family.",
            assignee_id=str(school.pastoral.id),
            due_on=school_today() + timedelta(days=1),
        )
        add_action(
            dsl,
            _incident(n["referred"]),
            "Chase MASH for outcome.",
            assignee_id=str(school.dsl.id),
            due_on=school_today() + timedelta(days=6),
        )
        add_action(  # overdue but its incident is closed: not overdue work
            dsl,
            _incident(n["closed"]),
            "Check in next week.",
            assignee_id=str(school.dsl.id),
            due_on=school_today() + timedelta(days=2),
        )
        db.session.commit()
    travel.stop()
    school.n = n
    return school


def _work(app, who, unlocked=True, status="open"):
    with app.test_request_context():
        session_row = _stepped_up() if unlocked else None
        return workspace(_user(who), session_row, status)


def test_the_dsls_unread_urgent_and_safeguarding_come_first(app, caseload):
    work = _work(app, caseload.dsl)
    # The dsl wrote the Safeguarding one, so was not alerted to it: only the urgent one.
    assert [i.number for i in work.unread_priority] == [caseload.n["urgent"]]
    slt = _work(app, caseload.slt)
    assert {i.number for i in slt.unread_priority} == {
        caseload.n["urgent"],
        caseload.n["sensitive"],
    }
    with app.test_request_context():
        mark_read(_user(caseload.slt), _incident(caseload.n["urgent"]), _stepped_up())
        db.session.commit()
    assert [i.number for i in _work(app, caseload.slt).unread_priority] == [caseload.n["sensitive"]]


def test_incidents_by_status_with_counts(app, caseload):
    work = _work(app, caseload.dsl)
    assert work.status_counts == {
        "open": 3,
        "monitoring": 0,
        "referred": 1,
        "closed": 1,
        "no_further_action": 1,
    }
    n = caseload.n
    assert [i.number for i in work.by_status] == [n["urgent"], n["sensitive"], n["ordinary"]]
    referred = _work(app, caseload.dsl, status="referred")
    assert [i.number for i in referred.by_status] == [n["referred"]]


def test_actions_assigned_to_me_and_overdue(app, caseload):
    dsl = _work(app, caseload.dsl)
    assert [a.text for a in dsl.assigned_to_me] == [
        "Check in next week.",  # soonest due first
        "Chase MASH for outcome.",
    ]
    assert [a.text for a in dsl.overdue] == ["Call the family."]
    pastoral = _work(app, caseload.pastoral)
    assert [a.text for a in pastoral.assigned_to_me] == ["Call the family."]


def test_pupils_with_most_incidents_this_half_term(app, caseload, record_incident):
    work = _work(app, caseload.dsl)
    assert [(pupil.id, count) for pupil, count in work.top_pupils] == [
        (caseload.ada, 3),
        (caseload.ben, 3),
    ]
    record_incident(caseload.staff, caseload.ben)
    work = _work(app, caseload.dsl)
    assert [(pupil.id, count) for pupil, count in work.top_pupils][0] == (caseload.ben, 4)


def test_half_terms():
    assert half_term_start(date(2025, 10, 20)) == date(2025, 9, 1)
    assert half_term_start(date(2025, 11, 20)) == date(2025, 11, 1)
    assert half_term_start(date(2026, 1, 5)) == date(2026, 1, 1)
    assert half_term_start(date(2026, 3, 5)) == date(2026, 2, 19)
    assert half_term_start(date(2026, 7, 5)) == date(2026, 6, 1)


def test_a_class_teacher_sees_their_class_and_nothing_sensitive(app, caseload):
    work = _work(app, caseload.teacher)
    n = caseload.n
    assert work.status_counts == {
        "open": 2,
        "monitoring": 0,
        "referred": 0,
        "closed": 1,
        "no_further_action": 0,
    }
    assert [pupil.id for pupil, _ in work.top_pupils] == [caseload.ada]
    other = _work(app, caseload.other_teacher)
    # Ben's class: the referral and the one they wrote; never the Safeguarding incident.
    assert other.status_counts == {
        "open": 0,
        "monitoring": 0,
        "referred": 1,
        "closed": 0,
        "no_further_action": 1,
    }
    assert n["sensitive"] not in {i.number for i in other.unread_priority}


def test_without_step_up_only_what_one_wrote_or_was_alerted_to(app, caseload):
    work = _work(app, caseload.other_teacher, unlocked=False)
    # Alerted to Ben's referral (their class) and author of the "no further action" one.
    assert work.status_counts == {
        "open": 0,
        "monitoring": 0,
        "referred": 1,
        "closed": 0,
        "no_further_action": 1,
    }


def test_the_home_page_shows_the_lists(client, sign_in, step_up, caseload):
    sign_in(caseload.dsl)
    step_up()
    page = client.get("/").get_data(as_text=True)
    assert "Unread: urgent and Safeguarding" in page
    assert f'href="/incidents/{caseload.n["urgent"]}"' in page
    assert "Open (3)" in page and "Referred (1)" in page
    assert "Call the family." in page and f'href="/pupils/{caseload.ada}"' in page


def _change(app, caseload, name, kind, note="Noted."):
    with app.test_request_context():
        flask.g.user_session = _stepped_up()
        change_status(_user(caseload.dsl), _incident(caseload.n[name]), kind, note)
        db.session.commit()


def test_monitored_incidents_are_counted_listed_and_their_actions_can_be_overdue(app, caseload):
    n = caseload.n
    _change(app, caseload, "ordinary", "monitoring")
    _change(app, caseload, "referred", "monitoring")
    work = _work(app, caseload.dsl, status="monitoring")
    # A monitored referral counts as monitoring: the dsl chose to watch it.
    assert work.status_counts == {
        "open": 2,
        "monitoring": 2,
        "referred": 0,
        "closed": 1,
        "no_further_action": 1,
    }
    assert [i.number for i in work.by_status] == [n["ordinary"], n["referred"]]  # oldest first
    assert [a.text for a in work.overdue] == ["Call the family."]
    _change(app, caseload, "ordinary", "monitoring_ended")
    work = _work(app, caseload.dsl, status="monitoring")
    assert (work.status_counts["open"], work.status_counts["monitoring"]) == (3, 1)
    assert [a.text for a in work.overdue] == ["Call the family."]
    _change(app, caseload, "ordinary", "monitoring")
    _change(app, caseload, "ordinary", "closed")
    assert _work(app, caseload.dsl).overdue == []


def test_the_home_page_lists_monitored_incidents(client, sign_in, step_up, app, caseload):
    _change(app, caseload, "ordinary", "monitoring")
    sign_in(caseload.dsl)
    step_up()
    page = client.get("/", query_string={"status": "monitoring"}).get_data(as_text=True)
    assert "Open (2)" in page and "Monitoring (1)" in page and "Referred (1)" in page
    listed = page.split('id="status-heading"')[1].split("</section>")[0]
    assert f'href="/incidents/{caseload.n["ordinary"]}"' in listed
    assert f'href="/incidents/{caseload.n["urgent"]}"' not in listed
    assert "Call the family." in page  # its overdue action


def test_the_office_sees_no_incident_lists(client, sign_in, caseload):
    sign_in(caseload.admin)
    page = client.get("/").get_data(as_text=True)
    assert "Incidents by status" not in page and "Quill" not in page and "Marsh" not in page


def test_the_workspace_costs_the_same_queries_however_many_incidents(
    app, caseload, record_incident
):
    from tests.test_chronology import _statements_while

    def build():
        work = workspace(_user(caseload.dsl), _stepped_up())
        for incident in work.unread_priority + work.by_status:
            _ = ([c.full_name for c in incident.categories], incident.pupil.display_name)
        for action in work.assigned_to_me + work.overdue:
            _ = (action.incident.label, action.assignee and action.assignee.full_name)

    small = _statements_while(app, build)
    with time_machine.travel(utcnow() - timedelta(minutes=5)):
        for _ in range(12):
            record_incident(caseload.staff, caseload.ada, urgent=True)
    assert _statements_while(app, build) == small
