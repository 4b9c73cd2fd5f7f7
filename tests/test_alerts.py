"""Alerts (SPEC §4 in-app, §1): who is alerted, the inbox, marking as read, the content rule.

The fixtures `school` and `record_incident` (tests/conftest.py) record through the real
`submit_incident`, so these tests see the alerts exactly as a submission makes them.
"""

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy import func, select
from sqlalchemy.exc import DBAPIError, IntegrityError

from server.alerts import operations
from server.alerts.models import Alert, IncidentRead
from server.alerts.operations import AlertError, AlertRefused
from server.alerts.rules import DEFAULT_RULES, Event, Reason
from server.audit.models import AuditEvent
from server.auth.models import User
from server.auth.roles import Role
from server.extensions import db
from server.incidents.models import Action, Category, Incident, IncidentEvent
from server.pupils.models import Pupil

START = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
ACCOUNT_WORDS = "Said: “I fell off the climbing frame.” Graze on the left knee."
NEGLECT = "Safeguarding – Neglect"
DISCLOSURE = "Cause for concern – Safeguarding disclosure"


def user(person) -> User:
    return db.session.get(User, person.id)


def incident(number: int) -> Incident:
    return db.session.scalar(select(Incident).where(Incident.number == number))


def reasons(app, number: int, action_id=None) -> dict[str, str]:
    """{recipient's full name: reason} for an incident's (or one action's) alerts."""
    with app.app_context():
        query = select(User.full_name, Alert.reason).join(Alert.user).join(Alert.incident)
        query = query.where(Incident.number == number)
        query = query.where(
            Alert.action_id.is_(None) if action_id is None else Alert.action_id == action_id
        )
        return dict(db.session.execute(query).all())


def alert_count(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Alert))


def alert_id(app, person, number: int) -> int:
    with app.app_context():
        return db.session.scalar(
            select(Alert.id)
            .join(Alert.incident)
            .where(Alert.user_id == person.id, Incident.number == number)
        )


def bare_incident(school, author, category: str = "Behaviour") -> Incident:
    """An incident row with no alerts yet, for calling the alert functions directly."""
    found = Incident(
        number=9001,
        uuid="0d9e7c0e-7d55-4bb0-a3f5-1f3c5e0c9001",
        content_hash="0" * 64,
        pupil_id=school.ada,
        occurred_at=datetime.now(UTC),
        account=ACCOUNT_WORDS,
        parents_contacted="yes",
        medical_attention="not_needed",
        author_id=author.id,
        original_categories=[db.session.get(Category, school.vocabulary[category])],
    )
    db.session.add(found)
    db.session.flush()
    return found


# --- Who is alerted ----------------------------------------------------------------------


def test_an_incident_alerts_dsl_slt_pastoral_and_the_pupils_class_teacher(
    app, school, record_incident
):
    number = record_incident(school.staff, school.ada)
    assert reasons(app, number) == {
        "Dee Lead": "dsl",
        "Sam Leader": "slt",
        "Pat Pastoral": "pastoral",
        "Carl Teacher": "class_teacher",
    }


def test_a_linked_pupils_class_teacher_is_not_alerted(app, school, record_incident):
    """SPEC §4 "the pupil's class teacher(s)", §1 a class teacher sees only their own class: an
    alert would let Ben's teacher read everything written about Ada, so none is made."""
    number = record_incident(school.staff, school.ada, linked_pupil_ids=[school.ben])
    found = reasons(app, number)
    assert found["Carl Teacher"] == "class_teacher"
    assert "Orla Teacher" not in found
    sensitive = record_incident(
        school.dsl, school.ada, categories=[NEGLECT], linked_pupil_ids=[school.ben]
    )
    assert "Orla Teacher" not in reasons(app, sensitive)


def test_create_incident_alerts_asks_only_the_incidents_own_pupil(app_context, school):
    found = bare_incident(school, school.staff)
    found.linked_pupils.append(db.session.get(Pupil, school.ben))
    made = operations.create_incident_alerts(found)
    assert school.other_teacher.id not in {a.user_id for a in made}
    assert {a.user_id: a.reason for a in made}[school.teacher.id] == "class_teacher"


