"""The pupil record and chronology (issue 10, SPEC §7, §9): scope, filters, audit, who viewed,
actions from the chronology, finding a pupil, and a query budget that does not grow."""

from datetime import timedelta
from itertools import product

import flask
import pytest
import sqlalchemy as sa
import time_machine

from server.audit.models import AuditEvent
from server.auth.models import User, UserSession
from server.auth.roles import Role
from server.chronology.build import build_chronology
from server.chronology.operations import find_pupils, who_viewed
from server.clock import utcnow
from server.extensions import db
from server.incidents import policy
from server.incidents.models import Action, Incident
from server.incidents.operations import add_action, change_status, correct_incident
from server.pupils.models import Pupil


def _stepped_up() -> UserSession:
    now = utcnow()
    return UserSession(stepped_up_at=now, last_assertion_at=now, review_active_at=now)


def _user(user) -> User:
    return db.session.get(User, user.id)


def _incident(number) -> Incident:
    return db.session.scalar(sa.select(Incident).where(Incident.number == number))


@pytest.fixture
def story(app, school, make_user, record_incident):
    """Ada's year: an ordinary incident by her teacher, a Safeguarding one by the dsl, one the
    teacher wrote that the dsl re-categorised as Safeguarding, one about Ben naming Ada, and one
    about Ben alone. Actions and a closing follow."""
    school.late_dsl = make_user(Role.DSL, full_name="Dee Later")
    school.bystander = make_user(Role.STAFF, full_name="By Stander")
    start = utcnow() - timedelta(days=40)
    numbers = {}
    with time_machine.travel(start, tick=False):
        numbers["ordinary"] = record_incident(
            school.teacher, school.ada, occurred_at=start.replace(microsecond=0).isoformat()
        )
    with time_machine.travel(start + timedelta(days=5), tick=False):
        numbers["sensitive"] = record_incident(
            school.dsl, school.ada, categories=["Safeguarding – Neglect"]
        )
        numbers["recategorised"] = record_incident(
            school.teacher, school.ada, categories=["Cause for concern – Safeguarding disclosure"]
        )
    with time_machine.travel(start + timedelta(days=10), tick=False):
        numbers["linked"] = record_incident(
            school.other_teacher, school.ben, linked_pupil_ids=[school.ada]
        )
        numbers["ben_only"] = record_incident(school.other_teacher, school.ben)
    with time_machine.travel(start + timedelta(days=12)), app.test_request_context():
        flask.g.user_session = _stepped_up()
        dsl = _user(school.dsl)
        add_action(dsl, _incident(numbers["ordinary"]), "Rang home; mother aware.")
        correct_incident(
            dsl,
            _incident(numbers["recategorised"]),
            "recategorised",
            "A disclosure of neglect.",
            category_ids=[school.vocabulary["Safeguarding – Neglect"]],
        )
        change_status(dsl, _incident(numbers["ordinary"]), "closed", "Resolved with family.")
        db.session.commit()
    school.numbers = numbers
    return school


def _numbers(chronology) -> list[int]:
    return [entry.incident.number for entry in chronology.entries if entry.kind == "incident"]


# --- One rule: the SQL form of the visibility policy gives the policy's own answers -------


@pytest.mark.parametrize("unlocked", [False, True], ids=["locked", "stepped-up"])
def test_visible_incidents_in_sql_agrees_with_the_policy_for_every_role(app, story, unlocked):
    people = ["staff", "teacher", "other_teacher", "pastoral", "slt", "dsl", "late_dsl", "admin"]
    with app.test_request_context():
        session_row = _stepped_up() if unlocked else None
        incidents = db.session.scalars(sa.select(Incident)).all()
        for who, incident in product(people, incidents):
            user = _user(getattr(story, who))
            in_sql = db.session.scalar(
                sa.select(Incident.id).where(
                    Incident.id == incident.id, policy.visible_incidents(user, session_row)
                )
            )
            assert (in_sql is not None) == policy.can_view(user, incident, session_row), (
                who,
                incident.number,
            )


