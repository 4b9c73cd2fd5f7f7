"""Recording an incident through its domain function, and the incident page (SPEC §2)."""

import re
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
import time_machine

from server.audit.models import AuditEvent
from server.auth.models import User
from server.extensions import db
from server.ids import parse_id, parse_ids
from server.incidents.errors import IncidentRefused
from server.incidents.models import Incident
from server.incidents.submission import DSL_ONLY_REFUSAL, submit_incident

NOON = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def base_payload(school, **overrides):
    return {
        "uuid": str(uuid.uuid4()),
        "pupil_id": school.ada,
        "occurred_at": "2026-11-26T11:30:00+00:00",
        "account": "Ada was crying by the gate and said “nobody picked me up yesterday”.",
        "parents_contacted": "yes",
        "medical_attention": "not_needed",
        "category_ids": [school.vocabulary["Cause for concern – Safeguarding disclosure"]],
        **overrides,
    }


def submit(app, user, body, files=()):
    with app.test_request_context():
        receipt = submit_incident(db.session.get(User, user.id), body, list(files))
        db.session.commit()
        return receipt


def incident_count(app) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count(Incident.id)))


# --- The domain function ------------------------------------------------------------------


@time_machine.travel(NOON, tick=False)
def test_submit_returns_a_receipt_and_replays_return_it_again(app, school):
    body = base_payload(school)
    first = submit(app, school.staff, body)
    again = submit(app, school.staff, dict(body))
    assert first.created is True and again.created is False
    assert again.to_json() == first.to_json()
    assert incident_count(app) == 1


@time_machine.travel(NOON, tick=False)
def test_submit_allows_a_device_clock_a_little_ahead(app, school):
    four_minutes_ahead = (NOON + timedelta(minutes=4)).isoformat()
    submit(app, school.staff, base_payload(school, occurred_at=four_minutes_ahead))
    six_minutes_ahead = (NOON + timedelta(minutes=6)).isoformat()
    with pytest.raises(IncidentRefused) as refused:
        submit(app, school.staff, base_payload(school, occurred_at=six_minutes_ahead))
    assert refused.value.fields == {
        "occurred_at": "The date and time it happened cannot be in the future."
    }


@time_machine.travel(NOON, tick=False)
def test_occurred_at_is_kept_as_the_moment_given(app, school):
    receipt = submit(
        app, school.staff, base_payload(school, occurred_at="2026-11-26T06:15:00-05:00")
    )
    with app.app_context():
        incident = db.session.get(Incident, receipt.id)
        assert incident.occurred_at == datetime(2026, 11, 26, 11, 15, tzinfo=UTC)


def test_staff_choosing_a_safeguarding_category_is_refused_with_the_policy_message(app, school):
    body = base_payload(school, category_ids=[school.vocabulary["Safeguarding – Prevent"]])
    with pytest.raises(IncidentRefused) as refused:
        submit(app, school.teacher, body)
    assert refused.value.fields == {"category_ids": DSL_ONLY_REFUSAL}
    assert refused.value.status == 422
    assert incident_count(app) == 0


def test_the_safeguarding_family_itself_is_dsl_only(app, school):
    body = base_payload(school, category_ids=[school.vocabulary["Safeguarding"]])
    with pytest.raises(IncidentRefused):
        submit(app, school.pastoral, body)


def test_a_family_heading_is_not_a_category_an_incident_can_have(app, school):
    # The form offers only its kinds; a client sending the heading itself is refused too.
    body = base_payload(school, category_ids=[school.vocabulary["Safeguarding"]])
    with pytest.raises(IncidentRefused) as refused:
        submit(app, school.dsl, body)
    assert refused.value.fields == {
        "category_ids": "“Safeguarding” is a group heading: choose one of its categories."
    }
    assert incident_count(app) == 0
    body = base_payload(school, category_ids=[school.vocabulary["Safeguarding – Neglect"]])
    submit(app, school.dsl, body)
    assert incident_count(app) == 1


def test_office_admin_cannot_record_even_through_the_function(app, school):
    with pytest.raises(IncidentRefused) as refused:
        submit(app, school.admin, base_payload(school))
    assert refused.value.status == 403


