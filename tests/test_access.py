"""Who may reach which route: one table, every route, every role.

A new route must join ROUTES, or `test_every_route_is_in_the_table` fails. Each entry names the
roles allowed; every other role must get 403, and a visitor who is not signed in must be sent
to sign in (401 for the JSON API).

Routes marked `step_up` need review unlocked by a passkey (SPEC §6): an allowed role without it
is sent to the step-up page (403 `step_up_required` for JSON). `fresh` marks those that need a
passkey assertion in the last five minutes: True for every method, or the methods that do.
"""

from dataclasses import dataclass
from datetime import timedelta

import pytest
import time_machine

from server.auth.roles import Role
from server.clock import utcnow

ANYONE = "anyone"  # public: no sign-in needed
SIGNED_IN = frozenset(Role)  # any signed-in role
RECORDERS = frozenset(Role) - {Role.ADMIN}  # everyone who records incidents
PASSKEY_HOLDERS = frozenset(Role) - {Role.STAFF}  # everyone who may review or administer
ADMIN = frozenset({Role.ADMIN})
# Staff accounts: the office, and the DSL (the only one who may give Safeguarding roles).
ACCOUNT_MANAGERS = frozenset({Role.ADMIN, Role.DSL})
# Who reviews pupils' records (class teachers their own class), and who runs reports.
REVIEWERS = frozenset({Role.CLASS_TEACHER, Role.PASTORAL, Role.SLT, Role.DSL})
REPORTERS = frozenset({Role.DSL, Role.SLT})
DSL_ONLY = frozenset({Role.DSL})
# Records imported from another school: those who review everything, Safeguarding included.
WHOLE_SCHOOL_REVIEWERS = frozenset({Role.PASTORAL, Role.SLT, Role.DSL})


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # may name values from the `targets` fixture, such as {user_id}
    allowed: frozenset | str
    step_up: bool = False  # needs review unlocked by a passkey step-up
    fresh: bool | tuple[str, ...] = False  # needs a passkey assertion in the last 5 minutes

    @property
    def fresh_methods(self) -> frozenset[str]:
        if self.fresh is True:
            return frozenset({self.method})
        return frozenset(self.fresh or ())


