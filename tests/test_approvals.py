"""Who may grant reading (SPEC §1): the office asks, a designated safeguarding lead decides.

Each attack the outside review made (issue 11, finding 2) is replayed through HTTP: the office
never gives itself or anyone a reader, and never takes over an account that reads incidents.
"""

import re

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from server.alerts.models import AlertRule
from server.approvals.models import AccessDecision, AccessRequest
from server.approvals.operations import pending_requests
from server.audit.models import AuditEvent
from server.auth import accounts
from server.auth.models import User
from server.auth.roles import READER_ROLES, Role
from server.extensions import db
from server.pupils.models import SchoolClass

OFFICE_ADDRESS = "office.alt@elsewhere.example"


@pytest.fixture
def office(app, client, school, sign_in, step_up):
    """The school office (admin), signed in with a fresh passkey check: `client`."""
    sign_in(school.admin)
    step_up()
    return client


@pytest.fixture
def lead(app, school, sign_in, step_up):
    """A DSL on another device, signed in with a fresh passkey check."""
    device = app.test_client()
    sign_in(school.dsl, test_client=device)
    step_up(device)
    return device


def in_app(app, query):
    with app.app_context():
        return query()


def user_at(app, email: str) -> User | None:
    return in_app(app, lambda: db.session.scalar(select(User).where(User.email == email)))


def account_form(person: User, **changes) -> dict:
    data = {
        "full_name": person.full_name,
        "initials": person.initials,
        "email": person.email,
        "roles": sorted(role.value for role in person.roles),
        "active": "y",
    }
    return {**data, **changes}


def pending_ids(app) -> list[int]:
    return in_app(app, lambda: [request.id for request in pending_requests()])


def audit_actions(app, prefix: str) -> list[str]:
    return in_app(
        app,
        lambda: list(
            db.session.scalars(
                select(AuditEvent.action)
                .where(AuditEvent.action.startswith(prefix))
                .order_by(AuditEvent.id)
            )
        ),
    )


def reset_mail_count(app, address: str) -> int:
    folder = app.config["MAIL_DEV_DIR"]
    if not folder.exists():
        return 0
    return sum(f"To: {address}" in path.read_text() for path in folder.glob("*.eml"))


# --- The three-save takeover of a teacher's account ------------------------------------------


def test_the_three_save_takeover_of_a_teacher_is_closed(app, office, lead, school, record_incident):
    """Role to admin, email to the office's address, role back: the issue's exact sequence."""
    number = record_incident(school.staff, school.ada)  # alerts Carl Teacher, class 4B
    teacher = user_at(app, school.teacher.email)

    first = office.post(f"/admin/users/{teacher.id}", data=account_form(teacher, roles=["admin"]))
    assert first.status_code == 302
    assert user_at(app, school.teacher.email).roles == {Role.ADMIN}

    moved = user_at(app, school.teacher.email)
    second = office.post(
        f"/admin/users/{teacher.id}", data=account_form(moved, email=OFFICE_ADDRESS)
    )
    assert second.status_code == 302
    assert "must approve this" in office.get("/admin/users").get_data(as_text=True)
    assert user_at(app, OFFICE_ADDRESS) is None  # still the teacher's own address

    third = office.post(
        f"/admin/users/{teacher.id}", data=account_form(moved, roles=["class_teacher"])
    )
    assert third.status_code == 302
    assert user_at(app, school.teacher.email).roles == {Role.ADMIN}  # waits for a DSL

    office.post("/auth/reset-password", data={"email": OFFICE_ADDRESS})
    assert reset_mail_count(app, OFFICE_ADDRESS) == 0

    # The DSL sees exactly what was asked, and declines it.
    page = lead.get("/approvals/").get_data(as_text=True)
    assert f"→ {OFFICE_ADDRESS}" in page and "Administrator → Class teacher" in page
    for request_id in pending_ids(app):
        assert lead.post(f"/approvals/{request_id}/decline").status_code == 303
    assert pending_ids(app) == []
    assert user_at(app, school.teacher.email).roles == {Role.ADMIN}
    assert audit_actions(app, "access.") == [
        "access.requested",
        "access.requested",
        "access.declined",
        "access.declined",
    ]
    # The office's own session never reads the teacher's incident either.
    assert office.get(f"/incidents/{number}").status_code == 403


def test_an_account_that_ever_read_incidents_keeps_its_sign_in_guarded(app, school):
    """Whatever its roles now: alerts to it become readable again once it reads again."""
    with app.test_request_context():
        teacher = db.session.get(User, school.teacher.id)
        admin = db.session.get(User, school.admin.id)
        accounts.update_user(
            teacher,
            email=teacher.email,
            full_name=teacher.full_name,
            initials=teacher.initials,
            roles=["admin"],
            by=admin,
        )
        assert accounts.guarded_as_reader(teacher)
        with pytest.raises(accounts.DslDecisionNeeded):
            accounts.update_user(
                teacher,
                email=OFFICE_ADDRESS,
                full_name=teacher.full_name,
                initials=teacher.initials,
                roles=["admin"],
                by=admin,
            )
        assert not accounts.guarded_as_reader(admin)  # the office's own account never read


