"""Property-based fuzzing of every endpoint that takes input (issue 11).

Hypothesis sends generated bad input — wrong types, huge and odd Unicode, lone surrogates,
NUL, deep nesting, duplicate keys, wrong content types, oversize bodies — to every POST
endpoint and every page's query string, as each role (signed in and stepped up) and as
nobody. Whatever arrives, the answer is never a 5xx, and a refused request (4xx) writes no
record and no file. The number of examples is bounded by the "haven" profile below so the
suite stays fast on both databases; HYPOTHESIS_PROFILE=haven-long searches harder.
"""

import json
import os
import string
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import quote, urlencode

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from server.alerts.models import Alert
from server.auth.roles import Role
from server.extensions import db
from server.incidents.files import Upload
from server.incidents.models import IncidentFile
from tests.conftest import HavenClient

settings.register_profile(
    "haven",
    max_examples=150,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
settings.register_profile(
    "haven-long",
    max_examples=2_000,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "haven"))

# Signing out or blanking the screen ends or locks the fuzzing client's own session, and
# take no input; static files and the service worker take none either.
NOT_FUZZED = {"auth.sign_out", "auth.blank_screen", "static", "static_unversioned",
              "offline.service_worker", "offline.service_worker_module"}  # fmt: skip
# Rows a refused request must never add (audit rows and throttling counts may: they record
# the refusal itself).
RECORD_TABLES = (
    "incidents", "actions", "incident_events", "incident_files", "alerts", "incident_reads",
    "users", "pupils", "school_classes", "passkey_credentials", "categories", "agencies",
    "alert_rules", "user_roles", "class_teachers", "devices",
)  # fmt: skip
ROLES = [None, Role.STAFF, Role.CLASS_TEACHER, Role.PASTORAL, Role.SLT, Role.DSL, Role.ADMIN]
FIELD_NAMES = [
    "email", "password", "current_password", "new_password", "confirm_password", "full_name",
    "initials", "roles", "active", "text", "note", "kind", "reason", "category_ids",
    "assignee_id", "due_on", "on_behalf_name", "on_behalf_role", "name", "teachers", "file",
    "dry_run", "mark_leavers", "confirm_leavers", "incident", "next", "q", "page", "credential",
    "pupil_id", "uuid", "occurred_at", "location", "account", "parents_contacted",
    "parents_reason", "medical_attention", "body_marks", "linked_pupil_ids", "agency_ids",
    "extra_recipient_ids", "urgent", "on_behalf", "teacher_ids", "rules", "recipients",
]  # fmt: skip

# --- Strategies: bad input of every kind -----------------------------------------------------

surrogates = st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF)
odd_text = st.one_of(
    st.text(max_size=40),
    st.text(alphabet=st.characters(codec=None, exclude_categories=()), max_size=20),
    st.builds(lambda a, s, b: a + s + b, st.text(max_size=5), surrogates, st.text(max_size=5)),
    st.sampled_from(["\x00", "a\x00b", "\ufeff", "\u202e", "𝕳𝖆𝖛𝖊𝖓", "\r\n", "' OR 1=1 --",
                     "<script>", "../../etc/passwd", "%00", "-1", "1e999", "NaN", "9" * 40]),
    st.integers(min_value=1_000, max_value=200_000).map(lambda n: "x" * n),
)  # fmt: skip
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    odd_text,
)
json_values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.one_of(st.sampled_from(FIELD_NAMES), odd_text), children, max_size=4),
    ),
    max_leaves=12,
)
json_objects = st.dictionaries(st.sampled_from(FIELD_NAMES), json_values, max_size=8)


def _deeply_nested(depth: int) -> bytes:
    return b'{"credential": ' + b"[" * depth + b"]" * depth + b"}"


def _duplicate_keys(pair) -> bytes:
    key, values = pair
    return ("{" + ", ".join(f"{json.dumps(key)}: {json.dumps(v)}" for v in values) + "}").encode()


def _json_text(value) -> bytes:
    # ensure_ascii escapes lone surrogates (\ud800), exactly as a script would send them.
    return json.dumps(value, ensure_ascii=True).encode()


raw_json_bodies = st.one_of(
    json_objects.map(_json_text),
    json_values.map(_json_text),
    st.integers(min_value=30, max_value=20_000).map(_deeply_nested),
    st.tuples(st.sampled_from(FIELD_NAMES), st.lists(json_values, min_size=2, max_size=3)).map(
        _duplicate_keys
    ),
    st.binary(max_size=200),
    st.sampled_from([b"", b"{", b'{"a": "\\ud800"}', b'{"a": "\\udc00\\ud800"}', b"\xff\xfe",
                     b'"\\u0000"', b"[" * 100_000, b"null", b"1e99999"]),
)  # fmt: skip
form_fields = st.dictionaries(
    st.one_of(st.sampled_from(FIELD_NAMES), odd_text),
    st.one_of(odd_text, st.lists(odd_text, max_size=3)),
    max_size=6,
)
content_types = st.sampled_from(
    ["text/plain", "application/xml", "application/x-www-form-urlencoded",
     "multipart/form-data", "multipart/form-data; boundary=", "application/json; charset=latin1",
     "application/octet-stream", "image/png"]
)  # fmt: skip


# --- The school the fuzzer attacks -----------------------------------------------------------


