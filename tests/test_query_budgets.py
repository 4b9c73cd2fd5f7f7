"""Query budgets (issue 12): how many SQL statements a request makes, counted with a
`before_cursor_execute` listener. Deterministic, unlike timings, which are never asserted here
(`bench/http.py` measures those).

Transaction control (BEGIN, SAVEPOINT, RELEASE: the test's rolled-back transaction turns each
commit into a savepoint) is not counted: it is not a query a page asks for.
"""

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import pytest
import sqlalchemy as sa
from flask import Flask

from server.auth.models import UserSession
from server.auth.roles import Role
from server.clock import utcnow
from server.extensions import db

BEFORE_VIEW_BUDGET = 2
SUBMISSION_BUDGET = 12
_TRANSACTION_CONTROL = ("BEGIN", "SAVEPOINT", "RELEASE", "ROLLBACK", "COMMIT")


class Statements(list):
    @property
    def count(self) -> int:
        return len(self)

    def __str__(self) -> str:
        return "\n".join(f"{n}. {statement[:300]}" for n, statement in enumerate(self, 1))


@contextmanager
def counted(app: Flask) -> Iterator[Statements]:
    statements = Statements()

    def note(_connection, _cursor, statement, *_args):
        if not statement.lstrip().upper().startswith(_TRANSACTION_CONTROL):
            statements.append(statement)

    with app.app_context():
        engine = db.engine
    sa.event.listen(engine, "before_cursor_execute", note)
    try:
        yield statements
    finally:
        sa.event.remove(engine, "before_cursor_execute", note)


@pytest.fixture
def before_view(app, monkeypatch):
    """before_view(endpoint) -> a list that receives, at each call of that view, the SQL
    statements the request had made before the view began."""

    def _watch(endpoint: str, statements: Statements) -> list[Statements]:
        seen: list[Statements] = []
        view = app.view_functions[endpoint]

        def watched(*args, **kwargs):
            seen.append(Statements(statements))
            return view(*args, **kwargs)

        monkeypatch.setitem(app.view_functions, endpoint, watched)
        return seen

    return _watch


def _payload(school, **fields) -> dict:
    return {
        "uuid": str(uuid.uuid4()),
        "pupil_id": school.ada,
        "occurred_at": (utcnow() - timedelta(minutes=5)).replace(microsecond=0).isoformat(),
        "location": "Playground",
        "account": "Said they were pushed by the climbing frame.",
        "parents_contacted": "yes",
        "medical_attention": "not_needed",
        "category_ids": [school.vocabulary["Behaviour"]],
        **fields,
    }


JSON = {"Accept": "application/json"}


# --- Before the view ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("endpoint", "method", "path"),
    [
        ("home.index", "GET", "/"),
        ("incidents.new", "GET", "/incidents/new"),
        ("incidents.roster", "GET", "/api/roster"),
        ("incidents.submit", "POST", "/api/incidents"),
    ],
)
def test_a_signed_in_request_makes_at_most_two_queries_before_its_view(
    app, client, school, sign_in, before_view, endpoint, method, path
):
    sign_in(school.teacher)
    client.get("/")  # the first request after sign-in has nothing left to write
    with counted(app) as statements:
        seen = before_view(endpoint, statements)
        body = _payload(school) if method == "POST" else None
        client.open(path, method=method, json=body, headers=JSON)
    assert len(seen) == 1
    assert seen[0].count <= BEFORE_VIEW_BUDGET, str(seen[0])


def test_the_session_its_user_and_roles_come_in_one_query(
    app, client, school, sign_in, before_view
):
    sign_in(school.dsl)
    client.get("/")
    with counted(app) as statements:
        seen = before_view("incidents.new", statements)
        client.get("/incidents/new")
    assert seen[0].count == 1, str(seen[0])
    assert "user_sessions" in seen[0][0] and "user_roles" in seen[0][0]


def test_activity_is_written_at_most_once_a_minute(app, client, school, sign_in, time_machine):
    time_machine.move_to(utcnow(), tick=False)
    sign_in(school.teacher)

    def last_seen():
        with app.app_context():
            return db.session.scalar(
                sa.select(UserSession.last_seen_at).where(
                    UserSession.user_id == school.teacher.id, UserSession.ended_at.is_(None)
                )
            )

    signed_in_at = last_seen()
    time_machine.shift(timedelta(seconds=30))
    with counted(app) as statements:
        assert client.get("/incidents/new").status_code == 200
    assert not [s for s in statements if s.lstrip().upper().startswith("UPDATE")], str(statements)
    assert last_seen() == signed_in_at
    time_machine.shift(timedelta(seconds=31))
    assert client.get("/incidents/new").status_code == 200
    assert last_seen() == signed_in_at + timedelta(seconds=61)


