"""Guards every request passes: ids in paths within range, no NUL in text, a sane page number.

PostgreSQL ids are 32-bit integers and its text cannot hold U+0000; SQLite's integers stop at
64 bits. Input beyond either must be refused with a 4xx before any query, on every route,
never answered with a 500 (which the Add Incident page's queue would retry for ever).
"""

import io
import json

import pytest
import sqlalchemy as sa
from werkzeug.routing import IntegerConverter

from server.alerts import operations as alert_operations
from server.alerts.operations import AlertError
from server.auth.models import User
from server.auth.roles import Role
from server.extensions import db
from server.ids import MAX_ID, IdConverter
from server.incidents.models import Action, Incident
from server.request_guards import NUL_REFUSAL
from tests.test_incident_api import PDF, payload, post_incident

HUGE = "9" * 25
OUT_OF_RANGE_IDS = [
    pytest.param(HUGE, id="25 digits"),
    pytest.param(str(MAX_ID + 1), id="2**31"),
    pytest.param("99999999999", id="11 digits"),
    pytest.param("9" * 5000, id="5000 digits"),
    pytest.param("0", id="zero"),
    pytest.param("٣", id="arabic-indic digit"),
]
# Each path with {id} where an id goes; signed in as someone the route allows.
ID_PATHS = [
    pytest.param("POST", "/alerts/{id}/read", id="alert read"),
    pytest.param("POST", "/alerts/incident/{id}/read", id="incident read"),
    pytest.param("GET", "/passkeys/{id}/rename", id="passkey rename"),
    pytest.param("GET", "/admin/users/{id}", id="admin user"),
    pytest.param("GET", "/admin/classes/{id}", id="admin class"),
    pytest.param("GET", "/incidents/{id}", id="incident"),
    pytest.param("POST", "/incidents/{id}/actions", id="incident action"),
    pytest.param("GET", "/incidents/1001/files/{id}", id="incident file"),
]


@pytest.fixture
def lead(client, make_user, sign_in, step_up) -> User:
    """Signed in with review unlocked, and allowed on every route in ID_PATHS."""
    person = make_user(Role.DSL, Role.ADMIN, full_name="Rowan Lead")
    sign_in(person)
    step_up()
    return person


# --- Ids in paths --------------------------------------------------------------------------


@pytest.mark.parametrize("method, path", ID_PATHS)
@pytest.mark.parametrize("value", OUT_OF_RANGE_IDS)
def test_an_id_out_of_range_is_not_found_on_every_route(client, lead, method, path, value):
    response = client.open(path.format(id=value), method=method)
    assert response.status_code == 404
    assert "There is nothing at this address." in response.get_data(as_text=True)


@pytest.mark.parametrize("method, path", ID_PATHS)
def test_the_largest_id_still_reaches_the_view(app, client, lead, method, path):
    """MAX_ID itself is in range: the router passes it on and the view finds no such record."""
    adapter = app.url_map.bind("haven.example")
    _endpoint, values = adapter.match(path.format(id=MAX_ID), method=method)
    assert MAX_ID in values.values()
    assert client.open(path.format(id=MAX_ID), method=method).status_code == 404


def test_an_out_of_range_id_is_not_found_for_a_script_too(client, lead):
    response = client.post(f"/alerts/{HUGE}/read", headers={"Accept": "application/json"})
    assert response.status_code == 404
    assert response.get_json()["error"] == "Not Found"


def test_every_int_in_a_route_is_a_bounded_id(app):
    converters = [
        converter
        for rule in app.url_map.iter_rules()
        for converter in (rule._converters or {}).values()
        if isinstance(converter, IntegerConverter)
    ]
    assert converters, "the app has routes with ids"
    for converter in converters:
        assert isinstance(converter, IdConverter)
        assert (converter.min, converter.max) == (1, MAX_ID)


@pytest.mark.parametrize("value", ["1", "007", str(MAX_ID)])
def test_the_converter_accepts_ids(app, value):
    assert IdConverter(app.url_map).to_python(value) == int(value)


def test_alert_lookups_by_id_refuse_what_is_not_an_id(app_context, make_user):
    person = db.session.get(User, make_user(Role.SLT).id)
    for value in (MAX_ID + 1, 10**25, 0, -1, "12", True, None):
        with pytest.raises(AlertError) as refused:
            alert_operations.own_alert(person, value)
        assert refused.value.status == 404
        with pytest.raises(AlertError) as refused:
            alert_operations.incident_by_number(value)
        assert refused.value.status == 404


# --- The pupils list's page number ---------------------------------------------------------


@pytest.mark.parametrize("page", [HUGE, "9" * 5000, "-3", "0", "two", "1.5", ""])
def test_a_page_that_is_not_a_page_number_shows_the_first_page(client, lead, make_pupil, page):
    make_pupil("Nia", "Okafor")
    response = client.get("/admin/pupils", query_string={"page": page})
    assert response.status_code == 200
    assert "Okafor" in response.get_data(as_text=True)