def test_inactive_category_and_agency_are_refused(app, school):
    from server.incidents.models import Agency, Category

    with app.app_context():
        db.session.get(Category, school.vocabulary["Behaviour"]).active = False
        db.session.get(Agency, school.vocabulary["GP"]).active = False
        db.session.commit()
    body = base_payload(
        school, category_ids=[school.vocabulary["Behaviour"]], agency_ids=[school.vocabulary["GP"]]
    )
    with pytest.raises(IncidentRefused) as refused:
        submit(app, school.staff, body)
    assert set(refused.value.fields) == {"category_ids", "agency_ids"}


def test_parents_reason_is_needed_unless_they_were_contacted(app, school):
    for answer in ("no", "not_yet"):
        with pytest.raises(IncidentRefused) as refused:
            submit(app, school.staff, base_payload(school, parents_contacted=answer))
        assert "parents_reason" in refused.value.fields
    submit(app, school.staff, base_payload(school, parents_contacted="yes"))


def test_the_main_pupil_is_not_linked_to_their_own_incident(app, school):
    receipt = submit(
        app, school.staff, base_payload(school, linked_pupil_ids=[school.ada, school.ben])
    )
    with app.app_context():
        linked = db.session.get(Incident, receipt.id).linked_pupils
        assert [pupil.id for pupil in linked] == [school.ben]


def test_sensitive_follows_the_categories(app, school):
    plain = submit(app, school.dsl, base_payload(school))
    sensitive = submit(
        app,
        school.dsl,
        base_payload(school, category_ids=[school.vocabulary["Safeguarding – Neglect"]]),
    )
    with app.app_context():
        assert db.session.get(Incident, plain.id).is_sensitive is False
        assert db.session.get(Incident, sensitive.id).is_sensitive is True


# --- The incident page --------------------------------------------------------------------


def test_incident_page_shows_everything_recorded(app, client, sign_in, school, record_incident):
    number = record_incident(
        school.staff,
        school.ada,
        categories=["Behaviour", "Bullying"],
        location="Top corridor",
        parents_contacted="no",
        parents_reason="No answer on either number.",
        medical_attention="yes",
        urgent=True,
        linked_pupil_ids=[school.ben],
        agency_ids=[school.vocabulary["CAMHS"]],
        on_behalf={"name": "Mo Midday", "role": "Midday supervisor"},
        body_marks=[
            {"side": "front", "x": 0.25, "y": 0.5, "kind": "cut", "note": "Left forearm"},
            {"side": "back", "x": 0.5, "y": 0.2, "kind": "burn", "note": None},
        ],
    )
    sign_in(school.staff)
    response = client.get(f"/incidents/{number}")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    page = response.get_data(as_text=True)
    assert f'<p class="incident-number" id="incident-number">#{number}</p>' in page
    for text in (
        "Ada Quill",
        "4B",
        "4 Mar 2017",
        "Top corridor",
        "Behaviour",
        "Bullying",
        "No answer on either number.",
        "Ben Marsh",
        "CAMHS",
        "Mo Midday",
        "Midday supervisor",
        "Urgent",
        "I fell off the climbing frame.",
        "Left forearm",
    ):
        assert text in page, text
    assert page.count('class="incident-body-mark incident-body-mark-') == 2
    assert 'transform="translate(50.00 210.00)"' in page  # x 0.25 of 200, y 0.5 of 420


def test_viewing_is_audited(app, client, sign_in, school, record_incident):
    number = record_incident(school.staff, school.ada)
    sign_in(school.staff)
    client.get(f"/incidents/{number}")
    with app.app_context():
        event = db.session.scalars(
            sa.select(AuditEvent).where(AuditEvent.action == "incident.viewed")
        ).one()
        assert event.actor_user_id == school.staff.id
        assert '"access": "author"' in event.details


def test_unknown_number_is_404(client, sign_in, school):
    sign_in(school.staff)
    assert client.get("/incidents/424242").status_code == 404


