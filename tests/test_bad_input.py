"""Input the review found answered with a 500 now gets a 4xx and writes nothing (issue 11, 6).

Lone UTF-16 surrogates in any text of an incident, an over-long on-behalf name on an action,
JSON nested thousands deep in a passkey credential, and roster files that hold no cell at all.
"""

import io
import json

import pytest
import sqlalchemy as sa

from server.auth.models import User
from server.auth.roles import Role
from server.extensions import db
from server.incidents.errors import IncidentRefused
from server.incidents.models import Action, Incident
from server.incidents.operations import add_action, incident_by_number
from server.passkeys.models import PasskeyCredential
from server.pupils.import_report import RosterFileError
from server.pupils.models import Pupil
from server.pupils.pupil_import import import_pupils
from server.request_guards import SURROGATE_REFUSAL
from tests.test_incident_api import PDF, payload, post_incident

LONE = "Play\ud800ground"


def count(app, model) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def _with_surrogate(school, where: str) -> dict:
    body = payload(school)
    if where == "on_behalf":
        body["on_behalf"] = {"name": LONE, "role": "Lunchtime supervisor"}
    elif where == "body_mark_note":
        body["body_marks"][0]["note"] = LONE
    elif where == "key":
        body[LONE] = "x"
    elif where == "low_half_alone":
        body["location"] = "Play\udc00ground"
    else:
        body[where] = LONE
    return body


TEXTS = ["location", "account", "parents_reason", "on_behalf", "body_mark_note", "key",
         "occurred_at", "uuid", "low_half_alone"]  # fmt: skip


@pytest.mark.parametrize("where", TEXTS)
def test_a_lone_surrogate_in_any_text_of_an_incident_is_refused(
    app, client, sign_in, school, where
):
    sign_in(school.staff)
    body = _with_surrogate(school, where)
    for response in (post_incident(client, body), post_incident(client, body, [("a.pdf", PDF)])):
        assert response.status_code == 400, response.get_data(as_text=True)
        assert response.get_json()["message"] == SURROGATE_REFUSAL
    assert count(app, Incident) == 0


def test_a_whole_surrogate_pair_is_an_ordinary_character(app, client, sign_in, school):
    sign_in(school.staff)
    response = post_incident(client, payload(school, location="Playground \U0001f3eb"))
    assert response.status_code == 201, response.get_json()
    with app.app_context():
        assert db.session.scalar(sa.select(Incident.location)) == "Playground \U0001f3eb"


def test_a_written_backslash_u_d800_is_only_text(app, client, sign_in, school):
    sign_in(school.staff)
    response = post_incident(client, payload(school, location="Room \\ud800"))
    assert response.status_code == 201, response.get_json()


def test_an_on_behalf_name_over_120_characters_adds_no_action(
    app, client, sign_in, school, record_incident
):
    number = record_incident(school.staff, school.ada)
    sign_in(school.staff)
    for name, role in (("N" * 20_001, "Cook"), ("Nia", "R" * 121)):
        response = client.post(
            f"/incidents/{number}/actions",
            data={"text": "Told mum.", "on_behalf_name": name, "on_behalf_role": role},
            headers={"Accept": "application/json"},
        )
        assert response.status_code == 422, response.get_data(as_text=True)
    assert count(app, Action) == 0


def test_the_add_action_domain_function_refuses_a_long_name(app, school, record_incident):
    number = record_incident(school.staff, school.ada)
    with app.test_request_context():
        author = db.session.get(User, school.staff.id)
        with pytest.raises(IncidentRefused, match="120 characters"):
            add_action(
                author,
                incident_by_number(number),
                "Told mum.",
                on_behalf_name="N" * 121,
                on_behalf_role="Cook",
            )


NESTED = "[" * 5_000 + "]" * 5_000


@pytest.mark.parametrize("path", ["/passkeys/step-up", "/passkeys/register"])
@pytest.mark.parametrize("depth", [5_000, 900, 40])
def test_a_credential_nested_thousands_deep_is_refused(
    app, client, make_user, sign_in, path, depth
):
    sign_in(make_user(Role.DSL))
    before = count(app, PasskeyCredential)
    nested = "[" * depth + "]" * depth
    body = '{"name": "iPad", "credential": ' + nested + "}"
    response = client.post(
        path, data=body, content_type="application/json", headers={"Accept": "application/json"}
    )
    assert 400 <= response.status_code < 500, response.get_data(as_text=True)
    assert response.get_json()["message"]
    assert count(app, PasskeyCredential) == before


def test_a_form_field_of_json_nested_thousands_deep_is_refused(app, client, sign_in, school):
    sign_in(school.staff)
    response = client.post(
        "/api/incidents",
        data={"incident": '{"a": ' + NESTED + "}", "files": [(io.BytesIO(PDF), "a.pdf")]},
        content_type="multipart/form-data",
    )
    assert 400 <= response.status_code < 500
    assert count(app, Incident) == 0


BLANK_LOOKING = ['""', '""\n,,\n', ",,,\n,,,\n", '"",""\r\n\r\n', ";;\n"]


@pytest.mark.parametrize("text", BLANK_LOOKING)
def test_a_roster_file_with_no_cell_filled_is_refused(app_context, text):
    with pytest.raises(RosterFileError, match="empty"):
        import_pupils(text.encode())


@pytest.mark.parametrize("text", BLANK_LOOKING)
def test_a_blank_looking_roster_upload_is_a_clear_refusal(
    app, client, make_user, sign_in, step_up, text
):
    sign_in(make_user(Role.ADMIN))
    step_up()
    before = count(app, Pupil)
    response = client.post(
        "/admin/roster/import",
        data={"kind": "pupils", "file": (io.BytesIO(text.encode()), "roll.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 422, response.status_code
    assert "The file is empty" in response.get_data(as_text=True)
    assert count(app, Pupil) == before


def test_json_body_with_duplicate_keys_and_odd_types_is_not_a_500(client, sign_in, school):
    sign_in(school.staff)
    body = json.dumps(payload(school))[:-1] + ', "account": 7, "account": [1]}'
    response = client.post("/api/incidents", data=body, content_type="application/json")
    assert response.status_code == 422


# --- Found by tests/test_fuzz.py ---------------------------------------------------------------


def test_a_multipart_part_without_a_readable_name_is_not_a_500(client):
    body = b'--fuzz\r\nContent-Disposition: form-data; name="\r"\r\n\r\n\r\n--fuzz--\r\n'
    response = client.post(
        "/auth/sign-in", data=body, content_type="multipart/form-data; boundary=fuzz"
    )
    assert response.status_code < 500


@pytest.mark.parametrize("body", [b'{"email": true}', b'{"email": ["a", 1]}', b"[1, 2]", b'"x"'])
def test_json_that_is_not_form_fields_sent_to_a_form_is_refused(client, body):
    response = client.post("/auth/sign-in", data=body, content_type="application/json")
    assert response.status_code == 400


def test_json_of_plain_strings_still_fills_a_form(client, make_user):
    user = make_user(email="json.form@school.example")
    body = json.dumps({"email": user.email, "password": "Correct-Horse-42!"})
    response = client.post("/auth/sign-in", data=body, content_type="application/json")
    assert response.status_code == 302
