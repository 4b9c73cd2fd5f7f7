"""Managing staff accounts: the admin pages and `flask users create` (SPEC §1, §9)."""

import pytest
from sqlalchemy import select

from server.approvals.operations import pending_requests
from server.audit.models import AuditEvent
from server.auth import accounts
from server.auth import operations as accounts_operations
from server.auth.models import User
from server.auth.operations import AuthError
from server.auth.roles import Role
from server.extensions import db
from tests.conftest import DEFAULT_PASSWORD


@pytest.fixture
def admin_client(client, make_user, sign_in, step_up):
    sign_in(make_user(Role.ADMIN, full_name="Office Manager"))
    step_up()
    return client


def follow(client, response) -> str:
    return client.get(response.headers["Location"]).get_data(as_text=True)


def find_user(app, email: str) -> User | None:
    with app.app_context():
        return db.session.scalar(select(User).where(User.email == email))


def audit_for(app, user_id: int) -> list[str]:
    with app.app_context():
        return list(
            db.session.scalars(
                select(AuditEvent.action)
                .where(AuditEvent.object_type == "user", AuditEvent.object_id == str(user_id))
                .order_by(AuditEvent.id)
            )
        )


def pending(app) -> list[str]:
    """The summaries of the requests waiting for a DSL."""
    with app.app_context():
        return [request.summary for request in pending_requests()]


def approve_all(app, dsl_device) -> None:
    with app.app_context():
        ids = [request.id for request in pending_requests()]
    for request_id in ids:
        assert dsl_device.post(f"/approvals/{request_id}/approve").status_code == 303


def test_admin_adds_a_member_of_staff(app, admin_client, dsl_client):
    response = admin_client.post(
        "/admin/users/new",
        data={
            "full_name": "  Priya   Natarajan ",
            "initials": "",
            "email": "P.Natarajan@School.Example",
            "roles": ["class_teacher", "staff"],
            "active": "y",
        },
    )
    assert response.status_code == 302
    # A member of staff reads incidents: the account waits for a DSL's approval.
    assert find_user(app, "p.natarajan@school.example") is None
    assert pending(app) == [
        "New account for Priya Natarajan <p.natarajan@school.example>\nRoles: Class teacher, Staff"
    ]
    approve_all(app, dsl_client)
    person = find_user(app, "p.natarajan@school.example")
    assert person.full_name == "Priya Natarajan" and person.initials == "PN"
    assert person.roles == {Role.CLASS_TEACHER, Role.STAFF}
    assert person.password_hash is None  # they choose it through the reset link
    assert audit_for(app, person.id) == ["user.created"]
    listing = admin_client.get("/admin/users").get_data(as_text=True)
    assert "Priya Natarajan" in listing and "Class teacher" in listing


@pytest.mark.parametrize(
    "data, message",
    [
        ({"full_name": "", "email": "a@school.example", "roles": ["staff"]}, "Enter the full name"),
        (
            {"full_name": "A Person", "email": "not-an-email", "roles": ["staff"]},
            "not a valid email",
        ),
        ({"full_name": "A Person", "email": "a@school.example"}, "at least one role"),
        (
            {"full_name": "A Person", "email": "a@school.example", "roles": ["wizard"]},
            "not a valid choice",
        ),
        (
            {
                "full_name": "A Person",
                "email": "a@school.example",
                "roles": ["staff"],
                "initials": "A1",
            },
            "Initials",
        ),
    ],
)
def test_bad_staff_details_are_refused_and_nothing_saved(app, admin_client, data, message):
    response = admin_client.post("/admin/users/new", data=data)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert find_user(app, "a@school.example") is None


def test_a_duplicate_email_is_refused(app, admin_client, make_user):
    existing = make_user(Role.STAFF, email="taken@school.example")
    response = admin_client.post(
        "/admin/users/new",
        data={"full_name": "Someone Else", "email": "TAKEN@school.example", "roles": ["staff"]},
    )
    assert response.status_code == 409
    assert "already an account" in response.get_data(as_text=True)
    assert find_user(app, "taken@school.example").full_name == existing.full_name


