"""After submission (SPEC §3): actions, status events and dsl corrections, all appended."""

import re
from datetime import date, timedelta

import flask
import pytest
import sqlalchemy as sa

from server.alerts.models import Alert
from server.audit.models import AuditEvent
from server.auth.models import User, UserSession
from server.auth.roles import Role
from server.clock import school_today, utcnow
from server.extensions import db
from server.incidents.errors import IncidentRefused
from server.incidents.models import Action, Incident, IncidentEvent
from server.incidents.operations import (
    add_action,
    change_status,
    correct_incident,
    incident_by_number,
    require_may_add_action,
    require_may_change_status,
    require_may_correct,
)

JSON = {"Accept": "application/json"}


def rows(app, model) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count(model.id)))


def audit_actions(app) -> list[str]:
    with app.app_context():
        return list(db.session.scalars(sa.select(AuditEvent.action).order_by(AuditEvent.id)))


# --- Actions ------------------------------------------------------------------------------


def test_author_adds_actions_which_appear_in_order(app, client, sign_in, school, record_incident):
    number = record_incident(school.staff, school.ada)
    sign_in(school.staff)
    first = client.post(f"/incidents/{number}/actions", data={"text": "Told the class teacher."})
    assert first.status_code == 302
    # Back to the page at the message, which sits beside the form that was used.
    assert first.headers["Location"].endswith(f"/incidents/{number}#action-done")
    client.get(f"/incidents/{number}")  # the first message shown, once
    client.post(f"/incidents/{number}/actions", data={"text": "Outcome: mum informed at 3:15."})
    page = client.get(f"/incidents/{number}").get_data(as_text=True)
    actions = page[page.index('id="actions"') : page.index('id="add-action"')]
    assert 'id="action-done"' in actions and "Action added." in actions
    assert page.count("Action added.") == 1  # not also at the top of the page
    assert page.index("Told the class teacher.") < page.index("Outcome: mum informed at 3:15.")
    assert "action.created" in audit_actions(app)


def test_action_with_assignee_and_due_date_alerts_the_assignee(
    app, client, sign_in, school, record_incident
):
    number = record_incident(school.staff, school.ada)
    sign_in(school.teacher)
    with app.app_context():
        due = school_today() + timedelta(days=2)
    response = client.post(
        f"/incidents/{number}/actions",
        data={
            "text": "Check in with Ada after lunch.",
            "assignee_id": str(school.pastoral.id),
            "due_on": due.isoformat(),
        },
    )
    assert response.status_code == 302
    with app.app_context():
        action = db.session.scalars(sa.select(Action)).one()
        assert (action.assignee_id, action.due_on, action.author_id) == (
            school.pastoral.id,
            due,
            school.teacher.id,
        )
        alerted = set(
            db.session.scalars(sa.select(Alert.user_id).where(Alert.action_id == action.id))
        )
        assert {school.pastoral.id, school.staff.id, school.slt.id} <= alerted
        assert school.teacher.id not in alerted


def test_action_on_behalf_of_someone_without_an_account(
    app, client, sign_in, school, record_incident
):
    number = record_incident(school.staff, school.ada)
    sign_in(school.teacher)
    client.post(
        f"/incidents/{number}/actions",
        data={
            "text": "Ada seemed happier.",
            "on_behalf_name": "Vi Volunteer",
            "on_behalf_role": "Reader",
        },
    )
    page = client.get(f"/incidents/{number}").get_data(as_text=True)
    assert "on behalf of Vi Volunteer (Reader)" in page


ACTION_REFUSALS = [
    ({"text": "  "}, "text"),
    ({"text": "x", "due_on": (date(2000, 1, 1)).isoformat()}, "due_on"),
    ({"text": "x", "due_on": "31/02/2026"}, "due_on"),
    ({"text": "x", "assignee_id": "999999"}, "assignee_id"),
    ({"text": "x", "assignee_id": "abc"}, "assignee_id"),
    ({"text": "x", "assignee_id": "9" * 40}, "assignee_id"),
    ({"text": "x", "assignee_id": str(2**63)}, "assignee_id"),
    ({"text": "x", "assignee_id": str(2**31)}, "assignee_id"),
    ({"text": "x", "assignee_id": "²"}, "assignee_id"),
    ({"text": "x", "assignee_id": "0"}, "assignee_id"),
    ({"text": "x", "due_on": "0001-01-01"}, "due_on"),
    ({"text": "x", "on_behalf_name": "Vi"}, "on_behalf"),
]


