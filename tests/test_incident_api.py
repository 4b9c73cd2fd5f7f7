"""The JSON API the Add Incident page uses (SPEC §2), through HTTP as the page meets it."""

import io
import json
import uuid
from datetime import timedelta

import pytest
import sqlalchemy as sa

from server.alerts.models import Alert
from server.audit.models import AuditEvent
from server.clock import utcnow
from server.extensions import db
from server.incidents.models import (
    Incident,
    IncidentBodyMark,
    IncidentFile,
    incident_agencies,
    incident_categories,
    incident_pupils,
)
from server.incidents.submission import DSL_ONLY_REFUSAL

PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
EXECUTABLE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + bytes(200)


def payload(school, **overrides) -> dict:
    body = {
        "uuid": str(uuid.uuid4()),
        "pupil_id": school.ada,
        "occurred_at": (utcnow() - timedelta(minutes=20)).isoformat(),
        "location": "Lunch hall",
        "account": "Ada said “my brother pushed me”. A bruise on her right upper arm.",
        "parents_contacted": "not_yet",
        "parents_reason": "Mum is collecting at 3:15; will speak to her then.",
        "medical_attention": "no",
        "body_marks": [
            {"side": "front", "x": 0.21, "y": 0.3, "kind": "bruise", "note": "2 cm, purple"},
            {"side": "back", "x": 0.5, "y": 0.5, "kind": "mark", "note": ""},
        ],
        "category_ids": [school.vocabulary["Behaviour"]],
        "linked_pupil_ids": [school.ben],
        "extra_recipient_ids": [],
        "agency_ids": [school.vocabulary["School nurse"]],
        "urgent": False,
        "on_behalf": None,
    }
    body.update(overrides)
    return body


def counts(app) -> dict:
    with app.app_context():
        return {
            "incidents": db.session.scalar(sa.select(sa.func.count(Incident.id))),
            "files": db.session.scalar(sa.select(sa.func.count(IncidentFile.id))),
            "marks": db.session.scalar(sa.select(sa.func.count(IncidentBodyMark.id))),
            "alerts": db.session.scalar(sa.select(sa.func.count(Alert.id))),
            "audit": db.session.scalar(
                sa.select(sa.func.count(AuditEvent.id)).where(
                    AuditEvent.action == "incident.created"
                )
            ),
        }


def stored_files(app) -> list:
    directory = app.config["UPLOAD_DIR"]
    return sorted(directory.iterdir()) if directory.exists() else []


def post_incident(client, body, files=(), **kwargs):
    if not files:
        return client.post("/api/incidents", json=body, **kwargs)
    data = {"incident": json.dumps(body), "files": [(io.BytesIO(d), n) for n, d in files]}
    return client.post("/api/incidents", data=data, content_type="multipart/form-data", **kwargs)


# --- Loading the form --------------------------------------------------------------------


def test_form_vocabulary_for_staff(client, sign_in, school):
    sign_in(school.staff)
    data = client.get("/api/incident-form").get_json()
    by_name = {c["full_name"]: c for c in data["categories"]}
    assert by_name["Safeguarding – Neglect"]["dsl_only"] is True
    assert by_name["Safeguarding – Neglect"]["sensitive"] is True
    assert by_name["Safeguarding – Neglect"]["family"] == "Safeguarding"
    assert by_name["Cause for concern – Safeguarding disclosure"]["dsl_only"] is False
    assert by_name["Behaviour"]["family"] == "Behaviour"
    assert data["can_choose_dsl_only"] is False
    assert data["body_mark_kinds"] == ["bruise", "cut", "burn", "mark", "other"]
    assert data["max_file_bytes"] == 20 * 1024 * 1024
    assert ".pdf" in data["accepted_file_types"]
    assert "School nurse" in {a["name"] for a in data["agencies"]}
    assert data["me"] == {"id": school.staff.id, "name": "Tess Assistant", "initials": "TA"}


def test_form_vocabulary_tells_dsl_they_may_choose_safeguarding(client, sign_in, school):
    sign_in(school.dsl)
    assert client.get("/api/incident-form").get_json()["can_choose_dsl_only"] is True