def test_a_page_beyond_the_last_is_empty_not_an_error(client, lead, make_pupil):
    make_pupil("Nia", "Okafor")
    response = client.get("/admin/pupils", query_string={"page": str(MAX_ID)})
    assert response.status_code == 200
    assert "Okafor" not in response.get_data(as_text=True)


# --- NUL (U+0000) in text ------------------------------------------------------------------


def refused_page(response) -> bool:
    return response.status_code == 400 and NUL_REFUSAL in response.get_data(as_text=True)


def refused_json(response) -> bool:
    return response.status_code == 400 and response.get_json()["message"] == NUL_REFUSAL


def count(app, model) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def test_nul_in_a_public_form_is_refused(client):
    response = client.post("/auth/reset-password", data={"email": "a\x00b@x.example"})
    assert refused_page(response)


@pytest.mark.parametrize("query", ["next=%00", "next=/a%00b", "a%00=1"])
def test_nul_in_the_query_string_is_refused(client, query):
    assert refused_page(client.get(f"/auth/sign-in?{query}"))


def test_nul_in_a_path_is_refused(client):
    assert refused_page(client.get("/auth/reset-password/a%00b"))


def test_nul_in_a_search_is_refused(client, lead):
    assert refused_page(client.get("/admin/pupils?q=a%00b"))


def test_nul_in_a_name_adds_no_one(app, client, lead):
    before = count(app, User)
    response = client.post(
        "/admin/users/new",
        data={"full_name": "Nul\x00Person", "email": "nul@school.example", "roles": ["staff"]},
    )
    assert refused_page(response)
    assert count(app, User) == before


def test_nul_in_an_action_is_refused(app, client, sign_in, school, record_incident):
    number = record_incident(school.staff, school.ada)
    sign_in(school.staff)
    response = client.post(f"/incidents/{number}/actions", data={"text": "Told\x00 mum."})
    assert refused_page(response)
    assert count(app, Action) == 0


def test_nul_answers_json_to_a_script(client, sign_in, school, record_incident):
    number = record_incident(school.staff, school.ada)
    sign_in(school.staff)
    response = client.post(
        f"/incidents/{number}/actions",
        data={"text": "Told\x00 mum."},
        headers={"Accept": "application/json"},
    )
    assert refused_json(response)


@pytest.mark.parametrize(
    "account",
    [
        pytest.param("Said \x00 nothing.", id="escaped by json.dumps"),
        pytest.param("\x00", id="alone"),
    ],
)
def test_nul_in_an_incident_is_refused_and_nothing_written(app, client, sign_in, school, account):
    sign_in(school.staff)
    assert refused_json(post_incident(client, payload(school, account=account)))
    assert refused_json(
        post_incident(client, payload(school, account=account), files=[("a.pdf", PDF)])
    )
    assert count(app, Incident) == 0


@pytest.mark.parametrize("escape", ["\\u0000", "\\U0000", "\\\\\\u0000"])
def test_the_json_escape_for_nul_is_refused_however_written(client, sign_in, school, escape):
    sign_in(school.staff)
    body = json.dumps(payload(school, account="ACCOUNT")).replace("ACCOUNT", f"A{escape}B")
    response = client.post("/api/incidents", data=body, content_type="application/json")
    assert refused_json(response)


def test_a_raw_nul_in_a_json_body_is_refused(client, sign_in, school):
    sign_in(school.staff)
    body = json.dumps(payload(school, account="ACCOUNT")).replace("ACCOUNT", "A\x00B")
    response = client.post("/api/incidents", data=body, content_type="application/json")
    assert refused_json(response)


def test_a_written_backslash_u0000_is_only_text(app, client, sign_in, school):
    """`\\\\u0000` in JSON is a backslash then "u0000": no NUL, so it is accepted."""
    sign_in(school.staff)
    response = post_incident(client, payload(school, account="Typed C:\\u0000 on the board."))
    assert response.status_code == 201, response.get_json()
    with app.app_context():
        assert db.session.scalar(sa.select(Incident.account)) == "Typed C:\\u0000 on the board."


def test_files_may_hold_nul_bytes(app, client, sign_in, school):
    sign_in(school.staff)
    pdf = PDF.replace(b"<<>>", b"<< /Data (\x00\x00\x01) >>", 1)
    assert b"\x00" in pdf
    response = client.post(
        "/api/incidents",
        data={"incident": json.dumps(payload(school)), "files": [(io.BytesIO(pdf), "a.pdf")]},
        content_type="multipart/form-data",
    )
    assert response.status_code == 201, response.get_json()
    assert count(app, Incident) == 1


def test_nul_is_refused_in_an_incident_sent_with_large_files(app, client, sign_in, school):
    """The API raises the size limit before reading the body: the check waits until it is read."""
    sign_in(school.staff)
    eleven_mb = PDF.ljust(11 * 1024 * 1024, b" ")
    body = payload(school, account="Said \x00 nothing.")
    response = post_incident(client, body, files=[("a.pdf", eleven_mb), ("b.pdf", eleven_mb)])
    assert refused_json(response)
    assert count(app, Incident) == 0