# --- What each role's chronology holds ----------------------------------------------------


def test_the_dsls_chronology_holds_everything_about_ada_in_time_order(app, story):
    with app.test_request_context():
        dsl = _user(story.dsl)
        ada = db.session.get(Pupil, story.ada)
        chronology = build_chronology(dsl, ada, _stepped_up(), with_corrections=True)
    n = story.numbers
    assert _numbers(chronology) == [n["ordinary"], n["sensitive"], n["recategorised"], n["linked"]]
    kinds = [(entry.incident.number, entry.kind) for entry in chronology.entries]
    assert kinds[-3:] == [
        (n["ordinary"], "action"),
        (n["recategorised"], "recategorised"),
        (n["ordinary"], "closed"),
    ]
    whens = [entry.when for entry in chronology.entries]
    assert whens == sorted(whens)
    linked = {entry.incident.number: entry.linked for entry in chronology.entries}
    assert linked[n["linked"]] is True and linked[n["ordinary"]] is False


def test_corrections_show_only_for_a_dsl(app, story):
    with app.test_request_context():
        ada = db.session.get(Pupil, story.ada)
        slt = build_chronology(_user(story.slt), ada, _stepped_up(), with_corrections=False)
    assert "recategorised" not in {entry.kind for entry in slt.entries}
    assert "closed" in {entry.kind for entry in slt.entries}


def test_a_class_teachers_chronology_shows_only_their_class_and_nothing_sensitive(app, story):
    with app.test_request_context():
        teacher = _user(story.teacher)
        ada = db.session.get(Pupil, story.ada)
        chronology = build_chronology(teacher, ada, _stepped_up())
    # Not the Safeguarding incident, not the one they wrote that became Safeguarding, and not
    # the incident about Ben (another class) that names Ada.
    assert _numbers(chronology) == [story.numbers["ordinary"]]


def test_a_recategorised_safeguarding_incident_leaves_its_authors_view(
    client, sign_in, step_up, school, record_incident, app
):
    number = record_incident(
        school.teacher, school.ada, categories=["Cause for concern – Safeguarding disclosure"]
    )
    sign_in(school.teacher)
    step_up()
    marker = f'id="incident-{number}"'
    assert marker in client.get(f"/pupils/{school.ada}").get_data(as_text=True)
    with app.test_request_context():
        flask.g.user_session = _stepped_up()
        correct_incident(
            _user(school.dsl),
            _incident(number),
            "recategorised",
            "Neglect.",
            category_ids=[school.vocabulary["Safeguarding – Neglect"]],
        )
        db.session.commit()
    assert marker not in client.get(f"/pupils/{school.ada}").get_data(as_text=True)


def test_a_class_teacher_may_not_open_another_class_pupil(client, sign_in, step_up, story):
    sign_in(story.teacher)
    step_up()
    assert client.get(f"/pupils/{story.ada}").status_code == 200
    assert client.get(f"/pupils/{story.ben}").status_code == 403


def test_the_pupil_record_needs_a_step_up(client, sign_in, story):
    sign_in(story.dsl)
    response = client.get(f"/pupils/{story.ada}")
    assert response.status_code == 302 and "/passkeys/step-up" in response.headers["Location"]


@pytest.mark.parametrize("who", ["staff", "admin"])
def test_roles_that_do_not_review_cannot_open_a_pupil_record(client, sign_in, step_up, story, who):
    sign_in(getattr(story, who))
    assert client.get(f"/pupils/{story.ada}").status_code == 403


def test_the_pupil_record_page_shows_the_chronology(client, sign_in, step_up, story):
    sign_in(story.dsl)
    step_up()
    page = client.get(f"/pupils/{story.ada}").get_data(as_text=True)
    assert "Ada Quill" in page and "4B" in page and "4 Mar 2017" in page
    for number in ("ordinary", "sensitive", "recategorised", "linked"):
        assert f'id="incident-{story.numbers[number]}"' in page
    assert f'id="incident-{story.numbers["ben_only"]}"' not in page
    assert "Linked: about Ben Marsh" in page
    assert "Rang home; mother aware." in page