@pytest.mark.parametrize("data, field", ACTION_REFUSALS)
def test_bad_actions_are_refused_and_nothing_is_written(
    app, client, sign_in, school, record_incident, data, field
):
    number = record_incident(school.staff, school.ada)
    sign_in(school.staff)
    response = client.post(f"/incidents/{number}/actions", data=data, headers=JSON)
    assert response.status_code == 422
    assert field in response.get_json()["fields"]
    assert rows(app, Action) == 0


def test_a_refused_action_on_the_page_keeps_what_was_typed(
    client, sign_in, school, record_incident
):
    number = record_incident(school.staff, school.ada)
    sign_in(school.staff)
    response = client.post(
        f"/incidents/{number}/actions",
        data={"text": "Rang mum; no answer.", "due_on": "2001-01-01"},
    )
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert 'id="due_on-error">The due date cannot be in the past.' in page
    assert "Rang mum; no answer.</textarea>" in page
    assert f"#{number}" in page


def test_a_refused_status_change_on_the_page_says_why(client, sign_in, school, record_incident):
    number = record_incident(school.staff, school.ada)
    sign_in(school.slt)
    response = client.post(f"/incidents/{number}/status", data={"kind": "closed", "note": ""})
    assert response.status_code == 422
    assert "Write a note saying why." in response.get_data(as_text=True)


def test_a_sensitive_incident_cannot_be_assigned_to_someone_who_may_not_see_it(
    app, client, sign_in, school, record_incident
):
    number = record_incident(school.dsl, school.ada, categories=["Safeguarding – Neglect"])
    sign_in(school.dsl)
    response = client.post(
        f"/incidents/{number}/actions",
        data={"text": "Tell Carl.", "assignee_id": str(school.teacher.id)},
        headers=JSON,
    )
    assert response.status_code == 422
    assert rows(app, Action) == 0
    page = client.get(f"/incidents/{number}").get_data(as_text=True)
    assignees = page.split('id="assignee_id"')[1].split("</select>")[0]
    assert "Carl Teacher" not in assignees and "Sam Leader" in assignees


def test_add_action_domain_function_checks_who_may_see_it(app, school, record_incident):
    number = record_incident(school.staff, school.ada)
    with app.test_request_context():
        incident = incident_by_number(number)
        with pytest.raises(IncidentRefused) as refused:
            add_action(db.session.get(User, school.other_teacher.id), incident, "Nosy.")
        assert refused.value.status == 403
        action = add_action(db.session.get(User, school.teacher.id), incident, "Seen.")
        assert action.incident is incident and action.author.id == school.teacher.id


# --- Status -------------------------------------------------------------------------------


def test_close_reopen_and_no_further_action_are_appended(
    app, client, sign_in, school, record_incident
):
    number = record_incident(school.staff, school.ada)
    sign_in(school.pastoral)
    steps = [
        ("closed", "Resolved with parents.", "closed"),
        ("reopened", "Ada raised it again.", "open"),
        ("no_further_action", "Checked: nothing more to do.", "no_further_action"),
    ]
    for kind, note, status in steps:
        response = client.post(f"/incidents/{number}/status", data={"kind": kind, "note": note})
        assert response.status_code == 302
        with app.test_request_context():
            assert incident_by_number(number).status == status
    page = client.get(f"/incidents/{number}").get_data(as_text=True)
    for _, note, _ in steps:
        assert note in page
    assert rows(app, IncidentEvent) == 3
    assert audit_actions(app).count("incident.status_changed") == 3


STATUS_REFUSALS = [
    ({"kind": "closed", "note": ""}, "note"),
    ({"kind": "deleted", "note": "x"}, "kind"),
    ({"kind": "reopened", "note": "It is open already."}, "kind"),
]


@pytest.mark.parametrize("data, field", STATUS_REFUSALS)
def test_bad_status_changes_are_refused(app, client, sign_in, school, record_incident, data, field):
    number = record_incident(school.staff, school.ada)
    sign_in(school.slt)
    response = client.post(f"/incidents/{number}/status", data=data, headers=JSON)
    assert response.status_code == 422
    assert field in response.get_json()["fields"]
    assert rows(app, IncidentEvent) == 0