def test_changing_roles_is_audited_with_before_and_after(app, dsl_client, make_user):
    person = make_user(Role.STAFF, full_name="Sam Okafor")
    response = dsl_client.post(
        f"/admin/users/{person.id}",
        data={
            "full_name": "Sam Okafor",
            "initials": "SO",
            "email": person.email,
            "roles": ["staff", "class_teacher"],
            "active": "y",
        },
    )
    assert response.status_code == 302
    assert find_user(app, person.email).roles == {Role.STAFF, Role.CLASS_TEACHER}
    assert audit_for(app, person.id)[-1] == "user.roles_changed"


def test_disabling_from_the_admin_page_signs_the_person_out(app, admin_client, make_user, sign_in):
    person = make_user(Role.STAFF, full_name="Lee Durand")
    their_device = app.test_client()
    sign_in(person, test_client=their_device)
    response = admin_client.post(
        f"/admin/users/{person.id}",
        data={
            "full_name": "Lee Durand",
            "initials": "LD",
            "email": person.email,
            "roles": ["staff"],
        },
    )
    assert response.status_code == 302
    assert find_user(app, person.email).active is False
    assert their_device.get("/").status_code == 302
    assert "user.disabled" in audit_for(app, person.id)


def test_an_unknown_user_is_a_404(admin_client):
    assert admin_client.get("/admin/users/999999").status_code == 404


def test_update_refuses_taking_someone_elses_email(app_context, make_user):
    first = make_user(Role.STAFF, email="first@school.example")
    make_user(Role.STAFF, email="second@school.example")
    person = db.session.get(User, first.id)
    with pytest.raises(AuthError, match="already an account"):
        accounts.update_user(
            person, full_name="First", initials=None, roles=["staff"], email="second@school.example"
        )


def test_cli_creates_a_user_with_a_password(app, runner):
    result = runner.invoke(
        args=[
            "users",
            "create",
            "--email",
            "head@school.example",
            "--name",
            "Alex Mensah",
            "--role",
            "slt",
            "--role",
            "dsl",
        ],
        input=f"{DEFAULT_PASSWORD}\n{DEFAULT_PASSWORD}\n",
    )
    assert result.exit_code == 0, result.output
    assert "Created Alex Mensah" in result.output
    person = find_user(app, "head@school.example")
    assert person.roles == {Role.SLT, Role.DSL} and person.password_hash


def test_cli_refuses_a_weak_password_and_creates_nothing(app, runner):
    result = runner.invoke(
        args=[
            "users",
            "create",
            "--email",
            "weak@school.example",
            "--name",
            "Weak Example",
            "--role",
            "staff",
        ],
        input="password\npassword\n",
    )
    assert result.exit_code != 0
    assert "too common" in result.output
    assert find_user(app, "weak@school.example") is None


# Who may change whose account: no self-escalation; Safeguarding roles are the DSL's to give.


def edit(client, person, **changes):
    data = {
        "full_name": person.full_name,
        "initials": person.initials,
        "email": person.email,
        "roles": sorted(role.value for role in person.roles),
        "active": "y",
    }
    data.update(changes)
    return client.post(f"/admin/users/{person.id}", data=data)


@pytest.fixture
def dsl_user(make_user):
    return make_user(Role.DSL, full_name="Deputy Lead")


@pytest.fixture
def dsl_client(app, dsl_user, sign_in, step_up):
    dsl_device = app.test_client()
    sign_in(dsl_user, test_client=dsl_device)
    step_up(dsl_device)
    return dsl_device


@pytest.mark.parametrize("role", ["dsl", "slt", "pastoral"])
def test_an_admin_only_asks_for_a_role_that_sees_safeguarding(app, admin_client, make_user, role):
    person = make_user(Role.STAFF)
    response = edit(admin_client, person, roles=["staff", role])
    assert response.status_code == 302
    assert "A designated safeguarding lead must approve this" in follow(admin_client, response)
    assert find_user(app, person.email).roles == {Role.STAFF}
    created = admin_client.post(
        "/admin/users/new",
        data={"full_name": "New Lead", "email": "new.lead@school.example", "roles": [role]},
    )
    assert created.status_code == 302
    assert find_user(app, "new.lead@school.example") is None
    assert len(pending(app)) == 2