def test_the_migration_knows_the_reader_roles():
    from importlib import import_module

    migration = import_module("migrations.versions.0006_approvals")
    assert set(migration.READER_ROLES) == {role.value for role in READER_ROLES}


# --- The office making itself a reader ------------------------------------------------------


def test_a_new_account_at_the_offices_address_waits_for_a_dsl(app, office, lead, school):
    created = office.post(
        "/admin/users/new",
        data={"full_name": "Spare Teacher", "email": OFFICE_ADDRESS, "roles": ["class_teacher"]},
    )
    assert created.status_code == 302
    assert user_at(app, OFFICE_ADDRESS) is None
    office.post("/auth/reset-password", data={"email": OFFICE_ADDRESS})
    assert reset_mail_count(app, OFFICE_ADDRESS) == 0  # no account, no link to set a password

    page = lead.get("/approvals/").get_data(as_text=True)
    assert f"New account for Spare Teacher &lt;{OFFICE_ADDRESS}&gt;" in page
    (request_id,) = pending_ids(app)
    assert lead.post(f"/approvals/{request_id}/approve").status_code == 303
    approved = user_at(app, OFFICE_ADDRESS)
    assert approved.roles == {Role.CLASS_TEACHER}
    assert audit_actions(app, "access.") == ["access.requested", "access.approved"]
    created_by = in_app(
        app,
        lambda: db.session.scalar(
            select(AuditEvent.actor_user_id).where(
                AuditEvent.action == "user.created", AuditEvent.object_id == str(approved.id)
            )
        ),
    )
    assert created_by == school.dsl.id  # the change is the DSL's own


def test_an_office_only_account_is_created_at_once(app, office):
    created = office.post(
        "/admin/users/new",
        data={"full_name": "Second Office", "email": "office2@school.example", "roles": ["admin"]},
    )
    assert created.status_code == 302
    assert user_at(app, "office2@school.example").roles == {Role.ADMIN}
    assert pending_ids(app) == []


def test_making_someone_a_class_teacher_waits_for_a_dsl(
    app, office, lead, school, make_user, sign_in, step_up, record_incident
):
    newcomer = make_user(Role.CLASS_TEACHER, full_name="Nia Newcomer")
    number = record_incident(school.staff, school.ada)
    teachers = [school.teacher.id, newcomer.id]
    response = office.post(f"/admin/classes/{school.class_4b}", data={"teachers": teachers})
    assert response.status_code == 302

    newcomer_device = app.test_client()
    sign_in(newcomer, test_client=newcomer_device)
    step_up(newcomer_device)
    assert newcomer_device.get(f"/incidents/{number}").status_code == 403

    page = lead.get("/approvals/").get_data(as_text=True)
    assert "Class teachers of 4B" in page and "Add: Nia Newcomer" in page
    (request_id,) = pending_ids(app)
    assert lead.post(f"/approvals/{request_id}/approve").status_code == 303
    assert newcomer_device.get(f"/incidents/{number}").status_code == 200


def test_taking_a_class_away_needs_no_dsl(app, office, school, make_class):
    shared = make_class("6A", "6", teachers=[school.teacher, school.other_teacher])
    response = office.post(f"/admin/classes/{shared}", data={"teachers": [school.teacher.id]})
    assert response.status_code == 302
    teachers = in_app(app, lambda: [t.id for t in db.session.get(SchoolClass, shared).teachers])
    assert teachers == [school.teacher.id]
    assert pending_ids(app) == []


def rule_rows(app) -> set[tuple[str, str]]:
    return in_app(
        app, lambda: {(r.event, r.recipient) for r in db.session.scalars(select(AlertRule))}
    )


def test_widening_an_alert_rule_waits_for_a_dsl(app, office, lead):
    before = rule_rows(app)
    widened = {
        "incident": ["dsl", "slt", "pastoral", "class_teacher"],
        "sensitive_incident": ["dsl", "slt", "pastoral"],
        "action": ["slt", "pastoral", "author", "assignee", "staff"],
    }
    response = office.post("/alerts/rules", data=widened)
    assert response.status_code == 302
    assert "must approve them" in office.get("/alerts/rules").get_data(as_text=True)
    assert rule_rows(app) == before

    page = lead.get("/approvals/").get_data(as_text=True)
    assert "Every action: also alert All staff" in page
    (request_id,) = pending_ids(app)
    assert lead.post(f"/approvals/{request_id}/approve").status_code == 303
    assert ("action", "staff") in rule_rows(app)


def test_a_request_is_not_approved_once_its_target_has_changed(app, office, lead, school):
    person = user_at(app, school.staff.email)
    office.post(f"/admin/users/{person.id}", data=account_form(person, roles=["staff", "slt"]))
    office.post(f"/admin/users/{person.id}", data=account_form(person, full_name="Tess Renamed"))
    (request_id,) = pending_ids(app)
    response = lead.post(f"/approvals/{request_id}/approve", follow_redirects=True)
    assert "changed since the request was made" in response.get_data(as_text=True)
    assert user_at(app, school.staff.email).roles == {Role.STAFF}
    assert pending_ids(app) == [request_id]  # still there, for the DSL to decline