def test_closing_twice_is_refused(app, school, record_incident):
    number = record_incident(school.staff, school.ada)
    with app.test_request_context():
        slt = db.session.get(User, school.slt.id)
        incident = incident_by_number(number)
        change_status(slt, incident, "closed", "Done.")
        with pytest.raises(IncidentRefused):
            change_status(slt, incident, "closed", "Done again.")


# --- Monitoring: an open concern being watched ---------------------------------------------


def _event_and_audit_rows(app) -> tuple[int, int]:
    return rows(app, IncidentEvent), rows(app, AuditEvent)


def test_monitoring_is_entered_from_open_and_left_by_closing_or_stopping(
    app, school, record_incident
):
    first = record_incident(school.staff, school.ada)
    second = record_incident(school.staff, school.ada)
    with app.test_request_context():
        slt = db.session.get(User, school.slt.id)
        incident = incident_by_number(first)
        steps = [
            ("monitoring", "Watch for a month.", "monitoring"),
            ("monitoring_ended", "New concern raised: needs action.", "open"),
            ("monitoring", "Calmer again; watching.", "monitoring"),
            ("closed", "A month without concern.", "closed"),
            ("reopened", "It happened again.", "open"),
        ]
        for kind, note, status in steps:
            event = change_status(slt, incident, kind, note)
            assert (event.kind, event.note, incident.status) == (kind, note, status)
        other = incident_by_number(second)
        change_status(slt, other, "monitoring", "Watching.")
        change_status(slt, other, "no_further_action", "Nothing more to do.")
        assert other.status == "no_further_action"
        db.session.commit()
    assert audit_actions(app).count("incident.status_changed") == 7


MONITORING_REFUSALS = [
    # (changes that lead there, the change refused, what the refusal says)
    ([], "monitoring_ended", "This incident is not being monitored."),
    (["monitoring"], "monitoring", "This incident is already being monitored."),
    (["monitoring"], "reopened", "choose Stop monitoring instead"),
    (["closed"], "monitoring", "reopen it before monitoring it"),
    (["no_further_action"], "monitoring", "reopen it first"),
    (["closed"], "monitoring_ended", "This incident is not being monitored."),
    (["monitoring", "closed"], "monitoring_ended", "This incident is not being monitored."),
]


@pytest.mark.parametrize("before, kind, message", MONITORING_REFUSALS)
def test_monitoring_changes_that_do_not_apply_are_refused_and_write_nothing(
    app, school, record_incident, before, kind, message
):
    number = record_incident(school.staff, school.ada)
    with app.test_request_context():
        slt = db.session.get(User, school.slt.id)
        incident = incident_by_number(number)
        for earlier in before:
            change_status(slt, incident, earlier, "Earlier.")
        db.session.commit()
        status = incident.status
    counted = _event_and_audit_rows(app)
    with app.test_request_context():
        incident = incident_by_number(number)
        with pytest.raises(IncidentRefused) as refused:
            change_status(db.session.get(User, school.slt.id), incident, kind, "Try it.")
        assert message in refused.value.message
        assert refused.value.fields == {"kind": refused.value.message}
        db.session.commit()
        assert incident_by_number(number).status == status
    assert _event_and_audit_rows(app) == counted


def _status_choices(page: str) -> list[str]:
    form = page.split('id="change-status"')[1].split("</form>")[0]
    return re.findall(r'<input [^>]*name="kind"[^>]*type="radio" value="([^"]+)"', form)


def test_the_status_form_offers_only_the_changes_that_apply(
    app, client, sign_in, school, record_incident
):
    number = record_incident(school.staff, school.ada)
    sign_in(school.pastoral)
    page = client.get(f"/incidents/{number}").get_data(as_text=True)
    assert _status_choices(page) == ["closed", "no_further_action", "monitoring"]
    response = client.post(
        f"/incidents/{number}/status", data={"kind": "monitoring", "note": "Watch at lunchtimes."}
    )
    assert response.status_code == 302
    page = client.get(f"/incidents/{number}").get_data(as_text=True)
    assert 'data-status="monitoring"' in page and "Monitoring started" in page
    assert "Watch at lunchtimes." in page
    assert _status_choices(page) == ["closed", "no_further_action", "monitoring_ended"]
    assert "Stop monitoring (back to open)" in page
    client.post(f"/incidents/{number}/status", data={"kind": "closed", "note": "All well."})
    page = client.get(f"/incidents/{number}").get_data(as_text=True)
    assert _status_choices(page) == ["reopened"]
    assert rows(app, IncidentEvent) == 2
    assert audit_actions(app).count("incident.status_changed") == 2