def test_an_unwritten_request_never_makes_the_idle_sign_out_late(
    app, client, school, sign_in, time_machine
):
    """Activity within the minute after a write is not written: the session still ends ten
    minutes after the written activity, never later."""
    time_machine.move_to(utcnow(), tick=False)
    sign_in(school.teacher)
    time_machine.shift(timedelta(seconds=30))
    assert client.get("/").status_code == 200  # not written
    time_machine.shift(timedelta(minutes=9, seconds=30))
    response = client.get("/")
    assert response.status_code == 302 and "/auth/sign-in" in response.headers["Location"]


def test_the_keep_alive_is_always_written(app, client, school, sign_in, time_machine):
    time_machine.move_to(utcnow(), tick=False)
    sign_in(school.teacher)
    time_machine.shift(timedelta(seconds=20))
    answer = client.post("/auth/session/keep-alive", headers=JSON).get_json()
    assert answer["seconds_remaining"] == 600


# --- Whole requests -------------------------------------------------------------------------


# Whole pages: the session (1), the menu's unread count (1, over unread rows only), the
# passkey reminder (1), and for the home page its own lists (the workspace, server/home); the
# DSL's home also lists the transfers still awaiting a receipt (1, server/transfer). Add
# Incident carries the form's data: the roster (1), the vocabulary (3) and the staff (2), which
# were three requests of their own before (each with its session query).
@pytest.mark.parametrize(
    ("role", "path", "budget"),
    [
        (Role.CLASS_TEACHER, "/", 11),
        (Role.DSL, "/", 13),
        (Role.STAFF, "/", 10),
        (Role.CLASS_TEACHER, "/incidents/new", 9),
        (Role.CLASS_TEACHER, "/api/roster", 2),
        (Role.DSL, "/api/roster", 2),
    ],
)
def test_pages_stay_within_their_query_budget(app, client, school, sign_in, role, path, budget):
    user = {Role.CLASS_TEACHER: school.teacher, Role.DSL: school.dsl, Role.STAFF: school.staff}
    sign_in(user[role])
    client.get(path)  # once, so the figure is the steady state, not the first request's
    with counted(app) as statements:
        assert client.get(path, headers=JSON if path.startswith("/api") else {}).status_code == 200
    assert statements.count <= budget, str(statements)


def test_the_roster_is_one_query_however_many_pupils(app, client, school, sign_in, make_pupil):
    sign_in(school.teacher)
    client.get("/api/roster")
    make_pupil("First", "Extra", class_id=school.class_4b)
    with counted(app) as few:
        client.get("/api/roster", headers=JSON)
    for n in range(20):
        make_pupil(f"Extra{n}", "Pupil", class_id=school.class_4b if n % 2 else school.class_5c)
    with counted(app) as many:
        client.get("/api/roster", headers=JSON)
    assert many.count == few.count
    assert sum("pupils" in statement for statement in many) == 1, str(many)


def test_the_roster_is_read_again_only_when_the_roll_or_a_class_changes(
    app, client, school, sign_in, make_pupil
):
    from server.pupils.models import SchoolClass

    sign_in(school.teacher)
    first = client.get("/api/roster", headers=JSON).get_data()
    with counted(app) as unchanged:
        again = client.get("/api/roster", headers=JSON).get_data()
    assert again == first
    assert not any("FROM pupils" in statement for statement in unchanged), str(unchanged)
    with app.app_context():
        db.session.get(SchoolClass, school.class_4b).name = "4 Blue"
        db.session.commit()
    renamed = client.get("/api/roster", headers=JSON).get_json()
    assert ["4 Blue", "Year 4"] in renamed["places"]


def test_recording_an_incident_stays_within_its_query_budget(app, client, school, sign_in):
    sign_in(school.teacher)
    client.post("/api/incidents", json=_payload(school), headers=JSON)  # warm caches
    with counted(app) as statements:
        response = client.post("/api/incidents", json=_payload(school), headers=JSON)
    assert response.status_code == 201, response.get_json()
    assert statements.count <= SUBMISSION_BUDGET, str(statements)