def test_the_form_vocabulary_is_kept_only_until_a_category_or_agency_changes(
    app, client, sign_in, school
):
    from server.incidents.models import Agency, Category

    sign_in(school.staff)

    def offered():
        data = client.get("/api/incident-form").get_json()
        return {c["full_name"] for c in data["categories"]} | {a["name"] for a in data["agencies"]}

    assert {"Bullying", "School nurse"} <= offered()
    with app.app_context():
        db.session.get(Category, school.vocabulary["Bullying"]).active = False
        db.session.commit()
    assert "Bullying" not in offered()
    with app.app_context():
        db.session.get(Agency, school.vocabulary["School nurse"]).active = False
        db.session.commit()
    assert "School nurse" not in offered()


def test_roster_lists_pupils_on_roll_with_what_tells_them_apart(
    client, sign_in, school, make_pupil
):
    make_pupil("Cleo", "Left", on_roll=False)
    sign_in(school.staff)
    response = client.get("/api/roster")
    assert response.headers["Cache-Control"] == "no-store"
    roster = response.get_json()
    pupils = {p[1]: p for p in roster["pupils"]}
    assert "Cleo Left" not in pupils
    assert pupils["Ada Quill"] == [school.ada, "Ada Quill", pupils["Ada Quill"][2], "2017-03-04"]
    assert roster["places"][pupils["Ada Quill"][2]] == ["4B", "Year 4"]
    assert roster["format"] == "roster-2"


def test_the_roster_grows_only_by_what_each_pupil_needs(client, sign_in, school, make_pupil):
    """Class and year are sent once per class, not once per pupil."""
    sign_in(school.staff)
    before = len(client.get("/api/roster").get_data())
    for n in range(10):
        make_pupil(f"Extra{n}", "Pupil", class_id=school.class_4b)
    after = client.get("/api/roster").get_json()
    assert len(after["places"]) == 2
    grown = len(client.get("/api/roster").get_data()) - before
    assert grown <= 10 * len('[99999,"Extra0 Pupil",0,"2017-03-04"],')