ROUTES: dict[str, Route] = {
    "static": Route("GET", "/static/css/haven.css", ANYONE),
    "home.index": Route("GET", "/", SIGNED_IN),
    "offline.service_worker": Route("GET", "/service-worker.js", ANYONE),
    "offline.service_worker_module": Route("GET", "/sw/push.js", ANYONE),
    "offline.manifest": Route("GET", "/manifest.webmanifest", ANYONE),
    "offline.incident_shell": Route("GET", "/offline/incident", ANYONE),
    "offline.offline_page": Route("GET", "/offline", ANYONE),
    "offline.sealing_public_key": Route("GET", "/api/offline/sealing-key", ANYONE),
    "offline.receive": Route("POST", "/api/outbox", ANYONE),
    "offline.open_refused_entry": Route("POST", "/api/outbox/open", RECORDERS),
    "offline.enrol": Route("POST", "/api/devices", RECORDERS),
    "offline.device_secret": Route("GET", "/api/devices/{device_id}/secret", RECORDERS),
    "offline.own_devices": Route("GET", "/devices", RECORDERS),
    "offline.revoke_own": Route("POST", "/devices/{device_id}/revoke", RECORDERS),
    # A lost iPad: the office or the DSL removes it in one step.
    "offline.user_devices": Route(
        "GET", "/users/{user_id}/devices", ACCOUNT_MANAGERS, step_up=True
    ),
    "offline.revoke_for_user": Route(
        "POST", "/users/{user_id}/devices/{device_id}/revoke", ACCOUNT_MANAGERS, step_up=True
    ),
    "auth.sign_in": Route("GET", "/auth/sign-in", ANYONE),
    "auth.sign_out": Route("POST", "/auth/sign-out", ANYONE),
    "auth.request_reset": Route("GET", "/auth/reset-password", ANYONE),
    "auth.reset_password": Route("GET", "/auth/reset-password/not-a-token", ANYONE),
    "auth.change_password": Route("GET", "/auth/account/password", SIGNED_IN),
    "auth.blank_screen": Route("POST", "/auth/blank", SIGNED_IN),
    "auth.unlock": Route("GET", "/auth/unlock", SIGNED_IN),
    "auth.session_status": Route("GET", "/auth/session", SIGNED_IN),
    "auth.keep_alive": Route("POST", "/auth/session/keep-alive", SIGNED_IN),
    "admin.index": Route("GET", "/admin/", ACCOUNT_MANAGERS, step_up=True),
    "admin.users": Route("GET", "/admin/users", ACCOUNT_MANAGERS, step_up=True),
    # Reading the form needs step-up; saving roles or the active flag a fresh assertion.
    "admin.new_user": Route(
        "GET", "/admin/users/new", ACCOUNT_MANAGERS, step_up=True, fresh=("POST",)
    ),
    "admin.edit_user": Route(
        "GET", "/admin/users/{user_id}", ACCOUNT_MANAGERS, step_up=True, fresh=("POST",)
    ),
    "admin.revoke_passkey": Route(
        "POST",
        "/admin/users/{user_id}/passkeys/{passkey_id}/revoke",
        ACCOUNT_MANAGERS,
        step_up=True,
        fresh=True,
    ),
    "admin.classes": Route("GET", "/admin/classes", ADMIN, step_up=True),
    "admin.edit_class": Route(
        "GET", "/admin/classes/{class_id}", ADMIN, step_up=True, fresh=("POST",)
    ),
    "admin.pupils": Route("GET", "/admin/pupils", ADMIN, step_up=True),
    "admin.roster_import": Route(
        "GET", "/admin/roster/import", ADMIN, step_up=True, fresh=("POST",)
    ),
    "passkeys.index": Route("GET", "/passkeys/", PASSKEY_HOLDERS),
    "passkeys.register_options": Route("POST", "/passkeys/register/options", PASSKEY_HOLDERS),
    "passkeys.register": Route("POST", "/passkeys/register", PASSKEY_HOLDERS),
    # Someone else's passkey: 404 past the route's rule, for every role allowed.
    "passkeys.rename": Route("GET", "/passkeys/{passkey_id}/rename", PASSKEY_HOLDERS),
    "passkeys.revoke": Route(
        "POST", "/passkeys/{passkey_id}/revoke", PASSKEY_HOLDERS, step_up=True, fresh=True
    ),
    "passkeys.step_up": Route("GET", "/passkeys/step-up", PASSKEY_HOLDERS),
    "passkeys.step_up_options": Route("POST", "/passkeys/step-up/options", PASSKEY_HOLDERS),
    "passkeys.verify_step_up": Route("POST", "/passkeys/step-up", PASSKEY_HOLDERS),
    "alerts.inbox": Route("GET", "/alerts", RECORDERS),
    # No such alert or incident: the route's own rule is what is checked here (404 past it).
    "alerts.mark_alert_read": Route("POST", "/alerts/999999/read", RECORDERS),
    "alerts.mark_incident_read": Route("POST", "/alerts/incident/999999/read", RECORDERS),
    "alerts.edit_rules": Route(
        "GET", "/alerts/rules", frozenset({Role.ADMIN}), step_up=True, fresh=("POST",)
    ),
    # The DSL decides what the office asks that would let someone read incidents.
    "approvals.index": Route("GET", "/approvals/", frozenset({Role.DSL}), step_up=True),
    # No such request: the route's own rule is what is checked here (404 past it).
    "approvals.approve": Route(
        "POST", "/approvals/999999/approve", frozenset({Role.DSL}), step_up=True, fresh=True
    ),
    "approvals.decline": Route(
        "POST", "/approvals/999999/decline", frozenset({Role.DSL}), step_up=True, fresh=True
    ),
    "push.notifications": Route("GET", "/push/notifications", RECORDERS),
    "push.public_key": Route("GET", "/push/key", RECORDERS),
    # Bad or missing subscriptions: the route's rule is what is checked here (4xx past it).
    "push.subscribe": Route("POST", "/push/subscriptions", RECORDERS),
    "push.unsubscribe": Route("POST", "/push/subscriptions/unsubscribe", RECORDERS),
    "push.remove": Route("POST", "/push/subscriptions/999999/remove", RECORDERS),
    "push.send_test": Route("POST", "/push/test", RECORDERS),
    "incidents.new": Route("GET", "/incidents/new", RECORDERS),
    "incidents.form_vocabulary": Route("GET", "/api/incident-form", RECORDERS),
    "incidents.roster": Route("GET", "/api/roster", RECORDERS),
    "incidents.staff": Route("GET", "/api/staff", RECORDERS),
    "incidents.alert_preview": Route("POST", "/api/alert-preview", RECORDERS),
    "incidents.submit": Route("POST", "/api/incidents", RECORDERS),
    # No such incident: the route's own rule is checked here; record-level rules (who may
    # see which incident) are in tests/test_visibility.py.
    "incidents.show": Route("GET", "/incidents/999999", RECORDERS),
    "incidents.add_action": Route("POST", "/incidents/999999/actions", RECORDERS),
    "incidents.change_status": Route(
        "POST", "/incidents/999999/status", frozenset({Role.DSL, Role.SLT, Role.PASTORAL})
    ),
    "incidents.correct": Route("POST", "/incidents/999999/corrections", frozenset({Role.DSL})),
    "incidents.download_file": Route("GET", "/incidents/999999/files/1", RECORDERS),
    # The pupil record and reports: no such pupil or run, so the route's own rule is what is
    # checked (404 past it); which pupil each may open is tested in tests/test_chronology.py.
    "chronology.find_pupil": Route("GET", "/pupils", REVIEWERS, step_up=True),
    "chronology.search_pupils": Route("GET", "/pupils/search?q=a", REVIEWERS, step_up=True),
    "chronology.pupil_record": Route("GET", "/pupils/999999", REVIEWERS, step_up=True),
    "chronology.add_action": Route(
        "POST", "/pupils/999999/incidents/999999/actions", REVIEWERS, step_up=True
    ),
    "chronology.who_viewed": Route(
        "GET", "/pupils/999999/viewers", frozenset({Role.DSL}), step_up=True
    ),
    "reports.index": Route("GET", "/reports", REPORTERS, step_up=True),
    "reports.case_conference": Route(
        "GET", "/reports/pupils/999999/case-conference", REPORTERS, step_up=True, fresh=True
    ),
    "reports.chronology": Route(
        "GET", "/reports/pupils/999999/chronology", REPORTERS, step_up=True, fresh=True
    ),
    "reports.governors": Route("GET", "/reports/governors", REPORTERS, step_up=True, fresh=True),
    "reports.inspection": Route(
        "GET", "/reports/inspection", REPORTERS, step_up=True, fresh=True
    ),
    "reports.run": Route("GET", "/reports/runs/999999", REPORTERS, step_up=True),
    "reports.download_run": Route(
        "GET", "/reports/runs/999999/download", REPORTERS, step_up=True
    ),
    # Retention (issue 13): the DSL reviews, holds and proposes; a DSL or SLT approves. No such
    # pupil or proposal: the route's own rule is what is checked here (404 past it).
    "retention.index": Route("GET", "/retention/", REPORTERS, step_up=True),
    "retention.pupil": Route("GET", "/retention/pupils/999999", REPORTERS, step_up=True),
    "retention.set_hold": Route(
        "POST", "/retention/pupils/999999/hold", frozenset({Role.DSL}), step_up=True, fresh=True
    ),
    "retention.lift_hold": Route(
        "POST",
        "/retention/pupils/999999/hold/lift",
        frozenset({Role.DSL}),
        step_up=True,
        fresh=True,
    ),
    "retention.propose": Route(
        "POST", "/retention/pupils/999999/propose", frozenset({Role.DSL}), step_up=True, fresh=True
    ),
    "retention.approve": Route(
        "POST", "/retention/disposals/999999/approve", REPORTERS, step_up=True, fresh=True
    ),
    "retention.decline": Route(
        "POST", "/retention/disposals/999999/decline", REPORTERS, step_up=True, fresh=True
    ),
    # Subject access: the DSL alone; building and releasing need a fresh passkey check.
    "subject_access.start": Route(
        "GET",
        "/subject-access/pupils/999999",
        frozenset({Role.DSL}),
        step_up=True,
        fresh=("POST",),
    ),
    "subject_access.review": Route(
        "GET", "/subject-access/999999", frozenset({Role.DSL}), step_up=True
    ),
    "subject_access.adjust": Route(
        "POST", "/subject-access/999999/redactions", frozenset({Role.DSL}), step_up=True
    ),
    "subject_access.add": Route(
        "POST", "/subject-access/999999/redactions/add", frozenset({Role.DSL}), step_up=True
    ),
    "subject_access.release": Route(
        "POST", "/subject-access/999999/release", frozenset({Role.DSL}), step_up=True, fresh=True
    ),
    # Transfers (SPEC §8): the DSL alone; sending and importing need a fresh passkey check.
    # Other Havens post packages and receipts to the inbox, which needs no sign-in.
    "transfer.index": Route("GET", "/transfers/", DSL_ONLY, step_up=True),
    "transfer.school_key_file": Route("GET", "/transfers/school-key.json", DSL_ONLY, step_up=True),
    "transfer.add_school": Route("POST", "/transfers/schools", DSL_ONLY, step_up=True, fresh=True),
    "transfer.new": Route("GET", "/transfers/new", DSL_ONLY, step_up=True, fresh=("POST",)),
    "transfer.outgoing": Route("GET", "/transfers/out/999999", DSL_ONLY, step_up=True),
    "transfer.download_package": Route(
        "GET", "/transfers/out/999999/package", DSL_ONLY, step_up=True, fresh=True
    ),
    "transfer.send": Route(
        "POST", "/transfers/out/999999/send", DSL_ONLY, step_up=True, fresh=True
    ),
    "transfer.upload_receipt": Route("POST", "/transfers/receipts", DSL_ONLY, step_up=True),
    "transfer.upload_package": Route(
        "POST", "/transfers/in/upload", DSL_ONLY, step_up=True, fresh=True
    ),
    "transfer.incoming": Route("GET", "/transfers/in/999999", DSL_ONLY, step_up=True),
    "transfer.import_package": Route(
        "POST", "/transfers/in/999999/import", DSL_ONLY, step_up=True, fresh=True
    ),
    "transfer.receipt": Route("GET", "/transfers/in/999999/receipt", DSL_ONLY, step_up=True),
    "transfer.imported_incident": Route(
        "GET", "/transfers/imported/999999", WHOLE_SCHOOL_REVIEWERS, step_up=True
    ),
    "transfer.imported_file": Route(
        "GET", "/transfers/imported/files/999999", WHOLE_SCHOOL_REVIEWERS, step_up=True
    ),
    "transfer.inbox": Route("POST", "/transfers/inbox", ANYONE),
}