@pytest.mark.parametrize("stepped_up", [False, True])
def test_a_linked_pupils_class_teacher_cannot_open_the_incident(
    client, school, sign_in, step_up, record_incident, stepped_up
):
    number = record_incident(school.staff, school.ada, linked_pupil_ids=[school.ben])
    sign_in(school.other_teacher)
    if stepped_up:
        step_up()  # review covers only their own class, and Ada is not in it
    page = client.get(f"/incidents/{number}")
    assert page.status_code == 403
    assert "Ada" not in page.get_data(as_text=True)
    assert "climbing" not in page.get_data(as_text=True)
    api = client.get(f"/incidents/{number}", headers={"Accept": "application/json"})
    assert api.status_code == 403
    assert "Ada" not in api.get_data(as_text=True)
    assert f"#{number}<" not in client.get("/alerts").get_data(as_text=True)


def test_an_action_alerts_only_the_incidents_own_pupils_class_teacher(
    app_context, school, record_incident
):
    """Even when the class teacher is added to the action rule (a DSL's decision)."""
    operations.set_rules(
        {**DEFAULT_RULES, Event.ACTION: DEFAULT_RULES[Event.ACTION] | {Reason.CLASS_TEACHER}},
        by=user(school.dsl),
    )
    number = record_incident(school.staff, school.ada, linked_pupil_ids=[school.ben])
    action = Action(incident=incident(number), author=user(school.pastoral), text="Called home.")
    db.session.add(action)
    made = {a.user_id: a.reason for a in operations.create_action_alerts(action)}
    assert made[school.teacher.id] == "class_teacher"
    assert school.other_teacher.id not in made


def test_the_author_is_not_alerted_about_their_own_incident(app, school, record_incident):
    number = record_incident(school.teacher, school.ada, extra_recipient_ids=[school.teacher.id])
    assert "Carl Teacher" not in reasons(app, number)
    assert set(reasons(app, number)) == {"Dee Lead", "Sam Leader", "Pat Pastoral"}


def test_disabled_accounts_are_never_alerted(app, school, make_user, record_incident):
    make_user(Role.SLT, full_name="Former Leader", active=False)
    number = record_incident(school.staff, school.ada)
    assert "Former Leader" not in reasons(app, number)


def test_a_chosen_person_disabled_since_is_skipped_not_refused(app_context, school, make_user):
    """An offline draft may name someone who has left by the time it is sent: the incident
    must still be saved (the API itself refuses a disabled name chosen online)."""
    gone = make_user(Role.STAFF, full_name="Former Assistant", active=False)
    made = operations.create_incident_alerts(
        bare_incident(school, school.staff), [gone.id, school.other_teacher.id]
    )
    assert {a.user_id: a.reason for a in made} == {
        school.dsl.id: "dsl",
        school.slt.id: "slt",
        school.pastoral.id: "pastoral",
        school.teacher.id: "class_teacher",
        school.other_teacher.id: "chosen",
    }


def test_chosen_individuals_are_alerted(app, school, make_user, record_incident):
    helper = make_user(Role.STAFF, full_name="Hal Helper")
    number = record_incident(
        school.staff, school.ada, extra_recipient_ids=[school.other_teacher.id, helper.id]
    )
    found = reasons(app, number)
    assert found["Orla Teacher"] == "chosen" and found["Hal Helper"] == "chosen"


def test_someone_alerted_automatically_and_chosen_gets_one_alert(app, school, record_incident):
    number = record_incident(school.staff, school.ada, extra_recipient_ids=[school.teacher.id])
    assert reasons(app, number)["Carl Teacher"] == "class_teacher"
    with app.app_context():
        rows = db.session.scalar(select(func.count()).where(Alert.user_id == school.teacher.id))
    assert rows == 1


@pytest.mark.parametrize("category", [NEGLECT, "Safeguarding – Prevent"])
def test_a_sensitive_incident_alerts_only_dsl_slt_and_pastoral(
    app, school, make_user, record_incident, category
):
    make_user(Role.DSL, full_name="Dan Deputy")
    number = record_incident(school.dsl, school.ada, categories=[category])
    # The dsl wrote it, so is not alerted; the class teacher never is.
    assert reasons(app, number) == {
        "Dan Deputy": "dsl",
        "Sam Leader": "slt",
        "Pat Pastoral": "pastoral",
    }