def test_stopping_monitoring_through_the_page_returns_the_incident_to_open(
    app, client, sign_in, school, record_incident
):
    number = record_incident(school.staff, school.ada)
    sign_in(school.slt)
    client.post(f"/incidents/{number}/status", data={"kind": "monitoring", "note": "Watch."})
    response = client.post(
        f"/incidents/{number}/status", data={"kind": "monitoring_ended", "note": "Needs action."}
    )
    assert response.status_code == 302
    page = client.get(f"/incidents/{number}").get_data(as_text=True)
    assert 'data-status="open"' in page and "Monitoring stopped" in page
    with app.test_request_context():
        assert incident_by_number(number).status == "open"


@pytest.mark.parametrize("json", [True, False], ids=["json", "page"])
def test_a_refused_monitoring_change_over_http_says_why_and_writes_nothing(
    app, client, sign_in, school, record_incident, json
):
    number = record_incident(school.staff, school.ada)
    sign_in(school.slt)
    client.post(f"/incidents/{number}/status", data={"kind": "monitoring", "note": "Watch."})
    events, audited = rows(app, IncidentEvent), audit_actions(app)
    response = client.post(
        f"/incidents/{number}/status",
        data={"kind": "reopened", "note": "Reopen it."},
        headers=JSON if json else {},
    )
    assert response.status_code == 422
    if json:
        assert "choose Stop monitoring instead" in response.get_json()["fields"]["kind"]
    else:
        page = response.get_data(as_text=True)
        assert "choose Stop monitoring instead" in page
        assert _status_choices(page) == ["closed", "no_further_action", "monitoring_ended"]
    assert rows(app, IncidentEvent) == events
    # Showing the page again is a view of the record, audited as such; no change was written.
    assert audit_actions(app)[len(audited) :] == ([] if json else ["incident.viewed"])


def test_status_needs_sight_of_the_incident(client, sign_in, school, make_user, record_incident):
    number = record_incident(school.staff, school.ada)
    sign_in(make_user(Role.DSL, full_name="Dee Later"))  # a dsl since: not alerted, no step-up
    response = client.post(f"/incidents/{number}/status", data={"kind": "closed", "note": "x"})
    assert response.status_code == 403


def test_staff_cannot_change_status(client, sign_in, school, record_incident):
    number = record_incident(school.staff, school.ada)
    sign_in(school.staff)
    response = client.post(f"/incidents/{number}/status", data={"kind": "closed", "note": "x"})
    assert response.status_code == 403


# --- Corrections --------------------------------------------------------------------------


def _snapshot(app, number) -> dict:
    with app.test_request_context():
        incident = incident_by_number(number)
        return {
            column.name: getattr(incident, column.key) for column in Incident.__table__.columns
        } | {"categories": [c.id for c in incident.original_categories]}


def test_dsl_marks_entered_in_error_and_the_original_stays(
    app, client, sign_in, step_up, school, record_incident
):
    number = record_incident(school.staff, school.ada)
    before = _snapshot(app, number)
    sign_in(school.dsl)
    step_up()
    response = client.post(
        f"/incidents/{number}/corrections",
        data={"kind": "entered_in_error", "reason": "Recorded against the wrong Ada."},
    )
    assert response.status_code == 302
    assert _snapshot(app, number) == before
    dsl_page = client.get(f"/incidents/{number}").get_data(as_text=True)
    assert "Marked as entered in error" in dsl_page
    assert "Recorded against the wrong Ada." in dsl_page
    assert "incident.corrected" in audit_actions(app)
    client.post("/auth/sign-out")
    sign_in(school.teacher)
    teacher_page = client.get(f"/incidents/{number}").get_data(as_text=True)
    assert "Marked as entered in error" in teacher_page
    assert "Recorded against the wrong Ada." not in teacher_page
    again = client.post(
        f"/incidents/{number}/corrections", data={"kind": "entered_in_error", "reason": "x"}
    )
    assert again.status_code == 403