@pytest.fixture
def targets(make_user, make_passkey, make_device, app) -> dict:
    """Records that parametrised paths point at."""
    person = make_user(Role.CLASS_TEACHER, full_name="Target Person")
    return {
        "user_id": person.id,
        "class_id": _make_class(app),
        "passkey_id": make_passkey(person),
        "device_id": make_device(person).device_id,
    }


def _make_class(app) -> int:
    from server.extensions import db
    from server.pupils.models import SchoolClass

    with app.test_request_context():
        school_class = SchoolClass(name="Target Class", year_group="3")
        db.session.add(school_class)
        db.session.commit()
        return school_class.id


def test_every_route_is_in_the_table(app):
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    assert endpoints - ROUTES.keys() == set(), "new routes must join ROUTES in tests/test_access.py"
    assert ROUTES.keys() - endpoints == set(), "ROUTES names endpoints that no longer exist"


def test_every_view_declares_its_access_rule(app):
    undeclared = [
        endpoint
        for endpoint, view in app.view_functions.items()
        if endpoint != "static" and not hasattr(view, "access_rule")
    ]
    assert undeclared == []


def _request(client, route: Route, targets: dict):
    return client.open(route.path.format(**targets), method=route.method)


def _sent_to_sign_in(response) -> bool:
    if response.status_code == 401:
        return True
    return response.status_code == 302 and "/auth/sign-in" in response.headers["Location"]