def test_a_device_with_the_roster_already_gets_a_304(client, sign_in, school, make_pupil):
    sign_in(school.staff)
    first = client.get("/api/roster")
    etag = first.headers["ETag"]
    again = client.get("/api/roster", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.get_data() == b""
    assert again.headers["Cache-Control"] == "no-store"
    make_pupil("Newcomer", "Pupil", class_id=school.class_4b)
    changed = client.get("/api/roster", headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["ETag"] != etag
    assert "Newcomer Pupil" in changed.get_data(as_text=True)


def test_the_roster_etag_differs_for_those_who_may_see_legal_names(
    app, client, sign_in, school
):
    from server.pupils.models import Pupil

    with app.app_context():
        db.session.get(Pupil, school.ben).preferred_first_name = "Benny"
        db.session.commit()
    sign_in(school.staff)
    staff_etag = client.get("/api/roster").headers["ETag"]
    reviewer = app.test_client()
    sign_in(school.dsl, test_client=reviewer)
    answer = reviewer.get("/api/roster", headers={"If-None-Match": staff_etag})
    assert answer.status_code == 200 and "Ben Marsh" in answer.get_data(as_text=True)


def test_legal_names_go_only_to_those_who_review_every_record(
    app, client, sign_in, school, make_user
):
    """Issue 11, finding 7: a TA's roster carried every pupil's legal name."""
    from server.pupils.models import Pupil

    with app.app_context():
        pupil = db.session.get(Pupil, school.ben)
        pupil.preferred_first_name = "Benny"
        db.session.commit()
    for reader, sees_legal_name in [
        (school.staff, False),
        (school.teacher, False),
        (school.dsl, True),
        (school.slt, True),
        (school.pastoral, True),
    ]:
        device = app.test_client()
        sign_in(reader, test_client=device)
        response = device.get("/api/roster")
        assert ("Ben Marsh" in response.get_data(as_text=True)) is sees_legal_name
        entry = {p[0]: p for p in response.get_json()["pupils"]}[school.ben]
        assert entry[1] == "Benny Marsh"
        assert (entry[4:] == ["Ben Marsh"]) is sees_legal_name


def test_roster_takes_the_same_number_of_queries_however_many_pupils(
    app, client, sign_in, school, make_class, make_pupil
):
    def statements_for_roster() -> int:
        seen = []

        def count(*_args):
            seen.append(1)

        with app.app_context():
            engine = db.engine
        sa.event.listen(engine, "before_cursor_execute", count)
        try:
            assert client.get("/api/roster").status_code == 200
        finally:
            sa.event.remove(engine, "before_cursor_execute", count)
        return len(seen)

    sign_in(school.staff)
    few = statements_for_roster()
    for number in range(30):
        class_id = make_class(f"Extra {number}", "3")
        make_pupil(f"Pupil{number}", "Extra", class_id=class_id)
    assert statements_for_roster() == few


def test_staff_list_leaves_out_office_and_disabled_accounts(client, sign_in, school, make_user):
    from server.auth.roles import Role

    gone = make_user(Role.STAFF, full_name="Gone Away", active=False)
    sign_in(school.staff)
    people = {p["id"]: p for p in client.get("/api/staff").get_json()}
    assert school.admin.id not in people and gone.id not in people
    assert people[school.dsl.id]["can_see_sensitive"] is True
    assert people[school.teacher.id]["can_see_sensitive"] is False
    assert people[school.teacher.id]["roles"] == ["class_teacher"]
    assert people[school.teacher.id]["initials"] == "CT"


def test_alert_preview_shows_automatic_recipients_and_refusals(client, sign_in, school):
    sign_in(school.dsl)
    body = {
        "pupil_id": school.ada,
        "linked_pupil_ids": [],
        "category_ids": [school.vocabulary["Behaviour"]],
        "extra_recipient_ids": [],
    }
    names = {
        r["name"] for r in client.post("/api/alert-preview", json=body).get_json()["recipients"]
    }
    assert {"Carl Teacher", "Sam Leader", "Pat Pastoral"} <= names
    body["category_ids"] = [school.vocabulary["Safeguarding – Neglect"]]
    body["extra_recipient_ids"] = [school.other_teacher.id]
    preview = client.post("/api/alert-preview", json=body).get_json()
    assert "Carl Teacher" not in {r["name"] for r in preview["recipients"]}
    assert [r["id"] for r in preview["refused"]] == [school.other_teacher.id]


def test_alert_preview_refuses_what_it_cannot_read(client, sign_in, school):
    sign_in(school.staff)
    response = client.post("/api/alert-preview", json={"pupil_id": "x", "category_ids": "y"})
    assert response.status_code == 422
    assert response.get_json()["error"] == "invalid"


# --- Submitting ---------------------------------------------------------------------------


def test_submit_records_everything_and_answers_with_a_receipt(app, client, sign_in, school):
    sign_in(school.staff)
    body = payload(school, urgent=True, on_behalf={"name": "Mo Midday", "role": "Midday"})
    response = post_incident(client, body)
    assert response.status_code == 201, response.get_json()
    receipt = response.get_json()
    assert receipt["uuid"] == body["uuid"]
    assert receipt["url"] == f"/incidents/{receipt['number']}"
    with app.app_context():
        incident = db.session.get(Incident, receipt["id"])
        assert incident.number == receipt["number"] >= 1001
        assert incident.pupil_id == school.ada
        assert incident.author_id == school.staff.id
        assert incident.location == "Lunch hall"
        assert incident.account == body["account"]
        assert incident.parents_contacted == "not_yet"
        assert incident.parents_reason.startswith("Mum is collecting")
        assert incident.medical_attention == "no"
        assert incident.urgent is True
        assert (incident.recorded_on_behalf_name, incident.recorded_on_behalf_role) == (
            "Mo Midday",
            "Midday",
        )
        assert abs(incident.occurred_at - (utcnow() - timedelta(minutes=20))) < timedelta(minutes=1)
        assert [c.name for c in incident.categories] == ["Behaviour"]
        assert [p.id for p in incident.linked_pupils] == [school.ben]
        assert [a.name for a in incident.agencies] == ["School nurse"]
        marks = [(m.number, m.side, m.x, m.y, m.kind, m.note) for m in incident.body_marks]
        assert marks == [
            (1, "front", 0.21, 0.3, "bruise", "2 cm, purple"),
            (2, "back", 0.5, 0.5, "mark", None),
        ]
        alerted = {a.user_id for a in db.session.scalars(sa.select(Alert))}
        assert {school.teacher.id, school.slt.id, school.pastoral.id} <= alerted
        audit = db.session.scalars(
            sa.select(AuditEvent).where(AuditEvent.action == "incident.created")
        ).one()
        assert audit.actor_user_id == school.staff.id
        assert audit.object_id == str(incident.id)


def test_numbers_count_up_from_1001(client, sign_in, school):
    sign_in(school.staff)
    first = post_incident(client, payload(school)).get_json()["number"]
    second = post_incident(client, payload(school)).get_json()["number"]
    assert first >= 1001
    assert second == first + 1


def test_replay_of_the_same_submission_returns_the_same_receipt(app, client, sign_in, school):
    sign_in(school.staff)
    body = payload(school)
    first = post_incident(client, body, files=[("letter.pdf", PDF)])
    before = counts(app)
    again = post_incident(client, body, files=[("letter.pdf", PDF)])
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.get_json() == first.get_json()
    assert counts(app) == before


def test_same_uuid_with_different_content_is_refused(app, client, sign_in, school):
    sign_in(school.staff)
    body = payload(school)
    assert post_incident(client, body).status_code == 201
    before = counts(app)
    response = post_incident(client, {**body, "account": "Something else entirely."})
    assert response.status_code == 422
    assert "uuid" in response.get_json()["fields"]
    assert counts(app) == before


def test_same_uuid_from_another_author_is_refused(app, client, sign_in, school):
    sign_in(school.staff)
    body = payload(school)
    post_incident(client, body)
    client.post("/auth/sign-out")
    sign_in(school.teacher)
    assert post_incident(client, body).status_code == 422


def test_submit_with_files_as_multipart(app, client, sign_in, school):
    sign_in(school.staff)
    response = post_incident(client, payload(school), files=[("letter.pdf", PDF)])
    assert response.status_code == 201, response.get_json()
    with app.app_context():
        attached = db.session.scalars(sa.select(IncidentFile)).one()
        assert (attached.original_name, attached.content_type) == ("letter.pdf", "application/pdf")
        assert attached.size == len(PDF)


def _with_future_date(school):
    return {"occurred_at": (utcnow() + timedelta(hours=1)).isoformat()}


REFUSALS = [
    ("future date", _with_future_date, "occurred_at", "cannot be in the future"),
    ("no offset", lambda s: {"occurred_at": "2026-01-05T10:00:00"}, "occurred_at", "Enter"),
    ("not a date", lambda s: {"occurred_at": "yesterday"}, "occurred_at", "Enter"),
    (
        "before birth",
        lambda s: {"occurred_at": "2017-03-03T12:00:00+00:00"},  # born 4 Mar 2017
        "occurred_at",
        "before the pupil was born",
    ),
    ("unknown pupil", lambda s: {"pupil_id": 987654}, "pupil_id", "school roll"),
    ("no pupil", lambda s: {"pupil_id": None}, "pupil_id", "school roll"),
    ("blank account", lambda s: {"account": "   "}, "account", "Write an account"),
    ("parents", lambda s: {"parents_reason": ""}, "parents_reason", "Say why"),
    ("parents answer", lambda s: {"parents_contacted": "maybe"}, "parents_contacted", "Say"),
    ("medical", lambda s: {"medical_attention": ""}, "medical_attention", "medical"),
    ("no category", lambda s: {"category_ids": []}, "category_ids", "at least one"),
    ("unknown category", lambda s: {"category_ids": [999999]}, "category_ids", "from the list"),
    (
        "group heading",
        lambda s: {"category_ids": [s.vocabulary["Cause for concern"]]},
        "category_ids",
        "is a group heading",
    ),
    (
        "dsl-only category",
        lambda s: {"category_ids": [s.vocabulary["Safeguarding – Neglect"]]},
        "category_ids",
        DSL_ONLY_REFUSAL,
    ),
    ("linked pupil", lambda s: {"linked_pupil_ids": [987654]}, "linked_pupil_ids", "roll"),
    ("agency", lambda s: {"agency_ids": [987654]}, "agency_ids", "agencies"),
    ("recipient", lambda s: {"extra_recipient_ids": [987654]}, "extra_recipient_ids", "staff"),
    (
        "mark side",
        lambda s: {"body_marks": [{"side": "top", "x": 0.1, "y": 0.1, "kind": "cut"}]},
        "body_marks",
        "front or the back",
    ),
    (
        "mark position",
        lambda s: {"body_marks": [{"side": "front", "x": 1.5, "y": 0.1, "kind": "cut"}]},
        "body_marks",
        "outside the body map",
    ),
    (
        "mark kind",
        lambda s: {"body_marks": [{"side": "front", "x": 0.1, "y": 0.1, "kind": "bite"}]},
        "body_marks",
        "bruise, cut",
    ),
    ("on behalf", lambda s: {"on_behalf": {"name": "Mo", "role": ""}}, "on_behalf", "both"),
    ("urgent", lambda s: {"urgent": "yes"}, "urgent", "urgent"),
    ("uuid", lambda s: {"uuid": "not-a-uuid"}, "uuid", "UUID"),
]


@pytest.mark.parametrize(
    "change, field, message", [r[1:] for r in REFUSALS], ids=[r[0] for r in REFUSALS]
)
def test_bad_input_is_refused_with_a_message_and_nothing_written(
    app, client, sign_in, school, change, field, message
):
    sign_in(school.staff)
    before = counts(app)
    response = post_incident(client, payload(school, **change(school)))
    assert response.status_code == 422
    data = response.get_json()
    assert data["error"] == "invalid"
    assert message in data["fields"][field]
    assert data["message"]
    assert counts(app) == before


def test_an_off_roll_pupil_cannot_be_chosen(app, client, sign_in, school, make_pupil):
    sign_in(school.staff)
    left = make_pupil("Cleo", "Left", on_roll=False)
    response = post_incident(client, payload(school, pupil_id=left))
    assert response.status_code == 422
    assert "pupil_id" in response.get_json()["fields"]


def test_several_faults_are_reported_together(client, sign_in, school):
    sign_in(school.staff)
    response = post_incident(client, payload(school, account="", category_ids=[]))
    assert set(response.get_json()["fields"]) == {"account", "category_ids"}


def test_dsl_may_choose_a_safeguarding_category(client, sign_in, school):
    sign_in(school.dsl)
    body = payload(school, category_ids=[school.vocabulary["Safeguarding – Neglect"]])
    assert post_incident(client, body).status_code == 201


def test_extra_recipient_who_may_not_see_a_sensitive_incident_is_refused(
    app, client, sign_in, school
):
    sign_in(school.dsl)
    before = counts(app)
    body = payload(
        school,
        category_ids=[school.vocabulary["Safeguarding – Neglect"]],
        extra_recipient_ids=[school.other_teacher.id],
    )
    response = post_incident(client, body)
    assert response.status_code == 422
    data = response.get_json()
    assert "Orla Teacher" in data["message"]
    assert data["fields"]["extra_recipient_ids"] == data["message"]
    assert counts(app) == before


def test_a_refused_submission_leaves_no_stored_file(app, client, sign_in, school):
    sign_in(school.dsl)
    before = stored_files(app)
    body = payload(
        school,
        category_ids=[school.vocabulary["Safeguarding – Neglect"]],
        extra_recipient_ids=[school.other_teacher.id],
    )
    assert post_incident(client, body, files=[("letter.pdf", PDF)]).status_code == 422
    assert stored_files(app) == before


def test_oversize_file_is_refused(app, client, sign_in, school):
    sign_in(school.staff)
    before, before_files = counts(app), stored_files(app)
    big = PDF + b"0" * (20 * 1024 * 1024)
    response = post_incident(client, payload(school), files=[("scan.pdf", big)])
    assert response.status_code == 413
    assert "larger than 20 MB" in response.get_json()["message"]
    assert counts(app) == before
    assert stored_files(app) == before_files


def test_executable_renamed_pdf_is_refused(app, client, sign_in, school):
    sign_in(school.staff)
    before, before_files = counts(app), stored_files(app)
    response = post_incident(client, payload(school), files=[("report.pdf", EXECUTABLE)])
    assert response.status_code == 422
    assert "“report.pdf” is not a PDF, image" in response.get_json()["fields"]["files"]
    assert counts(app) == before
    assert stored_files(app) == before_files


def test_signed_out_gets_401_json(client, school):
    response = post_incident(client, payload(school))
    assert response.status_code == 401
    assert response.is_json


def test_office_admin_cannot_record(client, sign_in, school):
    sign_in(school.admin)
    assert post_incident(client, payload(school)).status_code == 403


def test_submission_needs_the_csrf_token(app, client, sign_in, school):
    sign_in(school.staff)
    before = counts(app)
    response = post_incident(client, payload(school), csrf=False)
    assert response.status_code == 400
    assert counts(app) == before


def test_body_that_is_not_an_incident_is_refused(client, sign_in, school):
    sign_in(school.staff)
    response = client.post(
        "/api/incidents",
        data={"incident": "{not json"},
        content_type="multipart/form-data",
    )
    assert response.status_code == 422
    assert "incident" in response.get_json()["fields"]


def test_the_add_incident_app_shell_carries_no_personal_data(client, sign_in, school):
    sign_in(school.staff)
    assert 'name="csrf-token"' in client.get("/incidents/new").get_data(as_text=True)
    shell = client.get("/offline/incident").get_data(as_text=True)
    assert "Ada" not in shell and "Quill" not in shell


def test_association_rows_are_written_with_the_incident(app, client, sign_in, school):
    sign_in(school.staff)
    incident_id = post_incident(client, payload(school)).get_json()["id"]
    with app.app_context():
        for table in (incident_pupils, incident_categories, incident_agencies):
            rows = db.session.execute(
                sa.select(table).where(table.c.incident_id == incident_id)
            ).all()
            assert len(rows) == 1


# --- Ids that are not ids, and dates no school could mean: 422, never a 500 ---------------

# Each is refused wherever an id is expected: too large for any id column (SQLite overflows
# at 2**63, PostgreSQL's integer ids at 2**31), other scripts' digits that str.isdigit()
# accepts and int() refuses or reads, and things that are not whole positive numbers.
NOT_IDS = [
    pytest.param("9" * 40, id="40 nines"),
    pytest.param(10**30, id="10**30"),
    pytest.param(2**63, id="2**63"),
    pytest.param(2**31, id="2**31"),
    pytest.param(str(2**31), id="'2**31'"),
    pytest.param("9" * 5000, id="5000 digits"),
    pytest.param("²", id="superscript two"),
    pytest.param("٣", id="arabic-indic three"),
    pytest.param(0, id="0"),
    pytest.param(-4, id="-4"),
    pytest.param("-4", id="'-4'"),
    pytest.param(1.0, id="1.0"),
    pytest.param(True, id="true"),
    pytest.param({"id": 1}, id="object"),
]
ID_FIELDS = ["pupil_id", "category_ids", "linked_pupil_ids", "extra_recipient_ids", "agency_ids"]


@pytest.mark.parametrize("bad", NOT_IDS)
@pytest.mark.parametrize("field", ID_FIELDS)
def test_an_id_that_is_not_an_id_is_refused_by_name(app, client, sign_in, school, field, bad):
    sign_in(school.staff)
    before = counts(app)
    value = bad if field == "pupil_id" else [bad]
    response = post_incident(client, payload(school, **{field: value}))
    assert response.status_code == 422, response.get_data(as_text=True)
    data = response.get_json()
    assert "not a valid" in data["fields"][field]
    assert set(data["fields"]) == {field}
    assert counts(app) == before


def test_an_id_sent_as_a_string_of_digits_is_still_accepted(app, client, sign_in, school):
    sign_in(school.staff)
    body = payload(school, pupil_id=str(school.ada), linked_pupil_ids=[f" {school.ben} "])
    response = post_incident(client, body)
    assert response.status_code == 201, response.get_json()


@pytest.mark.parametrize("bad", NOT_IDS)
@pytest.mark.parametrize("field", ["pupil_id", "linked_pupil_ids", "category_ids"])
def test_alert_preview_refuses_ids_that_are_not_ids(client, sign_in, school, field, bad):
    sign_in(school.staff)
    body = {
        "pupil_id": school.ada,
        "category_ids": [school.vocabulary["Behaviour"]],
        "extra_recipient_ids": [],
    }
    body[field] = bad if field == "pupil_id" else [bad]
    response = client.post("/api/alert-preview", json=body)
    assert response.status_code == 422, response.get_data(as_text=True)
    assert "not a valid" in response.get_json()["fields"][field]


@pytest.mark.parametrize("bad", ["9" * 40, 10**30, "²"])
def test_alert_preview_refuses_a_recipient_id_that_is_not_an_id(client, sign_in, school, bad):
    sign_in(school.staff)
    body = {"pupil_id": school.ada, "category_ids": [], "extra_recipient_ids": [bad]}
    response = client.post("/api/alert-preview", json=body)
    assert response.status_code == 422, response.get_data(as_text=True)
    assert "not a valid" in response.get_json()["fields"]["extra_recipient_ids"]


@pytest.mark.parametrize(
    "occurred_at",
    ["0001-01-01T00:00:00+00:00", "0001-01-01T00:00:00+05:00", "1899-12-31T23:00:00+00:00"],
)
def test_a_moment_centuries_ago_is_refused_with_a_message(
    app, client, sign_in, school, occurred_at
):
    sign_in(school.staff)
    before = counts(app)
    response = post_incident(client, payload(school, occurred_at=occurred_at))
    assert response.status_code == 422, response.get_data(as_text=True)
    assert response.get_json()["fields"] == {
        "occurred_at": "The date it happened is too long ago: check the year."
    }
    assert counts(app) == before


def test_an_incident_number_too_large_for_any_id_is_not_found(client, sign_in, school):
    sign_in(school.staff)
    assert client.get("/incidents/" + "9" * 40).status_code == 404
    assert client.get(f"/incidents/{2**31}/files/1").status_code == 404


@pytest.mark.parametrize("as_multipart", [False, True], ids=["json", "multipart"])
def test_json_nested_too_deep_to_read_is_refused_not_a_500(
    app, client, sign_in, school, as_multipart
):
    sign_in(school.staff)
    before = counts(app)
    deep = "[" * 100_000
    if as_multipart:
        response = client.post(
            "/api/incidents", data={"incident": deep}, content_type="multipart/form-data"
        )
    else:
        response = client.post("/api/incidents", data=deep, content_type="application/json")
    assert response.status_code == 422
    assert response.get_json()["fields"] == {"incident": "Send the incident as JSON."}
    assert counts(app) == before
    preview = client.post("/api/alert-preview", data=deep, content_type="application/json")
    assert preview.status_code == 422
    assert preview.get_json()["error"] == "invalid"


def test_an_incident_nested_deeper_than_any_incident_is_refused(app, client, sign_in, school):
    """Deeper than any incident (a crafted one deep enough could not be hashed): refused."""
    sign_in(school.staff)
    before = counts(app)
    body = json.dumps(payload(school))[:-1] + ', "extra": ' + "[" * 200 + "]" * 200 + "}"
    response = client.post("/api/incidents", data=body, content_type="application/json")
    assert response.status_code == 422
    assert response.get_json()["fields"] == {"incident": "Not an incident."}
    assert counts(app) == before