def test_a_class_teacher_who_is_also_dsl_is_alerted_as_dsl(
    app, school, make_user, make_class, make_pupil, record_incident
):
    head = make_user(Role.CLASS_TEACHER, Role.DSL, full_name="Hana Head")
    pupil = make_pupil("Cal", "Rowe", class_id=make_class("6A", "6", teachers=[head]))
    number = record_incident(school.dsl, pupil, categories=[NEGLECT])
    assert reasons(app, number)["Hana Head"] == "dsl"
    ordinary = record_incident(school.staff, pupil)
    assert reasons(app, ordinary)["Hana Head"] == "dsl"  # one alert, under the first reason


@pytest.mark.parametrize("who", ["teacher", "staff", "other_teacher"])
def test_a_sensitive_incident_refuses_a_chosen_person_who_may_not_see_it(
    app, client, school, sign_in, who
):
    """Through the real API: 422 with the message, and nothing saved."""
    before = alert_count(app)
    sign_in(school.dsl)
    chosen = getattr(school, who)
    response = client.post(
        "/api/incidents",
        json={
            "uuid": "5b3c1a52-0f7e-4d0a-9c56-6d1de5d8a001",
            "pupil_id": school.ada,
            "occurred_at": datetime.now(UTC).replace(microsecond=0).isoformat(),
            "location": "Library",
            "account": ACCOUNT_WORDS,
            "parents_contacted": "not_yet",
            "parents_reason": "Advised not to yet.",
            "medical_attention": "not_needed",
            "category_ids": [school.vocabulary[NEGLECT]],
            "extra_recipient_ids": [chosen.id],
        },
    )
    assert response.status_code == 422
    message = response.get_json()["message"]
    assert chosen.full_name in message and "may not see Safeguarding incidents" in message
    assert alert_count(app) == before
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Incident)) == 0


def test_create_incident_alerts_refuses_before_writing(app_context, school):
    found = bare_incident(school, school.dsl, NEGLECT)
    with pytest.raises(AlertRefused) as refused:
        operations.create_incident_alerts(found, [school.slt.id, school.teacher.id])
    assert "Carl Teacher may not see Safeguarding incidents" in refused.value.message
    assert refused.value.status == 422
    assert db.session.scalar(select(func.count()).select_from(Alert)) == 0


@pytest.mark.parametrize(
    "who, reason",
    [("admin", "Account "), ("staff", "may not see Safeguarding incidents")],
)
def test_create_incident_alerts_refuses_whoever_may_not_see_it(app_context, school, who, reason):
    with pytest.raises(AlertRefused) as refused:
        operations.create_incident_alerts(
            bare_incident(school, school.dsl, NEGLECT), [getattr(school, who).id]
        )
    assert reason in refused.value.message


def test_a_disclosure_recorded_by_staff_is_not_sensitive(app, school, record_incident):
    """Staff record "Cause for concern – Safeguarding disclosure": the ordinary rules apply."""
    number = record_incident(school.staff, school.ada, categories=[DISCLOSURE])
    assert "Carl Teacher" in reasons(app, number)


def test_a_disclosure_by_a_teaching_assistant_reaches_a_dsl_with_no_other_role(
    app, client, school, make_user, sign_in, record_incident
):
    """Policy step 4: staff put a disclosure under Cause for concern, never Safeguarding; the
    every-incident rule must still bring it to each designated (and deputy) safeguarding lead."""
    deputy = make_user(Role.DSL, full_name="Dan Deputy")
    number = record_incident(school.staff, school.ada, categories=[DISCLOSURE])
    found = reasons(app, number)
    assert found["Dan Deputy"] == "dsl" and found["Dee Lead"] == "dsl"
    sign_in(deputy)
    inbox = client.get("/alerts").get_data(as_text=True)
    assert f"#{number}<" in inbox and "Safeguarding disclosure" in inbox
    assert client.get(f"/incidents/{number}").status_code == 200  # alerted: no step-up needed