def test_entered_in_error_twice_is_refused(app, client, sign_in, step_up, school, record_incident):
    number = record_incident(school.staff, school.ada)
    sign_in(school.dsl)
    step_up()
    data = {"kind": "entered_in_error", "reason": "Duplicate of another record."}
    client.post(f"/incidents/{number}/corrections", data=data)
    response = client.post(f"/incidents/{number}/corrections", data=data, headers=JSON)
    assert response.status_code == 422
    assert rows(app, IncidentEvent) == 1


def test_recategorising_keeps_the_original_categories(
    app, client, sign_in, step_up, school, record_incident
):
    disclosure = "Cause for concern – Safeguarding disclosure"
    number = record_incident(school.staff, school.ada, categories=[disclosure])
    sign_in(school.dsl)
    step_up()
    neglect = school.vocabulary["Safeguarding – Neglect"]
    client.post(
        f"/incidents/{number}/corrections",
        data={"kind": "recategorised", "reason": "Neglect.", "category_ids": [str(neglect)]},
    )
    with app.test_request_context():
        incident = incident_by_number(number)
        assert [c.id for c in incident.categories] == [neglect]
        assert [c.full_name for c in incident.original_categories] == [disclosure]
        assert incident.is_sensitive
    page = client.get(f"/incidents/{number}").get_data(as_text=True)
    assert f"First recorded as: {disclosure}" in page


CORRECTION_REFUSALS = [
    ({"kind": "recategorised", "reason": "x"}, "category_ids"),
    ({"kind": "recategorised", "reason": "x", "category_ids": ["999999"]}, "category_ids"),
    ({"kind": "recategorised", "reason": "x", "category_ids": ["{behaviour}"]}, "category_ids"),
    ({"kind": "recategorised", "reason": "x", "category_ids": ["²"]}, "category_ids"),
    ({"kind": "recategorised", "reason": "x", "category_ids": ["9" * 40]}, "category_ids"),
    ({"kind": "recategorised", "reason": "x", "category_ids": [str(2**63)]}, "category_ids"),
    ({"kind": "entered_in_error", "reason": " "}, "reason"),
    ({"kind": "erased", "reason": "x"}, "kind"),
]


@pytest.mark.parametrize("data, field", CORRECTION_REFUSALS)
def test_bad_corrections_are_refused(
    app, client, sign_in, step_up, school, record_incident, data, field
):
    number = record_incident(school.staff, school.ada)
    sign_in(school.dsl)
    step_up()
    if "category_ids" in data:
        data = {
            **data,
            "category_ids": [
                v.format(behaviour=school.vocabulary["Behaviour"]) for v in data["category_ids"]
            ],
        }
    response = client.post(f"/incidents/{number}/corrections", data=data, headers=JSON)
    assert response.status_code == 422
    assert field in response.get_json()["fields"]
    assert rows(app, IncidentEvent) == 0


def test_corrections_need_a_fresh_passkey_assertion(app, client, sign_in, school, record_incident):
    number = record_incident(school.staff, school.ada, extra_recipient_ids=[school.dsl.id])
    sign_in(school.dsl)
    page = client.get(f"/incidents/{number}").get_data(as_text=True)
    assert "Corrections need you to have confirmed it is you with your passkey" in page
    response = client.post(
        f"/incidents/{number}/corrections",
        data={"kind": "entered_in_error", "reason": "Wrong child."},
        headers=JSON,
    )
    assert response.status_code == 403
    assert "passkey" in response.get_json()["message"]
    assert rows(app, IncidentEvent) == 0


def test_only_dsl_may_correct(client, sign_in, step_up, school, record_incident):
    number = record_incident(school.staff, school.ada)
    sign_in(school.slt)
    step_up()
    response = client.post(
        f"/incidents/{number}/corrections", data={"kind": "entered_in_error", "reason": "x"}
    )
    assert response.status_code == 403


def test_an_assignee_id_that_is_not_an_id_gets_its_own_message(
    client, sign_in, school, record_incident
):
    number = record_incident(school.staff, school.ada)
    sign_in(school.staff)
    response = client.post(
        f"/incidents/{number}/actions", data={"text": "x", "assignee_id": "9" * 40}, headers=JSON
    )
    assert response.status_code == 422
    assert response.get_json()["fields"] == {
        "assignee_id": "That is not a valid member of staff. Choose from the list."
    }