def _sent_to_step_up(response) -> bool:
    if response.status_code == 403 and response.is_json:
        return response.get_json().get("error") == "step_up_required"
    return response.status_code == 302 and "/passkeys/step-up" in response.headers["Location"]


@pytest.mark.parametrize("endpoint", sorted(ROUTES))
def test_visitor_who_is_not_signed_in(endpoint, client, targets):
    route = ROUTES[endpoint]
    response = _request(client, route, targets)
    if route.allowed == ANYONE:
        assert response.status_code < 500 and response.status_code != 403
    else:
        assert _sent_to_sign_in(response), response.status_code


@pytest.mark.parametrize("role", list(Role), ids=lambda role: role.value)
@pytest.mark.parametrize("endpoint", sorted(ROUTES))
def test_each_role(endpoint, role, client, make_user, sign_in, step_up, targets):
    route = ROUTES[endpoint]
    sign_in(make_user(role))
    if route.step_up:
        step_up()
    response = _request(client, route, targets)
    assert response.status_code < 500
    if route.allowed == ANYONE:
        assert response.status_code != 403
    elif role in route.allowed:
        assert response.status_code != 403 and not _sent_to_sign_in(response), response.status_code
        assert not _sent_to_step_up(response), "a route that needs step-up must be marked so"
    else:
        assert response.status_code == 403, response.status_code