def test_an_action_alerts_slt_pastoral_the_author_and_the_assignee(app, school, record_incident):
    from server.incidents.operations import add_action

    number = record_incident(school.staff, school.ada)
    with app.test_request_context():
        action = add_action(
            user(school.pastoral),
            incident(number),
            "Spoke to parents at pick-up.",
            assignee_id=school.teacher.id,
        )
        db.session.commit()
        action_id = action.id
    assert reasons(app, number, action_id) == {
        "Carl Teacher": "assignee",
        "Tess Assistant": "author",
        "Sam Leader": "slt",
    }  # not Pat Pastoral, who added it


def test_an_action_added_on_the_incident_page_alerts_the_assignee(
    app, client, school, sign_in, record_incident
):
    number = record_incident(school.staff, school.ada)
    sign_in(school.slt)
    response = client.post(
        f"/incidents/{number}/actions",
        data={"text": "Please check in with her after lunch.", "assignee_id": school.teacher.id},
    )
    assert response.status_code == 302
    with app.app_context():
        action_id = db.session.scalar(select(Action.id).where(Action.author_id == school.slt.id))
    assert reasons(app, number, action_id) == {
        "Carl Teacher": "assignee",
        "Tess Assistant": "author",
        "Pat Pastoral": "pastoral",
    }
    client.post("/auth/sign-out")
    sign_in(school.teacher)
    page = client.get("/alerts").get_data(as_text=True)
    assert "New action" in page and "Sam Leader" in page
    assert "check in with her" not in page


def test_an_action_on_a_sensitive_incident_never_alerts_who_may_not_see_it(
    app_context, school, record_incident
):
    number = record_incident(school.dsl, school.ada, categories=[NEGLECT])
    found = incident(number)
    # Written directly: the incidents feature refuses such an assignee before this point.
    action = Action(
        incident=found, author=user(school.slt), text="Noted.", assignee_id=school.staff.id
    )
    db.session.add(action)
    alerts = operations.create_action_alerts(action)
    assert {a.user_id: a.reason for a in alerts} == {
        school.dsl.id: "author",
        school.pastoral.id: "pastoral",
    }


def test_an_alert_is_never_duplicated(app_context, school, record_incident):
    number = record_incident(school.staff, school.ada)
    found = incident(number)
    with pytest.raises(IntegrityError), db.session.begin_nested():
        db.session.add(Alert(user_id=school.slt.id, incident_id=found.id, reason="slt"))
        db.session.flush()


def test_an_action_alert_is_never_duplicated(app_context, school, record_incident):
    number = record_incident(school.staff, school.ada)
    found = incident(number)
    action = Action(incident=found, author=user(school.pastoral), text="Called home.")
    db.session.add(action)
    operations.create_action_alerts(action)
    with pytest.raises(IntegrityError), db.session.begin_nested():
        operations.create_action_alerts(action)


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE alerts SET reason = 'chosen'",
        "DELETE FROM alerts",
        "UPDATE incident_reads SET read_at = read_at",
        "DELETE FROM incident_reads",
    ],
)
def test_alerts_and_reads_are_append_only_in_the_database(
    app_context, school, record_incident, statement
):
    number = record_incident(school.staff, school.ada)
    operations.mark_read(user(school.slt), incident(number))
    with pytest.raises(DBAPIError), db.session.begin_nested():
        db.session.execute(sa.text(statement))


# --- Reading -----------------------------------------------------------------------------


def test_mark_read_records_who_and_when_and_is_audited(app, school, record_incident, time_machine):
    time_machine.move_to(START, tick=False)
    number = record_incident(school.staff, school.ada)
    time_machine.move_to(START + timedelta(minutes=7), tick=False)
    with app.test_request_context():
        found = incident(number)
        assert [p["user"].full_name for p in operations.not_yet_read(found)] == [
            "Carl Teacher",
            "Dee Lead",
            "Pat Pastoral",
            "Sam Leader",
        ]
        operations.mark_read(user(school.teacher), found)
        db.session.commit()
    with app.app_context():
        found = incident(number)
        assert [(p["user"].full_name, p["read_at"]) for p in operations.readers(found)] == [
            ("Carl Teacher", START + timedelta(minutes=7))
        ]
        assert "Carl Teacher" not in [p["user"].full_name for p in operations.not_yet_read(found)]
        audit = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "incident.marked_read")
        ).one()
        assert audit.actor_user_id == school.teacher.id and audit.object_id == str(found.id)