# --- Filters ------------------------------------------------------------------------------


def _filtered(client, story, **args) -> set[int]:
    response = client.get(f"/pupils/{story.ada}", query_string=args)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    return {n for n in story.numbers.values() if f'id="incident-{n}"' in page}


def test_filters_by_category_dates_author_and_status(client, sign_in, step_up, story):
    sign_in(story.dsl)
    step_up()
    n = story.numbers
    safeguarding = story.vocabulary["Safeguarding"]
    assert _filtered(client, story, category=safeguarding) == {n["sensitive"], n["recategorised"]}
    behaviour = story.vocabulary["Behaviour"]
    assert _filtered(client, story, category=behaviour) == {n["ordinary"], n["linked"]}
    first_day = (utcnow() - timedelta(days=40)).date()
    assert _filtered(client, story, to=first_day.isoformat()) == {n["ordinary"]}
    since = (first_day + timedelta(days=8)).isoformat()
    assert _filtered(client, story, **{"from": since}) == {n["linked"]}
    assert _filtered(client, story, author=story.other_teacher.id) == {n["linked"]}
    assert _filtered(client, story, status="closed") == {n["ordinary"]}
    assert _filtered(client, story, status="open") == {
        n["sensitive"],
        n["recategorised"],
        n["linked"],
    }


def test_filters_by_monitoring_status(app, client, sign_in, step_up, story):
    n = story.numbers
    with app.test_request_context():
        flask.g.user_session = _stepped_up()
        change_status(_user(story.dsl), _incident(n["sensitive"]), "monitoring", "Watch her.")
        db.session.commit()
    sign_in(story.dsl)
    step_up()
    assert _filtered(client, story, status="monitoring") == {n["sensitive"]}
    assert _filtered(client, story, status="open") == {n["recategorised"], n["linked"]}
    page = client.get(f"/pupils/{story.ada}", query_string={"status": "monitoring"}).get_data(
        as_text=True
    )
    assert '<option value="monitoring" selected>Monitoring</option>' in page
    assert 'data-status="monitoring">Monitoring</span>' in page
    assert "Monitoring started" in page and "Watch her." in page


@pytest.mark.parametrize(
    "args",
    [
        {"from": "yesterday"},
        {"to": "2025-02-30"},
        {"from": "2025-03-01", "to": "2025-02-01"},
        {"category": "9" * 40},
        {"author": "x"},
        {"status": "lost"},
    ],
)
def test_unreadable_filters_are_refused_with_a_message(client, sign_in, step_up, story, args):
    sign_in(story.dsl)
    step_up()
    before = _audit_count(client.application)
    response = client.get(f"/pupils/{story.ada}", query_string=args)
    assert response.status_code == 400
    assert "must" in response.get_data(as_text=True) or "Choose" in response.get_data(as_text=True)
    assert _audit_count(client.application) == before


def _audit_count(app, action: str | None = None) -> int:
    with app.test_request_context():
        query = sa.select(sa.func.count(AuditEvent.id))
        if action:
            query = query.where(AuditEvent.action == action)
        return db.session.scalar(query)


# --- Audit and who viewed this child ------------------------------------------------------


def test_opening_a_pupil_record_is_audited_with_its_filters(client, sign_in, step_up, story):
    sign_in(story.slt)
    step_up()
    client.get(f"/pupils/{story.ada}", query_string={"status": "closed"})
    with client.application.test_request_context():
        row = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "pupil.viewed"))
        assert (row.object_type, row.object_id, row.actor_user_id) == (
            "pupil",
            str(story.ada),
            story.slt.id,
        )
        assert '"status": "closed"' in row.details