def test_the_table_shows_each_routes_step_up_rule(app):
    """The table says exactly what each view declares, so it can be read as the access rules."""
    differences = {}
    for endpoint, route in ROUTES.items():
        rule = getattr(app.view_functions[endpoint], "access_rule", None)
        if rule is None:
            continue
        declared = (rule.step_up, rule.fresh_assertion, rule.fresh_assertion_for)
        tabled = (
            route.step_up,
            route.fresh is True,
            frozenset(() if route.fresh is True else route.fresh or ()),
        )
        if declared != tabled:
            differences[endpoint] = {"declared": declared, "table": tabled}
    assert differences == {}


def test_administration_needs_step_up():
    """SPEC §1: administration needs a recent passkey step-up, like review."""
    assert [e for e, route in ROUTES.items() if e.startswith("admin.") and not route.step_up] == []


STEP_UP_ROUTES = sorted(e for e, route in ROUTES.items() if route.step_up or route.fresh)
FRESH_REQUESTS = sorted(
    (endpoint, method) for endpoint, route in ROUTES.items() for method in route.fresh_methods
)


def _an_allowed_role(route: Route) -> Role:
    return sorted(route.allowed, key=list(Role).index)[0]


@pytest.mark.parametrize("endpoint", STEP_UP_ROUTES)
def test_step_up_routes_refuse_a_session_without_step_up(
    endpoint, client, make_user, sign_in, step_up, targets
):
    route = ROUTES[endpoint]
    sign_in(make_user(_an_allowed_role(route)))
    path = route.path.format(**targets)

    page = client.open(path, method=route.method)
    assert _sent_to_step_up(page) and page.status_code == 302, page.status_code
    as_json = client.open(path, method=route.method, headers={"Accept": "application/json"})
    assert as_json.status_code == 403
    assert as_json.get_json()["error"] == "step_up_required"

    step_up()
    response = client.open(path, method=route.method)
    assert response.status_code < 500 and response.status_code != 403
    assert not _sent_to_step_up(response) and not _sent_to_sign_in(response)


@pytest.mark.parametrize(("endpoint", "method"), FRESH_REQUESTS)
def test_fresh_assertion_routes_refuse_an_older_step_up(
    endpoint, method, client, make_user, sign_in, step_up, targets
):
    """Six minutes after the passkey was used, review is still unlocked but this is refused."""
    route = ROUTES[endpoint]
    sign_in(make_user(_an_allowed_role(route)))
    step_up()
    path = route.path.format(**targets)
    with time_machine.travel(utcnow() + timedelta(minutes=6), tick=False):
        client.get("/")  # still signed in and unlocked for review
        refused = client.open(path, method=method, headers={"Accept": "application/json"})
        assert refused.status_code == 403, refused.status_code
        assert refused.get_json() | {"message": ""} == {
            "error": "step_up_required",
            "fresh_assertion": True,
            "message": "",
            "step_up_url": refused.get_json()["step_up_url"],
        }
        step_up()
        response = client.open(path, method=method)
        assert response.status_code < 500 and response.status_code != 403
        assert not _sent_to_step_up(response) and not _sent_to_sign_in(response)