def test_a_dsl_correction_with_a_category_that_is_not_an_id_is_shown_on_the_page(
    app, client, sign_in, step_up, school, record_incident
):
    number = record_incident(school.staff, school.ada)
    sign_in(school.dsl)
    step_up()
    response = client.post(
        f"/incidents/{number}/corrections",
        data={"kind": "recategorised", "reason": "Wrong family.", "category_ids": ["²"]},
    )
    assert response.status_code == 422
    assert "That is not a valid category." in response.get_data(as_text=True)
    assert rows(app, IncidentEvent) == 0


def _stepped_up_session() -> UserSession:
    """A session row (never saved) that has just been stepped up with a passkey."""
    now = utcnow()
    return UserSession(stepped_up_at=now, last_assertion_at=now, review_active_at=now)


def test_domain_functions_refuse_ids_that_are_not_ids(app, school, record_incident):
    number = record_incident(school.staff, school.ada)
    with app.test_request_context():
        incident = incident_by_number(number)
        staff = db.session.get(User, school.staff.id)
        for bad in ("9" * 40, 10**30, "²", 2**31):
            with pytest.raises(IncidentRefused) as refused:
                add_action(staff, incident, "Rang home.", assignee_id=bad)
            assert refused.value.status == 422 and "assignee_id" in refused.value.fields
        flask.g.user_session = _stepped_up_session()
        dsl = db.session.get(User, school.dsl.id)
        for bad in (["9" * 40], [10**30], ["²"]):
            with pytest.raises(IncidentRefused) as refused:
                correct_incident(dsl, incident, "recategorised", "Wrong.", category_ids=bad)
            assert refused.value.fields["category_ids"].startswith("That is not a valid category")
    assert rows(app, Action) == 0 and rows(app, IncidentEvent) == 0


# --- Someone who may not see the incident: 403 before anything they sent is read ----------

# (route, data) with a value that fails to parse or check, as an outsider might send it.
OUTSIDER_POSTS = [
    ("actions", {"text": "Spoke to Ada.", "due_on": "not-a-date"}),
    ("actions", {"text": "Spoke to Ada.", "assignee_id": "²"}),
    ("actions", {"text": "Spoke to Ada.", "assignee_id": "9" * 40}),
    ("actions", {"text": ""}),
    ("status", {"kind": "closed", "note": ""}),
    ("status", {"kind": "deleted", "note": "x"}),
    ("corrections", {"kind": "recategorised", "reason": "x", "category_ids": ["²"]}),
    ("corrections", {"kind": "recategorised", "reason": "x", "category_ids": ["9" * 40]}),
    ("corrections", {"kind": "erased", "reason": ""}),
]
# Who may not post there: another class's teacher (no step-up would help), and a dsl who
# took the role after it was recorded, so was not alerted, before a step-up (review would
# let them in once they confirm it is them).
OUTSIDERS = ["other_teacher", "late_dsl"]


@pytest.mark.parametrize("as_json", [False, True], ids=["page", "json"])
@pytest.mark.parametrize("who", OUTSIDERS)
@pytest.mark.parametrize("route, data", OUTSIDER_POSTS)
def test_an_outsider_gets_403_whatever_the_form_holds(
    app, client, sign_in, school, make_user, record_incident, route, data, who, as_json
):
    number = record_incident(school.staff, school.ada)
    school.late_dsl = make_user(Role.DSL, full_name="Dee Later")
    sign_in(getattr(school, who))
    before = audit_actions(app)
    headers = JSON if as_json else {}
    response = client.post(f"/incidents/{number}/{route}", data=data, headers=headers)
    assert response.status_code == 403, response.get_data(as_text=True)[:500]
    text = response.get_data(as_text=True)
    assert "Said: “I fell off the climbing frame.”" not in text  # nothing of the incident
    assert rows(app, Action) == 0 and rows(app, IncidentEvent) == 0
    assert audit_actions(app) == before


@pytest.mark.parametrize(
    "check",
    [
        lambda user, incident: require_may_add_action(user, incident),
        lambda user, incident: require_may_change_status(user, incident),
        lambda user, incident: require_may_correct(user, incident),
    ],
    ids=["add action", "change status", "correct"],
)
def test_the_permission_checks_the_views_ask_first_refuse_an_outsider(
    app, school, record_incident, check
):
    number = record_incident(school.staff, school.ada)
    with app.test_request_context():
        incident = incident_by_number(number)
        with pytest.raises(IncidentRefused) as refused:
            check(db.session.get(User, school.other_teacher.id), incident)
        assert refused.value.status == 403