def test_who_viewed_lists_exactly_the_views_made(client, sign_in, step_up, story, app):
    sign_in(story.slt)
    step_up()
    client.get(f"/pupils/{story.ada}")
    client.get(f"/incidents/{story.numbers['ordinary']}")
    client.get(f"/incidents/{story.numbers['ben_only']}")  # about Ben: not a view of Ada
    client.get(f"/pupils/{story.ben}")  # Ben's record: not Ada's
    client.post("/auth/sign-out")
    sign_in(story.dsl)
    step_up()
    client.get(f"/incidents/{story.numbers['linked']}")  # about Ben, names Ada
    page = client.get(f"/pupils/{story.ada}/viewers").get_data(as_text=True)
    with app.test_request_context():
        views = who_viewed(_user(story.dsl), db.session.get(Pupil, story.ada))
    assert [(v.who, v.what, v.detail) for v in views] == [
        ("Dee Lead", "Opened an incident", f"#{story.numbers['linked']}"),
        ("Sam Leader", "Opened an incident", f"#{story.numbers['ordinary']}"),
        ("Sam Leader", "Opened the pupil record", ""),
    ]
    assert "Sam Leader" in page and "Opened the pupil record" in page


@pytest.mark.parametrize("who", ["slt", "pastoral", "teacher"])
def test_only_a_dsl_sees_who_viewed(client, sign_in, step_up, story, who):
    sign_in(getattr(story, who))
    step_up()
    assert client.get(f"/pupils/{story.ada}/viewers").status_code == 403


# --- Actions added from the chronology ----------------------------------------------------


def test_an_action_can_be_added_from_the_chronology(client, sign_in, step_up, story, app):
    sign_in(story.pastoral)
    step_up()
    number = story.numbers["sensitive"]
    response = client.post(
        f"/pupils/{story.ada}/incidents/{number}/actions",
        data={"text": "Met with social worker on Monday (recorded late).", "due_on": ""},
    )
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/pupils/{story.ada}#incident-{number}")
    with app.test_request_context():
        action = db.session.scalar(sa.select(Action).order_by(Action.id.desc()))
        assert action.incident.number == number and action.author_id == story.pastoral.id


def test_an_action_for_an_incident_not_in_this_chronology_is_refused(
    client, sign_in, step_up, story, app
):
    sign_in(story.dsl)
    step_up()
    before = _count(app, Action)
    response = client.post(
        f"/pupils/{story.ada}/incidents/{story.numbers['ben_only']}/actions", data={"text": "x"}
    )
    assert response.status_code == 404
    empty = client.post(
        f"/pupils/{story.ada}/incidents/{story.numbers['ordinary']}/actions", data={"text": " "}
    )
    assert empty.status_code == 422 and "Write what was done" in empty.get_data(as_text=True)
    assert _count(app, Action) == before


def _count(app, model) -> int:
    with app.test_request_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(model))


# --- Finding a pupil ----------------------------------------------------------------------


def test_find_a_pupil_covers_the_roll_and_leavers_for_reviewers(app, school, make_pupil):
    leaver = make_pupil("Adam", "Quince", on_roll=False)
    with app.test_request_context():
        dsl, teacher = _user(school.dsl), _user(school.teacher)
        assert [p.id for p in find_pupils(dsl, "qu")] == [school.ada, leaver]
        assert [p.id for p in find_pupils(teacher, "qu")] == [school.ada]  # own class, on roll
        assert find_pupils(_user(school.other_teacher), "ada") == []
        assert find_pupils(dsl, "%") == [] and find_pupils(dsl, "   ") == []


def test_find_a_pupil_page_and_type_ahead(client, sign_in, step_up, school):
    sign_in(school.dsl)
    step_up()
    page = client.get("/pupils", query_string={"q": "ada quill"}).get_data(as_text=True)
    assert f'href="/pupils/{school.ada}"' in page
    found = client.get("/pupils/search", query_string={"q": "marsh"}).get_json()
    assert [(p["name"], p["class"], p["url"]) for p in found["pupils"]] == [
        ("Ben Marsh", "5C", f"/pupils/{school.ben}")
    ]


# --- A query budget that does not grow with the number of entries -------------------------