@pytest.fixture
def target(app, make_user, sign_in, step_up, school, record_incident, make_passkey, make_device):
    number = record_incident(school.staff, school.ada, files=[Upload("note.txt", b"Notes.\n")])
    app.test_client_class = HavenClient  # each client sends the CSRF token, as a browser does
    clients = {None: app.test_client()}
    for role in ROLES[1:]:
        user = make_user(role)
        client = app.test_client()
        sign_in(user, test_client=client)
        step_up(test_client=client)
        clients[role] = client
    passkey_id = make_passkey(school.dsl)
    with app.app_context():
        file_id = db.session.scalar(sa.select(IncidentFile.id))
        alert_id = db.session.scalar(sa.select(Alert.id))
    values = {"number": number, "file_id": file_id, "alert_id": alert_id or 1,
              "class_id": school.class_4b, "user_id": school.teacher.id,
              "passkey_id": passkey_id, "token": "not-a-token",
              "device_id": make_device(school.teacher).device_id,
              "filename": "push.js", "request_id": 1, "pupil_id": school.ada,
              "run_id": 1}  # fmt: skip
    endpoints = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint in NOT_FUZZED:
            continue
        path = rule.rule
        for argument in rule.arguments:
            # An id the school has not got (1) is a 404 past the route's own rule: fuzzed too.
            value = str(values.get(argument, 1))
            path = path.replace(f"<int:{argument}>", value)
            path = path.replace(f"<{argument}>", value)
            path = path.replace(f"<path:{argument}>", value)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            endpoints.append((method, path))
    return SimpleNamespace(app=app, clients=clients, endpoints=sorted(endpoints))


def _fingerprint(app) -> tuple:
    counts = ", ".join(f"(SELECT count(*) FROM {table})" for table in RECORD_TABLES)
    with app.app_context():
        rows = db.session.execute(sa.text(f"SELECT {counts}")).one()  # noqa: S608
    uploads = Path(app.config["UPLOAD_DIR"])
    return tuple(rows), len(list(uploads.iterdir())) if uploads.exists() else 0


def _send(target, role, method, path, **request):
    app = target.app
    client = target.clients[role]
    before = _fingerprint(app)
    response = client.open(path, method=method, **request)
    assert response.status_code < 500, (method, path, role, response.status_code)
    if response.status_code >= 400:
        assert _fingerprint(app) == before, (method, path, role, "wrote despite refusing")
    return response


def _unsafe(target):
    return [(m, p) for m, p in target.endpoints if m != "GET"]


roles = st.sampled_from(ROLES)


@given(data=st.data())
def test_json_bodies_of_every_kind(target, data):
    method, path = data.draw(st.sampled_from(_unsafe(target)), label="endpoint")
    body = data.draw(raw_json_bodies, label="body")
    _send(target, data.draw(roles, label="role"), method, path, data=body,
          content_type="application/json", headers={"Accept": "application/json"})  # fmt: skip


def _bytes(text: str) -> bytes:
    """Text as a client puts it on the wire: a lone surrogate becomes its (invalid) bytes."""
    return text.encode("utf-8", "surrogatepass")


def _pairs(fields: dict) -> list[tuple[bytes, bytes]]:
    return [
        (_bytes(key), _bytes(item))
        for key, value in fields.items()
        for item in (value if isinstance(value, list) else [value])
    ]


def _urlencoded(fields: dict) -> bytes:
    return urlencode(_pairs(fields)).encode()


def _multipart(fields: dict, boundary: bytes = b"fuzzfuzzfuzz") -> bytes:
    parts = [
        b"--" + boundary + b'\r\nContent-Disposition: form-data; name="' + key.replace(b'"', b"")
        + b'"\r\n\r\n' + value + b"\r\n"
        for key, value in _pairs(fields)
    ]
    return b"".join(parts) + b"--" + boundary + b"--\r\n"


@given(data=st.data())
def test_forms_of_every_kind(target, data):
    method, path = data.draw(st.sampled_from(_unsafe(target)), label="endpoint")
    fields = data.draw(form_fields, label="fields")
    role = data.draw(roles, label="role")
    if data.draw(st.booleans(), label="multipart"):
        _send(target, role, method, path, data=_multipart(fields),
              content_type="multipart/form-data; boundary=fuzzfuzzfuzz")  # fmt: skip
    else:
        _send(target, role, method, path, data=_urlencoded(fields),
              content_type="application/x-www-form-urlencoded")  # fmt: skip


@given(data=st.data())
def test_wrong_content_types_and_raw_bytes(target, data):
    method, path = data.draw(st.sampled_from(_unsafe(target)), label="endpoint")
    body = data.draw(st.one_of(st.binary(max_size=300), raw_json_bodies), label="body")
    content_type = data.draw(content_types, label="content type")
    _send(target, data.draw(roles), method, path, data=body, content_type=content_type)


@given(data=st.data())
def test_query_strings_on_every_page(target, data):
    method, path = data.draw(st.sampled_from(target.endpoints), label="endpoint")
    query = data.draw(
        st.lists(
            st.tuples(
                st.one_of(st.sampled_from(FIELD_NAMES), st.text(string.printable, max_size=8)),
                st.one_of(odd_text, st.sampled_from(["%ED%A0%80", "%00", "%FF", "-1", "99999"])),
            ),
            max_size=4,
        ),
        label="query",
    )
    raw = "&".join(f"{quote(_bytes(key))}={quote(_bytes(value), safe='%')}" for key, value in query)
    _send(target, data.draw(roles), method, f"{path}?{raw}" if raw else path)


def test_oversize_bodies_are_refused_everywhere(target):
    too_big = b"x" * (target.app.config["MAX_CONTENT_LENGTH"] + 1)
    for method, path in _unsafe(target):
        for role in (None, Role.DSL, Role.ADMIN):
            for content_type in ("application/json", "application/x-www-form-urlencoded"):
                response = _send(target, role, method, path, data=too_big,
                                 content_type=content_type)  # fmt: skip
                # Too large (413), or refused before the body is read (401, 403).
                assert response.status_code in (401, 403, 413), (method, path, role)
