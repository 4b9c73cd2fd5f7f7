"""The alert rules (SPEC §4) and the admin's page for them: defaults, limits, audit, effect."""

import re

import pytest
from sqlalchemy import select

from server.alerts import operations, rules
from server.alerts.models import AlertRule
from server.alerts.operations import AlertError
from server.alerts.rules import DEFAULT_RULES, Event, Reason
from server.audit.models import AuditEvent
from server.auth.models import User
from server.auth.roles import Role
from server.extensions import db

NEGLECT = "Safeguarding – Neglect"


def user(person) -> User:
    return db.session.get(User, person.id)


def preview_names(author, school, category: str, extras=()) -> tuple[dict, dict]:
    preview = operations.preview_recipients(
        user(author), [school.ada], [school.vocabulary[category]], [p.id for p in extras]
    )
    return (
        {item["name"]: item["reason"] for item in preview.recipients},
        {item["name"]: item["reason"] for item in preview.refused},
    )


@pytest.fixture
def admin_client(client, school, sign_in, step_up):
    sign_in(school.admin)
    step_up()
    return client


def rule_rows(app) -> set[tuple[str, str]]:
    with app.app_context():
        return {(row.event, row.recipient) for row in db.session.scalars(select(AlertRule))}


# --- The rules themselves ----------------------------------------------------------------


def test_the_migration_seeds_the_default_rules(app_context):
    assert rules.current_rules() == DEFAULT_RULES
    assert rules.install_default_rules() is False  # already there


def test_every_incident_reaches_the_dsl_by_default():
    """A "Cause for concern – Safeguarding disclosure" is not sensitive: only this rule brings
    it to a deputy DSL who is neither slt nor pastoral (policy step 4)."""
    assert Reason.DSL in DEFAULT_RULES[Event.INCIDENT]
    assert rules.rule_refusal(Event.INCIDENT, Reason.DSL) is None


def test_a_class_teacher_is_never_alerted_to_a_safeguarding_incident():
    assert rules.class_teacher_rule_applies(sensitive=True) is False
    assert rules.class_teacher_rule_applies(sensitive=False) is True


@pytest.mark.parametrize(
    "event, recipient, refused",
    [
        (Event.SENSITIVE_INCIDENT, Reason.DSL, None),
        (Event.SENSITIVE_INCIDENT, Reason.SLT, None),
        (Event.SENSITIVE_INCIDENT, Reason.PASTORAL, None),
        (Event.SENSITIVE_INCIDENT, Reason.STAFF, "may not see Safeguarding incidents"),
        (Event.SENSITIVE_INCIDENT, Reason.CLASS_TEACHER, "never alerted to a Safeguarding"),
        (Event.SENSITIVE_INCIDENT, Reason.AUTHOR, "cannot be alerted"),
        (Event.INCIDENT, Reason.CLASS_TEACHER, None),
        (Event.INCIDENT, Reason.STAFF, None),
        (Event.INCIDENT, Reason.ASSIGNEE, "cannot be alerted"),
        (Event.ACTION, Reason.AUTHOR, None),
        (Event.ACTION, Reason.ASSIGNEE, None),
        (Event.ACTION, Reason.CHOSEN, "cannot be alerted"),
    ],
)
def test_what_a_rule_may_name(event, recipient, refused):
    problem = rules.rule_refusal(event, recipient)
    if refused is None:
        assert problem is None
    else:
        assert refused in problem


def test_preview_of_an_ordinary_incident(app_context, school, make_user):
    make_user(Role.PASTORAL, full_name="Left Pastoral", active=False)
    recipients, refused = preview_names(school.staff, school, "Behaviour", [school.other_teacher])
    assert recipients == {
        "Dee Lead": "dsl",
        "Sam Leader": "slt",
        "Pat Pastoral": "pastoral",
        "Carl Teacher": "class_teacher",
        "Orla Teacher": "chosen",
    }
    assert refused == {}


def test_preview_of_a_sensitive_incident_refuses_who_may_not_see_it(app_context, school):
    recipients, refused = preview_names(
        school.dsl, school, NEGLECT, [school.teacher, school.staff, school.admin, school.slt]
    )
    assert recipients == {"Sam Leader": "slt", "Pat Pastoral": "pastoral"}
    assert refused == {
        "Carl Teacher": "may not see Safeguarding incidents",
        "Tess Assistant": "may not see Safeguarding incidents",
        "": "is not on the staff list",  # the office's account is not named
    }