def test_a_dsl_cannot_approve_a_grant_to_themselves(app, office, lead, school):
    dsl = user_at(app, school.dsl.email)
    office.post(f"/admin/users/{dsl.id}", data=account_form(dsl, email="dsl.new@school.example"))
    (request_id,) = pending_ids(app)
    response = lead.post(f"/approvals/{request_id}/approve", follow_redirects=True)
    assert "cannot change your own" in response.get_data(as_text=True)
    assert user_at(app, school.dsl.email) is not None


def test_only_a_dsl_decides(app, office, school, make_user, sign_in, step_up):
    person = user_at(app, school.staff.email)
    office.post(f"/admin/users/{person.id}", data=account_form(person, roles=["staff", "slt"]))
    (request_id,) = pending_ids(app)
    assert office.post(f"/approvals/{request_id}/approve").status_code == 403
    leader = app.test_client()
    sign_in(school.slt, test_client=leader)
    step_up(leader)
    assert leader.post(f"/approvals/{request_id}/approve").status_code == 403
    assert in_app(app, lambda: db.session.scalar(select(func.count(AccessDecision.id)))) == 0


def test_a_decided_request_cannot_be_decided_again(app, office, lead, school):
    person = user_at(app, school.staff.email)
    office.post(f"/admin/users/{person.id}", data=account_form(person, roles=["staff", "slt"]))
    (request_id,) = pending_ids(app)
    assert lead.post(f"/approvals/{request_id}/decline").status_code == 303
    again = lead.post(f"/approvals/{request_id}/approve", follow_redirects=True)
    assert "already been decided" in again.get_data(as_text=True)
    assert user_at(app, school.staff.email).roles == {Role.STAFF}
    assert lead.post("/approvals/999999/approve").status_code == 404


def test_the_dsls_home_page_counts_what_waits(app, office, lead, school):
    assert "Nothing waits for your decision" in lead.get("/").get_data(as_text=True)
    person = user_at(app, school.staff.email)
    office.post(f"/admin/users/{person.id}", data=account_form(person, roles=["staff", "slt"]))
    home = lead.get("/").get_data(as_text=True)
    assert re.search(r'id="requests-waiting">1<', home)
    assert "1 request from the office waits for your decision" in home
    assert "Requests to approve" not in office.get("/").get_data(as_text=True)


def test_requests_and_decisions_are_append_only(app, office, lead, school):
    person = user_at(app, school.staff.email)
    office.post(f"/admin/users/{person.id}", data=account_form(person, roles=["staff", "slt"]))
    (request_id,) = pending_ids(app)
    lead.post(f"/approvals/{request_id}/decline")
    with app.app_context():
        for statement in (
            "UPDATE access_requests SET summary = 'x'",
            "DELETE FROM access_decisions",
        ):
            with pytest.raises(DBAPIError, match="append-only"), db.session.begin_nested():
                db.session.execute(text(statement))
        assert db.session.get(AccessRequest, request_id).summary != "x"


# --- Passkeys of a reader -------------------------------------------------------------------


def test_the_office_cannot_remove_a_readers_passkeys(app, office, lead, school, make_passkey):
    passkey_id = make_passkey(school.teacher, name="Carl's iPad")
    teacher = user_at(app, school.teacher.email)
    # Even after moving the teacher to an office-only role.
    office.post(f"/admin/users/{teacher.id}", data=account_form(teacher, roles=["admin"]))
    response = office.post(
        f"/admin/users/{teacher.id}/passkeys/{passkey_id}/revoke", follow_redirects=True
    )
    assert "Only a designated safeguarding lead" in response.get_data(as_text=True)
    revoked = lead.post(f"/admin/users/{teacher.id}/passkeys/{passkey_id}/revoke")
    assert revoked.status_code == 302
    assert audit_actions(app, "passkey.revoked") == ["passkey.revoked"]


def test_re_enabling_a_reader_waits_for_a_dsl_but_disabling_does_not(app, office, lead, school):
    teacher = user_at(app, school.teacher.email)
    disabled = office.post(f"/admin/users/{teacher.id}", data=account_form(teacher, active=""))
    assert disabled.status_code == 302 and user_at(app, teacher.email).active is False
    office.post(f"/admin/users/{teacher.id}", data=account_form(teacher))
    assert user_at(app, teacher.email).active is False
    page = lead.get("/approvals/").get_data(as_text=True)
    assert "Re-enable the account" in page
    (request_id,) = pending_ids(app)
    assert lead.post(f"/approvals/{request_id}/approve").status_code == 303
    assert user_at(app, teacher.email).active is True
    decided = lead.get("/approvals/").get_data(as_text=True)
    assert "Recently decided" in decided and "Approved by Dee Lead" in decided