def _statements_while(app, work) -> int:
    count = 0

    def counter(*_args):
        nonlocal count
        count += 1

    with app.test_request_context():
        engine = db.session.get_bind()
        sa.event.listen(engine, "before_cursor_execute", counter)
        try:
            work()
        finally:
            sa.event.remove(engine, "before_cursor_execute", counter)
    return count


def test_a_chronology_costs_the_same_queries_for_3_or_30_incidents(app, school, record_incident):
    def build():
        dsl = _user(school.dsl)
        ada = db.session.get(Pupil, school.ada)
        chronology = build_chronology(dsl, ada, _stepped_up(), with_corrections=True)
        for entry in chronology.entries:  # everything a page or report reads
            _ = (entry.incident.categories, entry.incident.agencies, entry.author.full_name)
            _ = [c.full_name for c in entry.incident.categories]
            _ = [p.display_name for p in entry.incident.linked_pupils]
        return chronology

    for _ in range(3):
        record_incident(school.staff, school.ada, linked_pupil_ids=[school.ben])
    small = _statements_while(app, build)
    for _ in range(27):
        record_incident(school.staff, school.ada, linked_pupil_ids=[school.ben])
    large = _statements_while(app, build)
    assert small == large
    assert large <= 14  # the user, the pupil, categories, incidents, one per collection


def test_the_visibility_policy_does_not_depend_on_the_alerts_feature():
    """Alerts ask the policy who may read an incident; the policy reads only the alerts' table,
    so the two never import each other (issue 10)."""
    import ast
    import inspect

    imported = {
        node.module
        for node in ast.walk(ast.parse(inspect.getsource(policy)))
        if isinstance(node, ast.ImportFrom)
    }
    assert "server.alerts.operations" not in imported and "server.alerts.models" in imported
    from server.alerts import operations as alert_operations

    assert alert_operations.can_view is policy.can_view


def test_the_sql_form_of_status_agrees_through_monitoring(app, story):
    from server.incidents.queries import current_status

    n = story.numbers
    with app.test_request_context():
        flask.g.user_session = _stepped_up()
        dsl = _user(story.dsl)
        change_status(dsl, _incident(n["linked"]), "monitoring", "Watch.")
        change_status(dsl, _incident(n["ben_only"]), "monitoring", "Watch.")
        change_status(dsl, _incident(n["ben_only"]), "monitoring_ended", "Act now.")
        change_status(dsl, _incident(n["sensitive"]), "monitoring", "Watch.")
        change_status(dsl, _incident(n["sensitive"]), "no_further_action", "Settled.")
        db.session.commit()
        expected = {
            n["linked"]: "monitoring",
            n["ben_only"]: "open",
            n["sensitive"]: "no_further_action",
            n["ordinary"]: "closed",
            n["recategorised"]: "open",
        }
        for number, status in expected.items():
            incident = _incident(number)
            in_sql = db.session.scalar(
                sa.select(current_status(Incident.id)).where(Incident.id == incident.id)
            )
            assert (in_sql, incident.status) == (status, status), number


def test_the_sql_forms_of_status_and_categories_agree_with_the_records(app, story):
    from server.incidents.queries import current_categories, current_status, sensitive_incident

    with app.test_request_context():
        flask.g.user_session = _stepped_up()
        dsl = _user(story.dsl)
        change_status(dsl, _incident(story.numbers["linked"]), "no_further_action", "None.")
        change_status(dsl, _incident(story.numbers["ordinary"]), "reopened", "Again.")
        change_status(dsl, _incident(story.numbers["ben_only"]), "closed", "Done.")
        db.session.commit()
        chosen = current_categories()
        for incident in db.session.scalars(sa.select(Incident)):
            status, sensitive = db.session.execute(
                sa.select(current_status(Incident.id), sensitive_incident(Incident.id)).where(
                    Incident.id == incident.id
                )
            ).one()
            in_sql = set(
                db.session.scalars(
                    sa.select(chosen.c.category_id).where(chosen.c.incident_id == incident.id)
                )
            )
            assert (status, bool(sensitive), in_sql) == (
                incident.status,
                incident.is_sensitive,
                {category.id for category in incident.categories},
            ), incident.number