def test_preview_refuses_unknown_and_disabled_people(app_context, school, make_user):
    gone = make_user(Role.STAFF, full_name="Gone Assistant", active=False)
    preview = operations.preview_recipients(
        user(school.staff), [school.ada], [], [gone.id, 999_999, "x"]
    )
    # Whether an id is unknown, disabled or the office's is not the author's to learn.
    assert [(item["id"], item["name"], item["reason"]) for item in preview.refused] == [
        (gone.id, "", "is not on the staff list"),
        (999_999, "", "is not on the staff list"),
        ("x", "", "is not on the staff list"),
    ]


def test_preview_leaves_out_the_author(app_context, school):
    recipients, _ = preview_names(school.teacher, school, "Behaviour", [school.teacher])
    assert "Carl Teacher" not in recipients


def test_the_preview_leaves_out_a_linked_pupils_class_teacher_as_the_alerts_do(
    client, school, sign_in
):
    sign_in(school.staff)
    response = client.post(
        "/api/alert-preview",
        json={
            "pupil_id": school.ada,
            "linked_pupil_ids": [school.ben],
            "category_ids": [school.vocabulary["Bullying"]],
        },
    )
    assert response.status_code == 200
    assert {(item["name"], item["reason"]) for item in response.get_json()["recipients"]} == {
        ("Dee Lead", "dsl"),
        ("Sam Leader", "slt"),
        ("Pat Pastoral", "pastoral"),
        ("Carl Teacher", "class_teacher"),
    }


@pytest.mark.parametrize(
    "main, linked, teacher, not_teacher",
    [
        ("ada", "ben", "Carl Teacher", "Orla Teacher"),
        ("ben", "ada", "Orla Teacher", "Carl Teacher"),
    ],
)
def test_preview_asks_only_the_first_pupil_for_the_class_teacher(
    app_context, school, main, linked, teacher, not_teacher
):
    """The pupil comes first, then linked pupils (`server.incidents.page.preview_ids`)."""
    preview = operations.preview_recipients(
        user(school.staff),
        [getattr(school, main), getattr(school, linked)],
        [school.vocabulary["Behaviour"]],
        [],
    )
    names = {item["name"]: item["reason"] for item in preview.recipients}
    assert names[teacher] == "class_teacher"
    assert not_teacher not in names


def test_the_preview_endpoint_answers_the_form(client, school, sign_in):
    sign_in(school.dsl)
    response = client.post(
        "/api/alert-preview",
        json={
            "pupil_id": school.ada,
            "category_ids": [school.vocabulary[NEGLECT]],
            "extra_recipient_ids": [school.teacher.id],
        },
    )
    assert response.status_code == 200
    body = response.get_json()
    assert {item["name"] for item in body["recipients"]} == {"Sam Leader", "Pat Pastoral"}
    assert body["refused"] == [
        {
            "id": school.teacher.id,
            "name": "Carl Teacher",
            "reason": "may not see Safeguarding incidents",
            "reason_label": "may not see Safeguarding incidents",
        }
    ]


def test_the_preview_names_nobody_off_the_staff_list(client, school, sign_in, make_user):
    """Issue 11, finding 7: the preview named any account by id (the office, leavers)."""
    gone = make_user(Role.STAFF, full_name="Gone Assistant", active=False)
    sign_in(school.staff)
    response = client.post(
        "/api/alert-preview",
        json={"pupil_id": school.ada, "extra_recipient_ids": [school.admin.id, gone.id, 999_999]},
    )
    text = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Ada Office" not in text and "Gone Assistant" not in text
    assert [(item["name"], item["reason"]) for item in response.get_json()["refused"]] == [
        ("", "is not on the staff list")
    ] * 3


# --- Editing the rules -------------------------------------------------------------------


def test_set_rules_changes_who_is_alerted_and_is_audited(app_context, school):
    changed = operations.set_rules(
        {
            Event.INCIDENT: {"slt", "dsl"},
            Event.SENSITIVE_INCIDENT: {"dsl", "slt", "pastoral"},
            Event.ACTION: {"slt", "pastoral", "author", "assignee"},
        },
        by=user(school.admin),
    )
    assert changed is True
    recipients, _ = preview_names(school.staff, school, "Behaviour")
    assert recipients == {"Sam Leader": "slt", "Dee Lead": "dsl"}
    audit = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "alerts.rules_changed")
    ).one()
    assert audit.actor_user_id == school.admin.id
    assert '"before": ["class_teacher", "dsl", "pastoral", "slt"]' in audit.details
    assert '"after": ["dsl", "slt"]' in audit.details
    assert "sensitive_incident" not in audit.details  # only what changed


def test_set_rules_with_no_change_writes_nothing(app_context, school):
    assert operations.set_rules(DEFAULT_RULES, by=user(school.admin)) is False
    assert (
        db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "alerts.rules_changed")
        ).all()
        == []
    )


