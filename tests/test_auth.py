"""Signing in and out, throttling, idle timeout, blank screen, disabled users (SPEC §9)."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from server.audit.models import AuditEvent
from server.auth import operations, throttling
from server.auth.accounts import set_active
from server.auth.models import SignInAttempt, User, UserSession
from server.auth.roles import Role
from server.extensions import db
from tests.conftest import DEFAULT_PASSWORD

START = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def audit_actions(app, actor_label: str | None = None) -> list[str]:
    with app.app_context():
        query = select(AuditEvent.action).order_by(AuditEvent.id)
        if actor_label:
            query = query.where(AuditEvent.actor_label == actor_label)
        return list(db.session.scalars(query))


def session_rows(app, user: User) -> list[UserSession]:
    with app.app_context():
        return list(
            db.session.scalars(
                select(UserSession).where(UserSession.user_id == user.id).order_by(UserSession.id)
            )
        )


def post_sign_in(client, email: str, password: str, **kwargs):
    return client.post("/auth/sign-in", data={"email": email, "password": password}, **kwargs)


# Signing in ---------------------------------------------------------------------------


def test_sign_in_starts_a_server_side_session_and_audits_it(app, client, make_user):
    user = make_user(Role.STAFF)
    response = post_sign_in(client, user.email.upper(), DEFAULT_PASSWORD)
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    [row] = session_rows(app, user)
    assert row.ended_at is None and row.ip_address == "127.0.0.1"
    assert "auth.sign_in" in audit_actions(app, user.email)
    assert client.get("/").status_code == 200


@pytest.mark.parametrize(
    "email, password",
    [("staff1@school.example", "wrong-Password-1"), ("nobody@school.example", DEFAULT_PASSWORD)],
    ids=["wrong password", "unknown email"],
)
def test_failed_sign_in_says_the_same_thing_and_is_recorded(
    app, client, make_user, email, password
):
    make_user(Role.STAFF, email="staff1@school.example")
    response = post_sign_in(client, email, password)
    assert response.status_code == 401
    assert operations.BAD_CREDENTIALS in response.get_data(as_text=True)
    assert client.get("/").status_code == 302
    assert audit_actions(app, email)[-1] == "auth.sign_in_failed"
    with app.app_context():
        attempt = db.session.scalar(select(SignInAttempt).where(SignInAttempt.email == email))
        assert attempt.succeeded is False


@pytest.mark.parametrize(
    "data",
    [{}, {"email": "", "password": ""}, {"email": "a@b.example", "password": "x" * 5000}],
    ids=["nothing", "blank", "absurdly long password"],
)
def test_bad_sign_in_input_gets_a_clear_4xx(client, data):
    response = client.post("/auth/sign-in", data=data)
    assert response.status_code == 422
    assert "There is a problem" in response.get_data(as_text=True)


def test_sign_in_starts_a_new_session_id_and_drops_what_was_planted(app, client, make_user):
    user = make_user(Role.STAFF)
    with client.session_transaction() as cookie:
        cookie["sid"] = "fixed-by-an-attacker"
        cookie["planted"] = "by a visitor before sign-in"
    post_sign_in(client, user.email, DEFAULT_PASSWORD)
    with client.session_transaction() as cookie:
        first_token = cookie["sid"]
        assert first_token != "fixed-by-an-attacker"
        assert "planted" not in cookie
    client.post("/auth/sign-out")
    post_sign_in(client, user.email, DEFAULT_PASSWORD)
    with client.session_transaction() as cookie:
        assert cookie["sid"] != first_token
    first, second = session_rows(app, user)
    assert first.end_reason == "signed out" and second.ended_at is None


def test_sign_in_redirects_only_to_local_pages(client, make_user):
    user = make_user(Role.STAFF)
    for target, expected in [
        ("/auth/account/password", "/auth/account/password"),
        ("https://evil.example/", "/"),
        ("//evil.example/", "/"),
        ("/\\evil.example", "/"),
    ]:
        client.post("/auth/sign-out")
        response = post_sign_in(client, user.email, DEFAULT_PASSWORD, query_string={"next": target})
        assert response.headers["Location"] == expected


# Throttling ----------------------------------------------------------------------------


def test_five_failures_lock_the_account_for_fifteen_minutes(client, make_user, time_machine):
    time_machine.move_to(START, tick=False)
    user = make_user(Role.STAFF)
    for _ in range(5):
        assert post_sign_in(client, user.email, "Wrong-password-1").status_code == 401
    locked = post_sign_in(client, user.email, DEFAULT_PASSWORD)
    assert locked.status_code == 429
    assert "Too many attempts. Try again in 15 minutes" in locked.get_data(as_text=True)
    time_machine.shift(timedelta(minutes=14))
    assert post_sign_in(client, user.email, DEFAULT_PASSWORD).status_code == 429
    time_machine.shift(timedelta(minutes=1, seconds=1))
    assert post_sign_in(client, user.email, DEFAULT_PASSWORD).status_code == 302


def test_a_success_resets_the_account_count(client, make_user, time_machine):
    time_machine.move_to(START, tick=False)
    user = make_user(Role.STAFF)
    for _ in range(4):
        post_sign_in(client, user.email, "Wrong-password-1")
    assert post_sign_in(client, user.email, DEFAULT_PASSWORD).status_code == 302
    client.post("/auth/sign-out")
    for _ in range(4):
        assert post_sign_in(client, user.email, "Wrong-password-1").status_code == 401
    assert post_sign_in(client, user.email, DEFAULT_PASSWORD).status_code == 302


def test_one_address_trying_many_accounts_is_throttled(app, client, make_user, time_machine):
    time_machine.move_to(START, tick=False)
    user = make_user(Role.STAFF)
    limit = app.config["THROTTLE_ADDRESS_FAILURES"]
    for number in range(limit):
        post_sign_in(client, f"guess{number}@school.example", "Wrong-password-1")
    assert post_sign_in(client, user.email, DEFAULT_PASSWORD).status_code == 429
    assert "auth.sign_in_throttled" in audit_actions(app, user.email)


def test_throttle_counts_hold_across_processes(app, make_user, time_machine):
    """Attempts are rows in the database, so a second app (another process) sees them."""
    time_machine.move_to(START, tick=False)
    user = make_user(Role.STAFF)
    with app.test_request_context():
        for _ in range(5):
            throttling.record_attempt(user.email, "10.0.0.1", succeeded=False)
        db.session.commit()
        assert throttling.check(user.email, "10.0.0.2").allowed is False
        assert throttling.check("someone.else@school.example", "10.0.0.1").allowed is True


def test_sign_in_fails_closed_when_attempts_cannot_be_counted(app, client, make_user, monkeypatch):
    user = make_user(Role.STAFF)

    def broken(*_args):
        raise OperationalError("SELECT", {}, Exception("database unavailable"))

    monkeypatch.setattr(throttling, "check", broken)
    response = post_sign_in(client, user.email, DEFAULT_PASSWORD)
    assert response.status_code == 503
    assert operations.SIGN_IN_UNAVAILABLE in response.get_data(as_text=True)
    assert client.get("/").status_code == 302


# Sessions: idle timeout, sign-out, disabled users --------------------------------------


def test_ten_idle_minutes_sign_out_on_the_server(app, client, make_user, sign_in, time_machine):
    time_machine.move_to(START, tick=False)
    user = make_user(Role.STAFF)
    sign_in(user)
    time_machine.shift(timedelta(minutes=9, seconds=50))
    assert client.get("/").status_code == 200  # activity slides the window on
    time_machine.shift(timedelta(minutes=9, seconds=50))
    assert client.get("/").status_code == 200
    time_machine.shift(timedelta(minutes=10))
    response = client.get("/")
    assert response.status_code == 302 and "/auth/sign-in" in response.headers["Location"]
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "signed out after 10 minutes without activity" in page
    assert session_rows(app, user)[-1].end_reason == "idle"


def test_the_idle_timer_poll_does_not_count_as_activity(client, make_user, sign_in, time_machine):
    time_machine.move_to(START, tick=False)
    sign_in(make_user(Role.STAFF))
    time_machine.shift(timedelta(minutes=9))
    status = client.get("/auth/session", headers={"Accept": "application/json"})
    assert status.get_json()["seconds_remaining"] == 60
    time_machine.shift(timedelta(minutes=1, seconds=1))
    assert client.get("/auth/session", headers={"Accept": "application/json"}).status_code == 401


def test_keep_alive_button_extends_the_session(client, make_user, sign_in, time_machine):
    time_machine.move_to(START, tick=False)
    sign_in(make_user(Role.STAFF))
    time_machine.shift(timedelta(minutes=9, seconds=30))
    assert client.post("/auth/session/keep-alive").get_json()["seconds_remaining"] == 600


def test_sign_out_is_a_post_that_ends_the_server_session(app, client, make_user, sign_in):
    user = make_user(Role.STAFF)
    sign_in(user)
    with client.session_transaction() as cookie:
        stolen_cookie = dict(cookie)
    assert client.get("/auth/sign-out").status_code == 405
    assert client.post("/auth/sign-out", csrf=False).status_code == 400
    response = client.post("/auth/sign-out")
    assert response.status_code == 302
    assert '"cookies"' in response.headers["Clear-Site-Data"]
    # The sealed outbox on the device must survive sign-out and still send.
    assert "storage" not in response.headers["Clear-Site-Data"]
    assert session_rows(app, user)[-1].end_reason == "signed out"
    assert "auth.sign_out" in audit_actions(app, user.email)
    # Replaying the old cookie gets nothing: the session ended on the server.
    with client.session_transaction() as cookie:
        cookie.update(stolen_cookie)
    assert client.get("/").status_code == 302


def test_disabling_a_user_ends_their_sessions_at_once(app, client, make_user, sign_in):
    user = make_user(Role.CLASS_TEACHER)
    admin = make_user(Role.ADMIN)
    sign_in(user)
    assert client.get("/").status_code == 200
    with app.test_request_context():
        set_active(db.session.get(User, user.id), False, by=db.session.get(User, admin.id))
        db.session.commit()
    assert client.get("/").status_code == 302
    refused = post_sign_in(client, user.email, DEFAULT_PASSWORD)
    assert refused.status_code == 403
    assert "disabled" in refused.get_data(as_text=True)


def test_an_admin_cannot_disable_themselves(app, make_user):
    admin = make_user(Role.ADMIN)
    with app.test_request_context():
        me = db.session.get(User, admin.id)
        with pytest.raises(operations.AuthError):
            set_active(me, False, by=me)


# Blank screen --------------------------------------------------------------------------


def test_blank_screen_hides_everything_until_the_password_is_given(app, client, make_user, sign_in):
    user = make_user(Role.DSL)
    sign_in(user)
    response = client.post("/auth/blank", data={"next": "/auth/account/password"})
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/auth/unlock")
    for path in ["/", "/auth/account/password"]:
        blanked = client.get(path)
        assert blanked.status_code == 302 and "/auth/unlock" in blanked.headers["Location"]
    assert client.get("/", headers={"Accept": "application/json"}).status_code == 423
    wrong = client.post("/auth/unlock", data={"password": "Not-the-password-9"})
    assert wrong.status_code == 401
    right = client.post(
        "/auth/unlock",
        data={"password": DEFAULT_PASSWORD},
        query_string={"next": "/auth/account/password"},
    )
    assert right.headers["Location"] == "/auth/account/password"
    assert client.get("/").status_code == 200
    actions = audit_actions(app, user.email)
    assert [a for a in actions if a.startswith(("auth.screen", "auth.unlock"))] == [
        "auth.screen_blanked",
        "auth.unlock_failed",
        "auth.screen_unlocked",
    ]


def test_a_blanked_screen_can_still_sign_out(client, make_user, sign_in):
    sign_in(make_user(Role.STAFF))
    client.post("/auth/blank")
    assert client.post("/auth/sign-out").status_code == 302
    assert client.get("/auth/unlock").status_code == 302


def test_pages_carry_the_blank_screen_button_and_shortcut(client, make_user, sign_in):
    sign_in(make_user(Role.STAFF))
    page = client.get("/").get_data(as_text=True)
    assert "Blank screen" in page and 'aria-keyshortcuts="Escape Escape"' in page


# Changing a password -------------------------------------------------------------------


def test_changing_password_signs_out_other_devices(app, client, make_user, sign_in):
    user = make_user(Role.STAFF)
    other_device = app.test_client()
    sign_in(user, test_client=other_device)
    sign_in(user)
    new_password = "Fresh-Start-2027!"
    response = client.post(
        "/auth/account/password",
        data={
            "current_password": DEFAULT_PASSWORD,
            "password": new_password,
            "confirm": new_password,
        },
    )
    assert response.status_code == 302
    assert client.get("/").status_code == 200
    assert other_device.get("/").status_code == 302
    with app.app_context():
        assert (
            db.session.scalar(
                select(func.count(AuditEvent.id)).where(
                    AuditEvent.action == "auth.password_changed"
                )
            )
            == 1
        )


def test_changing_password_refuses_a_weak_one_and_changes_nothing(app, client, make_user, sign_in):
    user = make_user(Role.STAFF)
    sign_in(user)
    response = client.post(
        "/auth/account/password",
        data={
            "current_password": DEFAULT_PASSWORD,
            "password": "Password1!",
            "confirm": "Password1!",
        },
    )
    assert response.status_code == 422
    assert "too common" in response.get_data(as_text=True)
    client.post("/auth/sign-out")
    assert post_sign_in(client, user.email, DEFAULT_PASSWORD).status_code == 302


# Security headers ----------------------------------------------------------------------


def test_pages_have_a_strict_policy_and_are_never_cached(client, make_user, sign_in):
    sign_in(make_user(Role.STAFF))
    response = client.get("/")
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self' 'nonce-" in policy and "unsafe-inline" not in policy
    assert "frame-ancestors 'none'" in policy
    assert response.headers["Cache-Control"] == "no-store"
    nonce = policy.split("'nonce-")[1].split("'")[0]
    assert f'nonce="{nonce}"' in response.get_data(as_text=True)
    cookie = response.headers.get("Set-Cookie", "")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_forms_without_a_csrf_token_are_refused(client, make_user):
    user = make_user(Role.STAFF)
    response = client.post(
        "/auth/sign-in", data={"email": user.email, "password": DEFAULT_PASSWORD}, csrf=False
    )
    assert response.status_code == 400
    assert "security token" in response.get_data(as_text=True)


def test_guessing_at_a_blanked_screen_signs_out_after_five_tries(app, client, make_user, sign_in):
    user = make_user(Role.STAFF)
    sign_in(user)
    client.post("/auth/blank")
    for _ in range(4):
        assert client.post("/auth/unlock", data={"password": "Guess-Again-1!"}).status_code == 401
    fifth = client.post("/auth/unlock", data={"password": "Guess-Again-1!"})
    assert fifth.status_code == 302 and "/auth/sign-in" in fifth.headers["Location"]
    assert session_rows(app, user)[-1].end_reason == "unlock attempts"
    # The right password is no use now: the session is gone and the account is throttled.
    assert client.post("/auth/unlock", data={"password": DEFAULT_PASSWORD}).status_code == 302
    assert client.get("/").status_code == 302
    assert post_sign_in(client, user.email, DEFAULT_PASSWORD).status_code == 429
    assert "auth.unlock_locked_out" in audit_actions(app, user.email)


def test_a_correct_unlock_resets_the_count(client, make_user, sign_in):
    user = make_user(Role.STAFF)
    sign_in(user)
    for _ in range(2):
        client.post("/auth/blank")
        for _ in range(4):
            client.post("/auth/unlock", data={"password": "Guess-Again-1!"})
        assert client.post("/auth/unlock", data={"password": DEFAULT_PASSWORD}).status_code == 302
    assert client.get("/").status_code == 200


def test_someone_elses_guessing_does_not_sign_out_a_blanked_session(
    app, client, make_user, sign_in, time_machine
):
    time_machine.move_to(START, tick=False)
    user = make_user(Role.DSL)
    sign_in(user)
    client.post("/auth/blank")
    time_machine.shift(timedelta(seconds=1))
    attacker = app.test_client()
    for _ in range(5):
        post_sign_in(attacker, user.email, "Guess-Again-1!")
    held = client.post("/auth/unlock", data={"password": DEFAULT_PASSWORD})
    assert held.status_code == 429
    assert session_rows(app, user)[-1].ended_at is None  # still locked, not signed out
    assert "/auth/unlock" in client.get("/").headers["Location"]
    # The throttle lasts 15 minutes; a locked screen left alone idles out after 10 as usual.
    time_machine.shift(timedelta(minutes=15, seconds=1))
    assert session_rows(app, user)[-1].ended_at is None
    assert client.get("/").status_code == 302
    assert session_rows(app, user)[-1].end_reason == "idle"
    assert post_sign_in(client, user.email, DEFAULT_PASSWORD).status_code == 302


JSON = {"Accept": "application/json"}


def test_a_page_locked_in_place_is_unlocked_only_by_the_password(client, make_user, sign_in):
    sign_in(make_user(Role.STAFF))
    # Even if the lock request never reached the server, the answer needs the password.
    assert client.post("/auth/unlock", data={"password": ""}, headers=JSON).status_code == 422
    wrong = client.post("/auth/unlock", data={"password": "Not-It-123!"}, headers=JSON)
    assert wrong.status_code == 401 and wrong.get_json()["error"] == "refused"
    client.post("/auth/blank")
    assert client.get("/auth/unlock", headers=JSON).get_json() == {"locked": True}
    right = client.post("/auth/unlock", data={"password": DEFAULT_PASSWORD}, headers=JSON)
    assert right.get_json() == {"unlocked": True}
    assert client.get("/auth/session", headers=JSON).get_json()["locked"] is False


def test_the_session_says_whose_it_is(client, make_user, sign_in):
    user = make_user(Role.STAFF)
    sign_in(user)
    assert client.get("/auth/session", headers=JSON).get_json()["user_id"] == user.id


# --- Changing the password while signed in (issue 11, finding 7) ----------------------------

NEW_PASSWORD = "Blue-Lantern-73?"


def change_password(client, current: str):
    return client.post(
        "/auth/account/password",
        data={"current_password": current, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
    )


def test_guessing_the_current_password_counts_with_sign_in_throttling(
    app, client, make_user, sign_in
):
    """A signed-in session (an unattended iPad) cannot guess the password without limit."""
    user = make_user(Role.STAFF)
    sign_in(user)
    before = user.password_hash
    for attempt in range(5):
        assert change_password(client, f"Guess-{attempt}-Wrong!").status_code == 422
    refused = change_password(client, DEFAULT_PASSWORD)  # even the right one, while throttled
    assert refused.status_code == 429
    assert "Too many attempts" in refused.get_data(as_text=True)
    assert post_sign_in(app.test_client(), user.email, DEFAULT_PASSWORD).status_code == 429
    actions = audit_actions(app)
    assert actions.count("auth.password_change_failed") == 5
    assert "auth.password_change_throttled" in actions
    with app.app_context():
        assert db.session.get(User, user.id).password_hash == before


def test_the_right_current_password_still_changes_it(app, client, make_user, sign_in):
    user = make_user(Role.STAFF)
    sign_in(user)
    assert change_password(client, "Not-It-At-All-1!").status_code == 422
    assert change_password(client, DEFAULT_PASSWORD).status_code == 302
    assert post_sign_in(app.test_client(), user.email, NEW_PASSWORD).status_code == 302


def test_a_request_with_a_replaced_token_does_not_sign_the_person_out(
    app, client, make_user, sign_in
):
    """Step-up replaces the session's token; a request still on its way with the old one must
    not clear the cookie in its answer (that would sign the person out on the new token)."""
    from server.auth.sessions import SESSION_TOKEN_KEY, token_digest

    user = make_user(Role.STAFF)
    sign_in(user)
    with client.session_transaction() as cookie:
        old_token = cookie[SESSION_TOKEN_KEY]
    with app.app_context():
        row = db.session.scalar(
            select(UserSession).where(UserSession.token_hash == token_digest(old_token))
        )
        row.token_hash = token_digest("a-new-token-from-step-up")
        db.session.commit()
    response = client.get("/auth/session", headers={"Accept": "application/json"})
    assert response.status_code == 401
    assert "Set-Cookie" not in response.headers  # the browser keeps whatever cookie it has now