def test_reading_again_adds_nothing_until_something_new_is_alerted(
    app, school, record_incident, time_machine
):
    time_machine.move_to(START, tick=False)
    number = record_incident(school.staff, school.ada)
    with app.test_request_context():
        found, teacher = incident(number), user(school.teacher)
        first = operations.mark_read(teacher, found)
        time_machine.shift(timedelta(minutes=1))
        assert operations.mark_read(teacher, found).id == first.id
        time_machine.shift(timedelta(minutes=1))
        action = Action(
            incident=found, author=user(school.pastoral), text="Follow up.", assignee_id=teacher.id
        )
        db.session.add(action)
        operations.create_action_alerts(action)
        assert operations.unread_count(teacher) == 1
        assert operations.read_state(teacher, found) is None
        time_machine.shift(timedelta(minutes=1))
        assert operations.mark_read(teacher, found).id != first.id
        assert operations.unread_count(teacher) == 0
        assert operations.readers(found)[0]["read_at"] == START  # the first reading stands
        assert db.session.scalar(select(func.count()).select_from(IncidentRead)) == 2


def test_reading_does_not_remove_access(app, client, school, sign_in, record_incident):
    number = record_incident(school.staff, school.ada)
    sign_in(school.teacher)
    response = client.post(f"/alerts/incident/{number}/read", data={"next": f"/incidents/{number}"})
    assert response.status_code == 302 and response.headers["Location"] == f"/incidents/{number}"
    with app.app_context():
        assert operations.was_alerted(user(school.teacher), incident(number))
    assert client.get(f"/incidents/{number}").status_code == 200


def test_someone_who_may_not_see_it_cannot_mark_it_read(
    app, client, school, sign_in, record_incident
):
    number = record_incident(school.staff, school.ada)
    with app.test_request_context(), pytest.raises(AlertError) as refused:
        operations.mark_read(user(school.other_teacher), incident(number))
    assert refused.value.status == 403
    sign_in(school.other_teacher)
    assert client.post(f"/alerts/incident/{number}/read").status_code == 403
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(IncidentRead)) == 0


def test_a_user_cannot_mark_anothers_alert(app, client, school, sign_in, record_incident):
    number = record_incident(school.staff, school.ada)
    theirs = alert_id(app, school.slt, number)
    sign_in(school.pastoral)
    assert client.post(f"/alerts/{theirs}/read").status_code == 404
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(IncidentRead)) == 0


def test_marking_ones_own_alert_read_from_the_inbox(app, client, school, sign_in, record_incident):
    number = record_incident(school.staff, school.ada)
    sign_in(school.slt)
    response = client.post(f"/alerts/{alert_id(app, school.slt, number)}/read")
    assert response.status_code == 302 and response.headers["Location"] == "/alerts"
    with app.app_context():
        assert [p["user"].full_name for p in operations.readers(incident(number))] == ["Sam Leader"]


def test_mark_read_answers_json_to_a_script(client, school, sign_in, record_incident):
    number = record_incident(school.staff, school.ada)
    sign_in(school.pastoral)
    response = client.post(
        f"/alerts/incident/{number}/read", headers={"Accept": "application/json"}
    )
    assert response.status_code == 200
    body = response.get_json()
    assert body["incident"] == number and body["read_at"]


def test_mark_read_needs_the_csrf_token(client, school, sign_in, record_incident):
    number = record_incident(school.staff, school.ada)
    sign_in(school.pastoral)
    assert client.post(f"/alerts/incident/{number}/read", csrf=False).status_code == 400


# --- The inbox ---------------------------------------------------------------------------