@pytest.mark.parametrize(
    "sensitive, message",
    [
        ({"dsl", "staff"}, "Staff may not see Safeguarding incidents"),
        ({"dsl", "class_teacher"}, "A class teacher is never alerted to a Safeguarding incident"),
        ({"slt", "pastoral"}, "The designated safeguarding lead must always be alerted"),
        ({"dsl", "nobody"}, "“nobody” is not someone who can be alerted"),
    ],
)
def test_set_rules_refuses_a_sensitive_recipient_who_may_not_see_it(
    app_context, school, sensitive, message
):
    with pytest.raises(AlertError) as refused:
        operations.set_rules(
            {**DEFAULT_RULES, Event.SENSITIVE_INCIDENT: sensitive}, by=user(school.admin)
        )
    assert message in refused.value.message and refused.value.status == 422
    assert rules.current_rules() == DEFAULT_RULES


def test_the_admin_sees_the_rules(admin_client):
    page = admin_client.get("/alerts/rules").get_data(as_text=True)
    assert "Alert rules" in page
    assert re.search(r'id="sensitive_incident-dsl"\s+checked', page)
    assert re.search(r'id="incident-dsl"\s+checked', page)  # on by default: disclosures
    # Only who may be named is offered for Safeguarding incidents.
    assert 'id="sensitive_incident-staff"' not in page
    assert 'id="sensitive_incident-class_teacher"' not in page
    assert 'id="incident-class_teacher"' in page


def test_the_admin_edits_the_rules(app, admin_client):
    response = admin_client.post(
        "/alerts/rules",
        data={
            "incident": ["slt", "pastoral", "class_teacher", "dsl"],
            "sensitive_incident": ["dsl", "slt"],
            "action": ["slt", "author", "assignee"],
        },
    )
    assert response.status_code == 302
    assert rule_rows(app) == {
        ("incident", "slt"),
        ("incident", "pastoral"),
        ("incident", "class_teacher"),
        ("incident", "dsl"),
        ("sensitive_incident", "dsl"),
        ("sensitive_incident", "slt"),
        ("action", "slt"),
        ("action", "author"),
        ("action", "assignee"),
    }
    assert "Alert rules saved." in admin_client.get("/alerts/rules").get_data(as_text=True)


@pytest.mark.parametrize("extra", ["staff", "class_teacher"])
def test_the_admin_cannot_make_who_may_not_see_sensitive_incidents_a_recipient(
    app, admin_client, extra
):
    before = rule_rows(app)
    response = admin_client.post(
        "/alerts/rules",
        data={
            "incident": ["slt", "pastoral", "class_teacher"],
            "sensitive_incident": ["dsl", "slt", "pastoral", extra],
            "action": ["slt", "pastoral", "author", "assignee"],
        },
    )
    assert response.status_code == 422
    assert "Safeguarding incident" in response.get_data(as_text=True)
    assert rule_rows(app) == before


def test_an_unknown_recipient_is_refused_by_the_form(app, admin_client):
    before = rule_rows(app)
    response = admin_client.post(
        "/alerts/rules", data={"incident": ["everyone"], "sensitive_incident": ["dsl"]}
    )
    assert response.status_code == 422
    assert rule_rows(app) == before


def test_saving_the_rules_needs_a_fresh_passkey_check(app, client, school, sign_in):
    sign_in(school.admin)
    response = client.post("/alerts/rules", data={"sensitive_incident": ["dsl"]})
    assert response.status_code == 302 and "step-up" in response.headers["Location"]
    assert {
        event: frozenset(Reason(r) for e, r in rule_rows(app) if e == event) for event in Event
    } == rules.DEFAULT_RULES


@pytest.mark.parametrize("role", [Role.DSL, Role.SLT, Role.STAFF])
def test_only_the_office_edits_the_rules(client, make_user, sign_in, step_up, role):
    sign_in(make_user(role))
    step_up()
    assert client.post("/alerts/rules", data={"sensitive_incident": ["dsl"]}).status_code == 403


def test_the_dsl_cannot_be_taken_off_the_every_incident_rule(app, app_context, school):
    """Disclosures are not a sensitive category: without this rule they would miss the DSL."""
    with pytest.raises(AlertError) as refused:
        operations.set_rules(
            {**DEFAULT_RULES, Event.INCIDENT: {"slt", "pastoral", "class_teacher"}},
            by=user(school.admin),
        )
    assert "must be alerted to every incident" in refused.value.message
    assert rules.current_rules() == DEFAULT_RULES