def test_an_admin_cannot_make_themselves_a_dsl(app, make_user, sign_in, step_up, client):
    admin = make_user(Role.ADMIN, full_name="Office Manager")
    sign_in(admin)
    step_up()
    response = edit(client, admin, roles=["admin", "dsl"])
    assert response.status_code == 403
    assert find_user(app, admin.email).roles == {Role.ADMIN}


def test_an_admin_cannot_take_over_a_dsl_by_changing_their_email(
    app, admin_client, make_user, sign_in
):
    lead = make_user(Role.DSL, full_name="Lead Person")
    response = edit(admin_client, lead, email="office.inbox@school.example")
    assert response.status_code == 302  # asked of a DSL, who sees the new address
    assert find_user(app, lead.email) is not None
    assert edit(admin_client, lead, active="").status_code == 302
    assert find_user(app, lead.email).active is True
    assert any("→ office.inbox@school.example" in summary for summary in pending(app))


def test_a_dsl_gives_safeguarding_roles_but_not_to_themselves(app, dsl_client, dsl_user, make_user):
    person = make_user(Role.STAFF)
    assert edit(dsl_client, person, roles=["staff", "pastoral"]).status_code == 302
    assert find_user(app, person.email).roles == {Role.STAFF, Role.PASTORAL}
    response = edit(dsl_client, dsl_user, roles=["dsl", "admin"])
    assert response.status_code == 403
    assert "your own roles" in response.get_data(as_text=True)


def test_changing_an_email_ends_sessions_and_reset_links(app, dsl_client, make_user, sign_in):
    person = make_user(Role.STAFF, full_name="Moving Address")
    their_device = app.test_client()
    sign_in(person, test_client=their_device)
    with app.test_request_context():
        token = accounts_operations.issue_reset_token(person.email)
        db.session.commit()
    assert edit(dsl_client, person, email="moved@school.example").status_code == 302
    assert their_device.get("/").status_code == 302
    assert dsl_client.get(f"/auth/reset-password/{token}").status_code == 410


def test_an_admin_cannot_take_over_a_teachers_account_by_email(app, admin_client, make_user):
    """A new email means the reset link goes there: the office could read what the teacher can."""
    teacher = make_user(Role.CLASS_TEACHER, full_name="Carl Teacher")
    response = edit(admin_client, teacher, email="office.alt@elsewhere.example")
    assert response.status_code == 302  # only a request, for a DSL to see and decline
    assert find_user(app, teacher.email) is not None
    assert find_user(app, "office.alt@elsewhere.example") is None


def test_an_admin_still_disables_and_renames_teachers(app, admin_client, make_user):
    teacher = make_user(Role.CLASS_TEACHER, full_name="Carl Teacher")
    assert edit(admin_client, teacher, full_name="Carl Teacher-Jones", active="").status_code == 302
    changed = find_user(app, teacher.email)
    assert changed.full_name == "Carl Teacher-Jones" and changed.active is False


@pytest.mark.parametrize("reader_role", ["staff", "class_teacher"])
def test_nobody_but_a_dsl_gives_an_administrator_incident_access(
    app, admin_client, make_user, reader_role
):
    other_admin = make_user(Role.ADMIN, full_name="Second Admin")
    assert edit(admin_client, other_admin, roles=["admin", reader_role]).status_code == 302
    assert find_user(app, other_admin.email).roles == {Role.ADMIN}
    created = admin_client.post(
        "/admin/users/new",
        data={
            "full_name": "Both Hats",
            "email": "both@school.example",
            "roles": ["admin", reader_role],
        },
    )
    assert created.status_code == 302
    assert find_user(app, "both@school.example") is None
    assert len(pending(app)) == 2


def test_new_accounts_must_use_the_schools_domain_when_set(app, admin_client, monkeypatch):
    monkeypatch.setitem(app.config, "STAFF_EMAIL_DOMAINS", frozenset({"school.example"}))
    refused = admin_client.post(
        "/admin/users/new",
        data={"full_name": "Out Side", "email": "me@gmail.example", "roles": ["staff"]},
    )
    assert refused.status_code == 422
    assert "school email address (school.example)" in refused.get_data(as_text=True)
    accepted = admin_client.post(
        "/admin/users/new",
        data={"full_name": "In Side", "email": "in.side@school.example", "roles": ["staff"]},
    )
    assert accepted.status_code == 302