def test_an_incident_alerting_many_people_inserts_its_alerts_in_one_statement(
    app, client, school, sign_in, make_user
):
    extra = [make_user(Role.CLASS_TEACHER) for _ in range(4)]
    sign_in(school.teacher)
    client.post("/api/incidents", json=_payload(school), headers=JSON)
    payload = _payload(school, extra_recipient_ids=[user.id for user in extra])
    with counted(app) as statements:
        response = client.post("/api/incidents", json=payload, headers=JSON)
    assert response.status_code == 201, response.get_json()
    inserts = [s for s in statements if s.lstrip().upper().startswith("INSERT INTO ALERTS")]
    assert len(inserts) == 1, str(statements)
    # Choosing people to alert costs one more query: they are loaded, with their roles, to
    # check each may be alerted.
    assert statements.count <= SUBMISSION_BUDGET + 1, str(statements)


# --- The seal worked out from what was written matches the seal read back -------------------


def test_a_new_incidents_seal_is_the_seal_of_its_rows_as_stored(
    app, school, record_incident, make_pupil
):
    """The seal is no longer read back after writing (six queries): it must still be exactly
    what `flask audit verify` recomputes from the rows, on either database."""
    import json

    from server.audit.models import AuditEvent
    from server.audit.seals import seal
    from server.incidents.files import Upload
    from server.incidents.models import Incident

    other = make_pupil("Cai", "Linked", class_id=school.class_4b)
    number = record_incident(
        school.teacher,
        school.ada,
        categories=("Behaviour", "Bullying"),
        files=[Upload("note.txt", b"A small note.\n")],
        occurred_at="2025-06-01T09:15:30.123456+01:00",
        linked_pupil_ids=[other],
        agency_ids=[school.vocabulary["Police"]],
        body_marks=[
            {"side": "front", "x": 0.1, "y": 0.333333333333, "kind": "bruise", "note": " a "},
            {"side": "back", "x": 1, "y": 0, "kind": "cut"},
        ],
        on_behalf={"name": "Mo Midday", "role": "Lunchtime supervisor"},
        urgent=True,
        parents_contacted="no",
        parents_reason="Could not reach them.",
    )
    with app.app_context():
        incident = db.session.scalar(sa.select(Incident).where(Incident.number == number))
        created = db.session.scalar(
            sa.select(AuditEvent).where(
                AuditEvent.action == "incident.created", AuditEvent.object_id == str(incident.id)
            )
        )
        sealed = json.loads(created.details)["seal"]
        assert sealed == seal("incident", incident.id)


# --- The home page as the school's history grows (the workspace, server/home) ----------------

# The session, the menu's count, the passkey reminder, and the workspace's lists with their
# parts (events, categories, authors' roles, pupils), and the DSL's transfers awaiting a
# receipt: fixed, whatever the history.
HOME_BUDGET = 28


def _home_history(app, school, record_incident, rounds: int, assignee) -> None:
    """`rounds` times the same shape of history, so every list of the workspace is as empty
    or as full with one round as with many: an urgent and a routine incident about Ada (the
    routine one closed, the urgent one with an action for `assignee`) and a Safeguarding one
    about Ben."""
    from flask import g

    from server.auth.models import User
    from server.incidents.models import Incident
    from server.incidents.operations import add_action, change_status

    for _ in range(rounds):
        urgent = record_incident(school.staff, school.ada, urgent=True)
        routine = record_incident(school.staff, school.ada)
        record_incident(school.dsl, school.ben, categories=["Safeguarding – Neglect"])
        with app.test_request_context():
            now = utcnow()
            g.user_session = UserSession(
                stepped_up_at=now, last_assertion_at=now, review_active_at=now
            )
            dsl = db.session.get(User, school.dsl.id)

            def incident(number):
                return db.session.scalar(sa.select(Incident).where(Incident.number == number))

            change_status(dsl, incident(routine), "closed", "Done.")
            add_action(dsl, incident(urgent), "Call home.", assignee_id=str(assignee.id))
            db.session.commit()


@pytest.mark.parametrize(
    ("who", "unlocked"),
    [("dsl", True), ("dsl", False), ("teacher", True), ("teacher", False), ("staff", False)],
)
def test_the_home_page_takes_the_same_queries_however_long_the_history(
    app, client, school, sign_in, step_up, record_incident, who, unlocked
):
    user = getattr(school, who)
    _home_history(app, school, record_incident, 1, user)
    sign_in(user)
    if unlocked:
        step_up()
    client.get("/")
    with counted(app) as few:
        assert client.get("/").status_code == 200
    _home_history(app, school, record_incident, 4, user)
    client.get("/")
    with counted(app) as many:
        assert client.get("/").status_code == 200
    assert many.count == few.count, str(many)
    assert many.count <= HOME_BUDGET, str(many)
    # Every read of the derived tables is bounded: the lists and capped counts are LIMITed.
    for statement in many:
        if "FROM incident_state" in statement or "FROM alert_unread" in statement:
            assert "LIMIT" in statement.upper(), statement