def test_the_inbox_lists_unread_first_then_newest(
    app, client, school, sign_in, record_incident, time_machine
):
    time_machine.move_to(START, tick=False)
    oldest = record_incident(school.staff, school.ada)
    time_machine.shift(timedelta(minutes=5))
    middle = record_incident(school.staff, school.ada)
    time_machine.shift(timedelta(minutes=5))
    newest = record_incident(school.staff, school.ada)
    time_machine.shift(timedelta(minutes=5))
    with app.test_request_context():
        operations.mark_read(user(school.slt), incident(newest))
        db.session.commit()
    with app.app_context():
        order = [a.incident.number for a in operations.inbox(user(school.slt)).alerts]
    assert order == [middle, oldest, newest]
    sign_in(school.slt)
    page = client.get("/alerts").get_data(as_text=True)
    positions = [page.index(f"#{n}<") for n in (middle, oldest, newest)]
    assert positions == sorted(positions)


def test_the_inbox_never_shows_the_childs_name_or_the_account(
    client, school, sign_in, record_incident
):
    number = record_incident(school.staff, school.ada, linked_pupil_ids=[school.ben], urgent=True)
    sign_in(school.slt)
    response = client.get("/alerts")
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    assert f"#{number}" in page and "Tess Assistant" in page and "Behaviour" in page
    assert "Urgent" in page
    for word in ("Ada", "Quill", "Ben", "Marsh", "climbing", "Graze", "knee", "Playground"):
        assert word not in page, word


def test_the_inbox_filters_unread_and_by_category_family(
    app, client, school, sign_in, record_incident
):
    behaviour = record_incident(school.staff, school.ada, categories=["Behaviour"])
    bullying = record_incident(school.staff, school.ada, categories=["Bullying"])
    sensitive = record_incident(school.dsl, school.ada, categories=[NEGLECT])
    with app.test_request_context():
        operations.mark_read(user(school.slt), incident(behaviour))
        db.session.commit()
        slt = user(school.slt)
        safeguarding = db.session.scalar(
            select(Category.id).where(Category.name == "Safeguarding", Category.parent_id.is_(None))
        )
        unread = [a.incident.number for a in operations.inbox(slt, unread_only=True).alerts]
        family = [a.incident.number for a in operations.inbox(slt, family_id=safeguarding).alerts]
    assert sorted(unread) == sorted([bullying, sensitive])
    assert family == [sensitive]
    sign_in(school.slt)
    page = client.get("/alerts?show=unread").get_data(as_text=True)
    assert f"#{bullying}<" in page and f"#{behaviour}<" not in page
    page = client.get(f"/alerts?show=all&family={safeguarding}").get_data(as_text=True)
    assert f"#{sensitive}<" in page and f"#{bullying}<" not in page


def test_the_inbox_refuses_an_unknown_filter(client, school, sign_in):
    sign_in(school.staff)
    assert client.get("/alerts?family=999999").status_code == 400
    assert client.get("/alerts?show=everything").status_code == 400


def test_staff_cannot_filter_by_the_safeguarding_family(client, school, sign_in):
    sign_in(school.teacher)
    page = client.get("/alerts").get_data(as_text=True)
    assert "Safeguarding<" not in page


def test_an_incident_recategorised_as_sensitive_leaves_a_class_teachers_inbox(
    app, client, school, sign_in, record_incident
):
    number = record_incident(school.staff, school.ada, categories=[DISCLOSURE])
    ordinary = record_incident(school.staff, school.ada, categories=["Attendance"])
    with app.test_request_context():
        assert operations.unread_count(user(school.teacher)) == 2
        event = IncidentEvent(
            incident=incident(number),
            kind="recategorised",
            note="A disclosure of neglect.",
            author=user(school.dsl),
            categories=[db.session.get(Category, school.vocabulary[NEGLECT])],
        )
        db.session.add(event)
        db.session.commit()
    with app.app_context():
        assert operations.unread_count(user(school.teacher)) == 1
        left = operations.inbox(user(school.teacher)).alerts
        assert [alert.incident.number for alert in left] == [ordinary]
        assert operations.unread_count(user(school.slt)) == 2
    sign_in(school.teacher)
    page = client.get("/alerts").get_data(as_text=True)
    assert f"#{number}<" not in page and f"#{ordinary}<" in page