def test_who_has_read_it_is_for_the_author_and_dsl(
    app, client, sign_in, school, record_incident, step_up
):
    number = record_incident(school.staff, school.ada, extra_recipient_ids=[school.dsl.id])
    sign_in(school.teacher)
    teacher_page = client.get(f"/incidents/{number}").get_data(as_text=True)
    assert "Mark as read" in teacher_page
    assert "Who has read it" not in teacher_page
    client.post(f"/alerts/incident/{number}/read")
    client.post("/auth/sign-out")
    sign_in(school.dsl)
    dsl_page = client.get(f"/incidents/{number}").get_data(as_text=True)
    assert "Who has read it" in dsl_page
    assert "Carl Teacher" in dsl_page.split("Who has read it")[1]
    client.post("/auth/sign-out")
    sign_in(school.staff)
    author_page = client.get(f"/incidents/{number}").get_data(as_text=True)
    readers = author_page.split("Who has read it")[1]
    assert "Carl Teacher" in readers
    assert "Alerted, not yet read" in readers and "Dee Lead" in readers


def test_there_is_no_route_to_edit_or_delete(app):
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("incidents."):
            assert not {"PUT", "PATCH", "DELETE"} & set(rule.methods), rule
            assert "edit" not in rule.rule and "delete" not in rule.rule


def test_incident_page_ids_are_unique_so_every_label_finds_its_field(
    client, sign_in, step_up, school, record_incident
):
    number = record_incident(school.staff, school.ada, extra_recipient_ids=[school.dsl.id])
    sign_in(school.dsl)
    step_up()
    page = client.get(f"/incidents/{number}").get_data(as_text=True)
    for form in ("/actions", "/status", "/corrections"):
        assert f'action="/incidents/{number}{form}"' in page
    ids = Counter(re.findall(r'\sid="([^"]+)"', page))
    assert [name for name, count in ids.items() if count > 1] == []


# --- Ids and dates as the domain function meets them ---------------------------------------

PARSED_IDS = [
    (1, 1),
    ("42", 42),
    (" 42 ", 42),
    ("0042", 42),
    (2**31 - 1, 2**31 - 1),
    (str(2**31 - 1), 2**31 - 1),
    (2**31, None),
    ("9" * 40, None),
    ("0" * 40 + "7", 7),
    ("9" * 5000, None),
    (10**30, None),
    ("²", None),
    ("٣", None),
    ("１２", None),  # full-width digits
    ("", None),
    ("1e3", None),
    ("+5", None),
    (0, None),
    ("0", None),
    (-1, None),
    (1.0, None),
    (True, None),
    (None, None),
    ([1], None),
]


@pytest.mark.parametrize("value, expected", PARSED_IDS, ids=[repr(v)[:20] for v, _ in PARSED_IDS])
def test_parse_id_accepts_only_ascii_digits_or_ints_in_range(value, expected):
    assert parse_id(value) == expected


def test_parse_ids_refuses_the_whole_list_for_one_bad_id():
    assert parse_ids(None) == []
    assert parse_ids([3, "3", "4"]) == [3, 4]
    assert parse_ids([3, "9" * 40]) is None
    assert parse_ids("3") is None


@pytest.mark.parametrize(
    "field, value",
    [
        ("pupil_id", "9" * 40),
        ("pupil_id", "²"),
        ("category_ids", [10**30]),
        ("linked_pupil_ids", ["²"]),
        ("extra_recipient_ids", [2**63]),
        ("agency_ids", ["9" * 40]),
    ],
)
def test_submit_incident_refuses_ids_that_are_not_ids(app, school, field, value):
    with pytest.raises(IncidentRefused) as refused:
        submit(app, school.dsl, base_payload(school, **{field: value}))
    assert refused.value.status == 422
    assert "not a valid" in refused.value.fields[field]
    assert incident_count(app) == 0


@pytest.mark.parametrize("year", ["0001", "1066", "1899"])
def test_submit_incident_refuses_a_moment_before_1900(app, school, year):
    with pytest.raises(IncidentRefused) as refused:
        submit(app, school.dsl, base_payload(school, occurred_at=f"{year}-01-01T00:00:00+00:00"))
    assert refused.value.fields == {
        "occurred_at": "The date it happened is too long ago: check the year."
    }
    assert incident_count(app) == 0


def test_submit_incident_refuses_a_payload_nested_deeper_than_any_incident(app, school):
    nested: list = []
    for _ in range(2000):
        nested = [nested]
    with pytest.raises(IncidentRefused) as refused:
        submit(app, school.staff, base_payload(school, extra=nested))
    assert refused.value.fields == {"incident": "Not an incident."}
    assert incident_count(app) == 0