def test_the_nav_shows_the_unread_count(client, school, sign_in, record_incident):
    record_incident(school.staff, school.ada)
    record_incident(school.staff, school.ada)
    sign_in(school.teacher)
    page = client.get("/").get_data(as_text=True)
    assert 'aria-label="2 unread"' in page


def test_the_nav_has_no_alerts_link_for_the_office(client, school, sign_in):
    sign_in(school.admin)
    assert 'data-nav="alerts"' not in client.get("/").get_data(as_text=True)


# --- What a notification may say (SPEC §4 content rule) ----------------------------------


@pytest.mark.parametrize(
    "category, expected", [("Behaviour", "Behaviour"), (NEGLECT, "Safeguarding")]
)
def test_alert_summary_names_who_and_the_category_and_nothing_else(
    app_context, school, record_incident, category, expected
):
    number = record_incident(
        school.dsl,
        school.ada,
        categories=[category],
        linked_pupil_ids=[school.ben],
        on_behalf={"name": "Mo Volunteer", "role": "Reading volunteer"},
    )
    alert = db.session.scalars(
        select(Alert).join(Alert.incident).where(Incident.number == number)
    ).first()
    summary = operations.alert_summary(alert)
    assert set(summary) == {"title", "body"}
    text = " ".join(summary.values())
    assert expected in text and "Dee Lead" in text
    assert "Neglect" not in text
    for word in ["Ada", "Quill", "Ben", "Marsh", "Playground", *ACCOUNT_WORDS.split()]:
        if word.strip("“”.:,") in {"on", "the", "I", "off"}:
            continue
        assert word.strip("“”.:,") not in text, word


def test_action_alert_summary_leaves_out_the_actions_text(app_context, school, record_incident):
    number = record_incident(school.staff, school.ada)
    action = Action(
        incident=incident(number), author=user(school.pastoral), text="Ada told me about Marsh."
    )
    db.session.add(action)
    alert = operations.create_action_alerts(action)[0]
    summary = operations.alert_summary(alert)
    assert summary == {"title": "New action: Behaviour", "body": "Added by Pat Pastoral"}


def test_the_incident_page_offers_mark_as_read_then_shows_when(
    app, client, school, sign_in, record_incident, time_machine
):
    time_machine.move_to(START, tick=False)
    number = record_incident(school.staff, school.ada)
    sign_in(school.teacher)
    page = client.get(f"/incidents/{number}").get_data(as_text=True)
    assert f'action="/alerts/incident/{number}/read"' in page and "Mark as read" in page
    response = client.post(f"/alerts/incident/{number}/read", data={"next": f"/incidents/{number}"})
    assert response.headers["Location"] == f"/incidents/{number}"
    page = client.get(f"/incidents/{number}").get_data(as_text=True)
    assert "Read ✓ on 30 Nov 2026" in page and "Mark as read" not in page
    assert 'aria-label="1 unread"' not in page


def test_the_author_sees_who_has_and_has_not_read_it(client, school, sign_in, record_incident):
    number = record_incident(school.staff, school.ada)
    sign_in(school.teacher)
    client.post(f"/alerts/incident/{number}/read")
    client.post("/auth/sign-out")
    sign_in(school.staff)
    page = client.get(f"/incidents/{number}").get_data(as_text=True)
    readers = page[page.index("Who has read it") :]
    assert "Carl Teacher" in readers.split("Alerted, not yet read")[0]
    assert "Sam Leader" in readers.split("Alerted, not yet read")[1]


def test_a_reviewer_who_was_not_alerted_may_mark_it_read(
    app, client, school, make_user, sign_in, step_up, record_incident
):
    """A dsl reviewing an incident counts as having read it (escalation will ask this)."""
    number = record_incident(school.staff, school.ada)
    newcomer = make_user(Role.DSL, full_name="Nia Newcomer")  # joined after it was alerted
    sign_in(newcomer)
    assert client.post(f"/alerts/incident/{number}/read").status_code == 403  # not unlocked
    step_up()
    assert client.post(f"/alerts/incident/{number}/read").status_code == 302
    with app.app_context():
        found = incident(number)
        assert [p["user"].full_name for p in operations.readers(found)] == ["Nia Newcomer"]
        assert not operations.was_alerted(user(newcomer), found)
