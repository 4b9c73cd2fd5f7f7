"""Passkeys (SPEC §6): registration, step-up, its refusals and its windows.

A software authenticator (tests/webauthn_authenticator.py) makes real attestations and
assertions. The refusals are one table, run against the domain functions and through HTTP.
"""

import json
import secrets
from datetime import timedelta
from types import SimpleNamespace

import pytest
import time_machine
from sqlalchemy import select

from server.audit.models import AuditEvent
from server.auth.models import User, UserSession
from server.auth.roles import Role
from server.auth.sessions import SESSION_TOKEN_KEY, token_digest
from server.auth.step_up import note_review_activity, review_unlocked
from server.clock import utcnow
from server.extensions import db
from server.passkeys import challenges, operations
from server.passkeys.models import PasskeyCredential
from server.passkeys.operations import PasskeyError
from tests.webauthn_authenticator import SoftwareAuthenticator, b64url, from_b64url

EVIL_ORIGIN = "https://haven.evil.example"


def audit_events(app, action: str) -> list[dict]:
    with app.test_request_context():
        events = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
        )
        return [
            {"actor": e.actor_user_id, "object_id": e.object_id, **json.loads(e.details)}
            for e in events
        ]


def stored_passkey(app, passkey_id: int) -> PasskeyCredential:
    with app.test_request_context():
        passkey = db.session.get(PasskeyCredential, passkey_id)
        db.session.expunge(passkey)
        return passkey


@pytest.fixture
def authenticator(app) -> SoftwareAuthenticator:
    return SoftwareAuthenticator(origin=app.config["WEBAUTHN_ORIGIN"])


# The two ways in: the domain functions, and HTTP as the page's script uses it ---------------


class DomainCeremony:
    """Calls `server.passkeys.operations` directly, inside one request context."""

    def __init__(self, app, user: User, authenticator: SoftwareAuthenticator):
        self.app = app
        self.authenticator = authenticator
        self.user = db.session.get(User, user.id)
        self.row = self.new_session()

    def new_session(self) -> UserSession:
        row = UserSession(token_hash=secrets.token_hex(32), user_id=self.user.id)
        db.session.add(row)
        db.session.flush()
        return row

    def register(self, name: str = "School iPad", **answer) -> tuple[int, int | None]:
        options = operations.registration_options(self.user, self.row)
        credential = self.authenticator.create(options, **answer)
        try:
            passkey = operations.register_passkey(self.user, self.row, name, credential)
        except PasskeyError as error:
            db.session.commit()
            return error.status, None
        db.session.commit()
        return 201, passkey.id

    def options(self, another_session: bool = False) -> dict:
        row = self.new_session() if another_session else self.row
        options = operations.step_up_options(self.user, row)
        db.session.commit()
        return options

    def step_up(self, credential) -> tuple[int, str | None]:
        try:
            operations.step_up(self.user, self.row, credential)
        except PasskeyError as error:
            db.session.commit()
            return error.status, error.reason
        db.session.commit()
        return 200, None

    def stepped_up(self) -> bool:
        db.session.refresh(self.row)
        return review_unlocked(self.row)


class HttpCeremony:
    """Drives the JSON endpoints with a signed-in test client, as pwa/js/passkeys.js does."""

    def __init__(self, app, client, sign_in, user: User, authenticator: SoftwareAuthenticator):
        self.app = app
        self.client = client
        self.sign_in = sign_in
        self.user = user
        self.authenticator = authenticator
        sign_in(user)

    def register(self, name: str = "School iPad", **answer) -> tuple[int, int | None]:
        options = self.client.post("/passkeys/register/options").get_json()
        credential = self.authenticator.create(options, **answer)
        response = self.client.post(
            "/passkeys/register", json={"name": name, "credential": credential}
        )
        return response.status_code, (response.get_json() or {}).get("id")

    def options(self, another_session: bool = False) -> dict:
        client = self.client
        if another_session:
            client = self.app.test_client()
            self.sign_in(self.user, test_client=client)
        response = client.post("/passkeys/step-up/options")
        assert response.status_code == 200, response.get_data(as_text=True)
        return response.get_json()

    def step_up(self, credential) -> tuple[int, str | None]:
        response = self.client.post(
            "/passkeys/step-up", json={"credential": credential, "next": "/admin/"}
        )
        return response.status_code, response.get_json().get("error")

    def stepped_up(self) -> bool:
        with self.client.session_transaction() as cookie:
            token = cookie[SESSION_TOKEN_KEY]
        with self.app.test_request_context():
            row = db.session.scalar(
                select(UserSession).where(UserSession.token_hash == token_digest(token))
            )
            return review_unlocked(row)


@pytest.fixture(params=["domain", "http"])
def ceremony(request, app, make_user, authenticator):
    user = make_user(Role.DSL, full_name="Dana Lockwood")
    if request.param == "domain":
        with app.test_request_context():
            yield DomainCeremony(app, user, authenticator)
    else:
        client = request.getfixturevalue("client")
        sign_in = request.getfixturevalue("sign_in")
        yield HttpCeremony(app, client, sign_in, user, authenticator)


# Registration -----------------------------------------------------------------------------


@pytest.mark.parametrize("attestation", ["packed", "none"])
def test_registration_keeps_the_passkey_and_audits_it(ceremony, app, attestation):
    status, passkey_id = ceremony.register("Staffroom iPad", attestation=attestation)

    assert status == 201
    passkey = stored_passkey(app, passkey_id)
    held = next(iter(ceremony.authenticator.credentials.values()))
    assert passkey.user_id == ceremony.user.id
    assert passkey.name == "Staffroom iPad"
    assert passkey.credential_id == held.credential_id
    assert passkey.public_key == held.cose_public_key
    assert passkey.user_handle == held.user_handle
    assert passkey.sign_count == 0 and passkey.last_used_at is None and passkey.usable
    assert passkey.transport_list == ["internal", "hybrid"]
    [event] = audit_events(app, "passkey.registered")
    assert event["object_id"] == str(passkey_id) and event["attestation"] == attestation


def wrong_origin(ceremony):
    return ceremony.register(origin=EVIL_ORIGIN)


def wrong_rp_id(ceremony):
    return ceremony.register(rp_id="evil.example")


def no_user_verification(ceremony):
    return ceremony.register(user_verified=False)


def foreign_challenge(ceremony):
    return ceremony.register(challenge="bm90LWEtY2hhbGxlbmdlLXdlLWdhdmU")


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        (wrong_origin, "invalid response"),
        (wrong_rp_id, "invalid response"),
        (no_user_verification, "invalid response"),
        (foreign_challenge, "unknown challenge"),
    ],
)
def test_registration_refusals(ceremony, app, answer, reason):
    status, passkey_id = answer(ceremony)

    assert (status, passkey_id) == (400, None)
    [event] = audit_events(app, "passkey.registration_failed")
    assert event["reason"] == reason
    assert audit_events(app, "passkey.registered") == []
    with app.test_request_context():
        assert db.session.scalars(select(PasskeyCredential)).all() == []


def test_registration_challenge_is_single_use_and_expires(app, make_user, authenticator):
    user = make_user(Role.SLT)
    with app.test_request_context():
        ceremony = DomainCeremony(app, user, authenticator)
        options = operations.registration_options(ceremony.user, ceremony.row)
        late = authenticator.create(options)
        with (
            time_machine.travel(utcnow() + challenges.CHALLENGE_LIFETIME, tick=False),
            pytest.raises(PasskeyError) as expired,
        ):
            operations.register_passkey(ceremony.user, ceremony.row, "Phone", late)
        with pytest.raises(PasskeyError) as reused:
            operations.register_passkey(ceremony.user, ceremony.row, "Phone", late)
    assert (expired.value.status, expired.value.reason) == (400, "challenge expired")
    assert (reused.value.status, reused.value.reason) == (400, "challenge already used")


def test_registration_options_ask_for_what_the_policy_needs(ceremony):
    ceremony.register("First")
    if isinstance(ceremony, DomainCeremony):
        ceremony.row.last_assertion_at = ceremony.row.stepped_up_at = utcnow()
        ceremony.row.review_active_at = utcnow()
        options = operations.registration_options(ceremony.user, ceremony.row)
    else:
        ceremony.sign_in(ceremony.user)  # no step-up yet: refused below, then allowed
        refused = ceremony.client.post("/passkeys/register/options")
        assert refused.status_code == 403
        assert refused.get_json()["error"] == "step_up_required"
        ceremony.step_up(ceremony.authenticator.get(ceremony.options()))
        options = ceremony.client.post("/passkeys/register/options").get_json()

    assert options["authenticatorSelection"]["userVerification"] == "required"
    assert options["authenticatorSelection"]["residentKey"] == "preferred"
    held = next(iter(ceremony.authenticator.credentials.values()))
    assert [item["id"] for item in options["excludeCredentials"]] == [held.id]
    assert from_b64url(options["user"]["id"]) == held.user_handle  # one handle per account
    assert options["rp"] == {"id": "localhost", "name": "Haven"}
    with pytest.raises(ValueError, match="InvalidStateError"):
        ceremony.authenticator.create(options)  # the authenticator refuses a second one


def test_a_second_passkey_needs_a_fresh_assertion_with_the_first(app, make_user, authenticator):
    """Otherwise a stolen password alone could add the thief's passkey to the account."""
    with app.test_request_context():
        ceremony = DomainCeremony(app, make_user(Role.PASTORAL), authenticator)
        ceremony.register("Phone")
        with pytest.raises(PasskeyError) as refused:
            operations.registration_options(ceremony.user, ceremony.row)
        assert (refused.value.status, refused.value.reason) == (403, "step_up_required")

        ceremony.step_up(authenticator.get(ceremony.options()))
        second = SoftwareAuthenticator(origin=authenticator.origin)
        ceremony.authenticator = second
        status, passkey_id = ceremony.register("Laptop")
    assert status == 201
    assert stored_passkey(app, passkey_id).name == "Laptop"


def test_only_roles_that_hold_passkeys_may_register(app, make_user, client, sign_in):
    staff = make_user(Role.STAFF)
    with app.test_request_context():
        ceremony_user = db.session.get(User, staff.id)
        row = UserSession(token_hash=secrets.token_hex(32), user_id=staff.id)
        db.session.add(row)
        db.session.flush()
        with pytest.raises(PasskeyError) as refused:
            operations.registration_options(ceremony_user, row)
    assert refused.value.status == 403

    sign_in(staff)
    assert client.post("/passkeys/register/options").status_code == 403
    assert client.get("/passkeys/").status_code == 403


@pytest.mark.parametrize(
    ("name", "status"), [("", 422), ("   ", 422), ("x" * 61, 422), ("  Office   iPad ", 201)]
)
def test_the_name_is_required_and_short(
    app, make_user, client, sign_in, authenticator, name, status
):
    sign_in(make_user(Role.SLT))
    options = client.post("/passkeys/register/options").get_json()
    response = client.post(
        "/passkeys/register", json={"name": name, "credential": authenticator.create(options)}
    )
    assert response.status_code == status
    with app.test_request_context():
        names = db.session.scalars(select(PasskeyCredential.name)).all()
    assert names == (["Office iPad"] if status == 201 else [])


def test_registration_needs_the_csrf_token(make_user, client, sign_in, authenticator):
    sign_in(make_user(Role.SLT))
    options = client.post("/passkeys/register/options").get_json()
    response = client.post(
        "/passkeys/register",
        json={"name": "Phone", "credential": authenticator.create(options)},
        csrf=False,
    )
    assert response.status_code == 400


def test_the_challenge_never_travels_in_the_cookie(make_user, client, sign_in):
    sign_in(make_user(Role.DSL))
    options = client.post("/passkeys/register/options").get_json()
    with client.session_transaction() as cookie:
        stored = json.dumps(dict(cookie), default=str)
    assert options["challenge"] not in stored
    assert set(cookie) <= {SESSION_TOKEN_KEY, "csrf_token", "_flashes", "_permanent"}


# Step-up ----------------------------------------------------------------------------------


def test_step_up_unlocks_review_with_a_new_session_id(ceremony, app):
    _, passkey_id = ceremony.register()
    before = _session_token(ceremony)

    status, _ = ceremony.step_up(ceremony.authenticator.get(ceremony.options()))

    assert status == 200
    assert ceremony.stepped_up()
    assert _session_token(ceremony) != before
    passkey = stored_passkey(app, passkey_id)
    assert passkey.sign_count == 1 and passkey.last_used_at is not None
    [event] = audit_events(app, "passkey.step_up")
    assert event["object_id"] == str(passkey_id) and event["actor"] == ceremony.user.id


def _session_token(ceremony) -> str:
    if isinstance(ceremony, DomainCeremony):
        return ceremony.row.token_hash
    with ceremony.client.session_transaction() as cookie:
        return cookie[SESSION_TOKEN_KEY]


def test_a_synced_passkey_always_counting_zero_is_normal(ceremony, app):
    ceremony.authenticator.synced = True
    _, passkey_id = ceremony.register()
    for _ in range(3):
        assert ceremony.step_up(ceremony.authenticator.get(ceremony.options()))[0] == 200
    assert stored_passkey(app, passkey_id).sign_count == 0
    assert audit_events(app, "passkey.sign_count_regression") == []


# Each attempt gets the ceremony and `more` (app, make_user, make_passkey, and the clock, which
# stays where an attempt moves it) and returns (status, reason) as the ceremony reports them.


def step_up_wrong_origin(ceremony, more):
    return ceremony.step_up(ceremony.authenticator.get(ceremony.options(), origin=EVIL_ORIGIN))


def step_up_wrong_rp_id(ceremony, more):
    return ceremony.step_up(ceremony.authenticator.get(ceremony.options(), rp_id="evil.example"))


def step_up_without_user_verification(ceremony, more):
    return ceremony.step_up(ceremony.authenticator.get(ceremony.options(), user_verified=False))


def step_up_reusing_a_challenge(ceremony, more):
    options = ceremony.options()
    assert ceremony.step_up(ceremony.authenticator.get(options))[0] == 200
    return ceremony.step_up(ceremony.authenticator.get(options))


def step_up_after_the_challenge_expired(ceremony, more):
    options = ceremony.options()
    more.clock.shift(challenges.CHALLENGE_LIFETIME)
    return ceremony.step_up(ceremony.authenticator.get(options))


def step_up_with_another_sessions_challenge(ceremony, more):
    return ceremony.step_up(ceremony.authenticator.get(ceremony.options(another_session=True)))


def step_up_with_another_users_passkey(ceremony, more):
    other = more.make_user(Role.SLT, full_name="Other Reviewer")
    more.make_passkey(other, ceremony.authenticator)
    other_credential = list(ceremony.authenticator.credentials)[-1]
    return ceremony.step_up(
        ceremony.authenticator.get(ceremony.options(), credential_id=other_credential)
    )


def step_up_with_a_sign_count_that_went_back(ceremony, more):
    assert ceremony.step_up(ceremony.authenticator.get(ceremony.options()))[0] == 200  # count 1
    return ceremony.step_up(ceremony.authenticator.get(ceremony.options(), sign_count=1))


def step_up_with_a_revoked_passkey(ceremony, more):
    options = ceremony.options()
    with more.app.test_request_context():
        passkey = db.session.scalar(select(PasskeyCredential))
        operations.revoke_passkey(passkey, by=passkey.user)
        db.session.commit()
    return ceremony.step_up(ceremony.authenticator.get(options))


def step_up_with_a_malformed_answer(ceremony, more):
    ceremony.options()
    return ceremony.step_up({"id": "nonsense", "response": "nothing useful"})


REFUSALS = [
    (step_up_wrong_origin, 400, "invalid response", "origin"),
    (step_up_wrong_rp_id, 400, "invalid response", "RP ID"),
    (step_up_without_user_verification, 400, "invalid response", "User verification"),
    (step_up_reusing_a_challenge, 400, "challenge already used", None),
    (step_up_after_the_challenge_expired, 400, "challenge expired", None),
    (step_up_with_another_sessions_challenge, 400, "unknown challenge", None),
    (step_up_with_a_malformed_answer, 400, "malformed response", None),
    (step_up_with_another_users_passkey, 403, "passkey belongs to another user", None),
    (step_up_with_a_sign_count_that_went_back, 403, "sign count regression", None),
    (step_up_with_a_revoked_passkey, 403, "passkey revoked", None),
]


@pytest.mark.parametrize(
    ("attempt", "status", "reason", "detail"), REFUSALS, ids=[r[0].__name__ for r in REFUSALS]
)
def test_step_up_refusals(ceremony, app, make_user, make_passkey, attempt, status, reason, detail):
    ceremony.register()
    was_stepped_up_before = attempt in {
        step_up_reusing_a_challenge,
        step_up_with_a_sign_count_that_went_back,
    }
    with time_machine.travel(utcnow(), tick=False) as clock:
        more = SimpleNamespace(app=app, make_user=make_user, make_passkey=make_passkey, clock=clock)
        assert attempt(ceremony, more) == (status, reason)
        _assert_refusal_recorded(ceremony, app, reason, detail, was_stepped_up_before)


def _assert_refusal_recorded(ceremony, app, reason, detail, was_stepped_up_before):

    failures = audit_events(app, "passkey.step_up_failed")
    assert [event["reason"] for event in failures] == [reason]
    if detail:
        assert detail in failures[0]["detail"]
    assert len(audit_events(app, "passkey.step_up")) == int(was_stepped_up_before)
    if not was_stepped_up_before:
        assert not ceremony.stepped_up()


def test_a_sign_count_regression_flags_the_passkey(ceremony, app):
    _, passkey_id = ceremony.register()
    assert ceremony.step_up(ceremony.authenticator.get(ceremony.options()))[0] == 200
    assert ceremony.step_up(ceremony.authenticator.get(ceremony.options()))[0] == 200  # count 2

    assert ceremony.step_up(ceremony.authenticator.get(ceremony.options(), sign_count=1)) == (
        403,
        "sign count regression",
    )

    passkey = stored_passkey(app, passkey_id)
    assert passkey.flagged_at is not None and not passkey.usable
    assert passkey.sign_count == 2
    [event] = audit_events(app, "passkey.sign_count_regression")
    assert (event["stored"], event["received"], event["object_id"]) == (2, 1, str(passkey_id))
    # Once flagged it is refused even with a counter that moves on.
    assert ceremony.step_up(
        ceremony.authenticator.get(_any_challenge(ceremony), sign_count=50)
    ) == (403, "passkey flagged")


def _any_challenge(ceremony) -> dict:
    """Options for a flagged passkey are not offered; ask for a challenge as a script could."""
    if isinstance(ceremony, DomainCeremony):
        challenge = challenges.issue_challenge(ceremony.user, ceremony.row, challenges.STEP_UP)
        db.session.commit()
    else:
        with ceremony.client.session_transaction() as cookie:
            token = cookie[SESSION_TOKEN_KEY]
        with ceremony.app.test_request_context():
            row = db.session.scalar(
                select(UserSession).where(UserSession.token_hash == token_digest(token))
            )
            challenge = challenges.issue_challenge(row.user, row, challenges.STEP_UP)
            db.session.commit()
    return {"challenge": b64url(challenge), "rpId": "localhost"}


def test_a_forged_low_count_cannot_get_a_passkey_blocked(ceremony, app):
    """The counter is compared only once the signature is good."""
    _, passkey_id = ceremony.register()
    assert ceremony.step_up(ceremony.authenticator.get(ceremony.options()))[0] == 200
    options = ceremony.options()
    genuine_id = next(iter(ceremony.authenticator.credentials))
    impostor = ceremony.authenticator.new_credential("localhost")
    forged = ceremony.authenticator.get(options, credential_id=genuine_id, sign_count=0)
    # The same bytes signed by another key: everything checks out except the signature.
    other = ceremony.authenticator.get(options, credential_id=impostor.id, sign_count=0)
    assert other["response"]["authenticatorData"] == forged["response"]["authenticatorData"]
    forged["response"]["signature"] = other["response"]["signature"]

    assert ceremony.step_up(forged) == (400, "invalid response")
    assert stored_passkey(app, passkey_id).usable


def test_step_up_needs_a_passkey(app, make_user, client, sign_in):
    sign_in(make_user(Role.SLT))
    response = client.post("/passkeys/step-up/options")
    assert response.status_code == 409
    assert "Add one first" in response.get_json()["message"]


def test_step_up_returns_only_to_a_local_page(app, make_user, client, sign_in, authenticator):
    http = HttpCeremony(app, client, sign_in, make_user(Role.ADMIN), authenticator)
    http.register()
    answer = authenticator.get(http.options())
    response = client.post(
        "/passkeys/step-up", json={"credential": answer, "next": "https://evil.example/"}
    )
    assert response.get_json() == {"redirect": "/"}


# Pages ------------------------------------------------------------------------------------


def test_a_review_page_goes_through_step_up_and_back(
    app, make_user, client, sign_in, authenticator
):
    http = HttpCeremony(app, client, sign_in, make_user(Role.ADMIN), authenticator)
    http.register()

    response = client.get("/admin/users?sort=name")
    assert response.status_code == 302
    assert response.headers["Location"] == "/passkeys/step-up?next=/admin/users?sort%3Dname"

    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Confirm it’s you" in page
    assert 'data-next="/admin/users?sort=name"' in page

    answer = authenticator.get(http.options())
    result = client.post(
        "/passkeys/step-up", json={"credential": answer, "next": "/admin/users?sort=name"}
    )
    assert result.get_json() == {"redirect": "/admin/users?sort=name"}
    assert client.get("/admin/users?sort=name").status_code == 200


def test_someone_who_may_review_without_a_passkey_is_asked_to_add_one(make_user, client, sign_in):
    sign_in(make_user(Role.ADMIN))
    page = client.get("/passkeys/step-up?next=/admin/").get_data(as_text=True)
    assert "You need a passkey first" in page
    assert 'href="/passkeys/?next=/admin/"' in page

    listing = client.get("/passkeys/?next=/admin/").get_data(as_text=True)
    assert "You do not have a passkey yet" in listing
    assert 'data-done-url="/passkeys/step-up?next=/admin/"' in listing


def test_every_page_prompts_a_reviewer_without_a_passkey(app, make_user, make_passkey, sign_in):
    def home_for(user) -> str:
        test_client = app.test_client()
        sign_in(user, test_client=test_client)
        return test_client.get("/").get_data(as_text=True)

    prompt = "need a passkey as well as your password"
    assert prompt in home_for(make_user(Role.CLASS_TEACHER))
    assert prompt not in home_for(make_user(Role.STAFF))
    holder = make_user(Role.SLT)
    make_passkey(holder)
    assert prompt not in home_for(holder)


def test_scripts_get_403_step_up_required(make_user, client, sign_in):
    sign_in(make_user(Role.ADMIN))
    response = client.get("/admin/users", headers={"Accept": "application/json"})
    assert response.status_code == 403
    body = response.get_json()
    assert body["error"] == "step_up_required" and body["fresh_assertion"] is False
    assert body["step_up_url"] == "/passkeys/step-up?next=/admin/users"


def test_saving_a_users_roles_without_a_fresh_assertion_returns_to_the_form(
    app, make_user, client, sign_in, step_up
):
    admin = make_user(Role.ADMIN)
    person = make_user(Role.STAFF, Role.CLASS_TEACHER, full_name="Kit Marlow")
    sign_in(admin)
    step_up()
    with time_machine.travel(utcnow() + timedelta(minutes=6), tick=False):
        response = client.post(
            f"/admin/users/{person.id}",
            data={"full_name": "Kit Marlow", "email": person.email, "roles": ["staff"]},
            headers={"Referer": f"http://localhost/admin/users/{person.id}"},
        )
        assert response.status_code == 302
        assert response.headers["Location"] == f"/passkeys/step-up?next=/admin/users/{person.id}"
        with app.test_request_context():
            assert db.session.get(User, person.id).roles == {Role.STAFF, Role.CLASS_TEACHER}

        step_up()
        response = client.post(
            f"/admin/users/{person.id}",
            data={
                "full_name": "Kit Marlow",
                "email": person.email,
                "roles": ["staff"],
                "active": "y",
            },
        )
    assert response.status_code == 302 and response.headers["Location"] == "/admin/users"
    with app.test_request_context():
        assert db.session.get(User, person.id).roles == {Role.STAFF}


def test_a_refused_button_returns_to_the_page_it_was_on(make_user, client, sign_in, make_passkey):
    """A POST-only route is never the place to come back to: the page that held the form is."""
    owner = make_user(Role.DSL)
    passkey_id = make_passkey(owner)
    sign_in(owner)
    refused = client.post(
        f"/passkeys/{passkey_id}/revoke", headers={"Referer": "http://localhost/passkeys/"}
    )
    assert refused.headers["Location"] == "/passkeys/step-up?next=/passkeys/"
    elsewhere = client.post(
        f"/passkeys/{passkey_id}/revoke", headers={"Referer": "https://evil.example/passkeys/"}
    )
    assert elsewhere.headers["Location"] == "/passkeys/step-up?next=/"


def test_your_passkeys_lists_names_and_dates(app, make_user, client, sign_in, authenticator):
    http = HttpCeremony(app, client, sign_in, make_user(Role.DSL), authenticator)
    http.register("Office iPad")
    page = client.get("/passkeys/").get_data(as_text=True)
    assert "Office iPad" in page and "Not yet" in page
    assert "Add a passkey" in page and "data-passkey-register" not in page  # fresh check first

    http.step_up(authenticator.get(http.options()))
    page = client.get("/passkeys/").get_data(as_text=True)
    assert "Not yet" not in page and "data-passkey-register" in page


def test_the_banner_links_to_passkeys_for_those_who_hold_them(app, make_user, client, sign_in):
    sign_in(make_user(Role.CLASS_TEACHER))
    assert 'href="/passkeys/"' in client.get("/").get_data(as_text=True)
    staff_client = app.test_client()
    sign_in(make_user(Role.STAFF), test_client=staff_client)
    assert 'href="/passkeys/"' not in staff_client.get("/").get_data(as_text=True)


def test_rename(app, make_user, client, sign_in, make_passkey):
    owner = make_user(Role.SLT)
    passkey_id = make_passkey(owner, name="Phone")
    sign_in(owner)
    assert client.post(f"/passkeys/{passkey_id}/rename", data={"name": ""}).status_code == 422
    response = client.post(f"/passkeys/{passkey_id}/rename", data={"name": "Old phone"})
    assert response.status_code == 302
    assert stored_passkey(app, passkey_id).name == "Old phone"
    [event] = audit_events(app, "passkey.renamed")
    assert (event["from"], event["to"]) == ("Phone", "Old phone")


# Revoking ---------------------------------------------------------------------------------


def test_the_owner_revokes_a_passkey(app, make_user, client, sign_in, step_up, make_passkey):
    owner = make_user(Role.PASTORAL)
    passkey_id = make_passkey(owner, name="Lost phone")
    sign_in(owner)
    assert client.post(f"/passkeys/{passkey_id}/revoke").status_code == 302  # to step-up
    assert stored_passkey(app, passkey_id).revoked_at is None

    step_up()
    response = client.post(f"/passkeys/{passkey_id}/revoke")
    assert response.headers["Location"] == "/passkeys/"
    passkey = stored_passkey(app, passkey_id)
    assert passkey.revoked_at is not None and passkey.revoked_by_id == owner.id
    [event] = audit_events(app, "passkey.revoked")
    assert event["by_owner"] is True and event["actor"] == owner.id
    assert "You do not have a passkey yet" in client.get("/passkeys/").get_data(as_text=True)


def test_nobody_revokes_someone_elses_passkey_from_their_own_page(
    app, make_user, client, sign_in, step_up, make_passkey
):
    passkey_id = make_passkey(make_user(Role.DSL))
    sign_in(make_user(Role.SLT))
    step_up()
    assert client.post(f"/passkeys/{passkey_id}/revoke").status_code == 404
    assert stored_passkey(app, passkey_id).revoked_at is None


def test_only_a_dsl_removes_the_passkeys_of_someone_who_sees_safeguarding(
    app, make_user, client, sign_in, step_up, make_passkey
):
    """Otherwise the office could leave a DSL's account guarded by the password alone."""
    passkey_id = make_passkey(make_user(Role.SLT, full_name="Senior Person"))
    owner_id = stored_passkey(app, passkey_id).user_id
    sign_in(make_user(Role.ADMIN))
    step_up()
    refused = client.post(f"/admin/users/{owner_id}/passkeys/{passkey_id}/revoke")
    assert refused.status_code in (302, 403)
    assert stored_passkey(app, passkey_id).revoked_at is None
    client.post("/auth/sign-out")
    sign_in(make_user(Role.DSL))
    step_up()
    client.post(f"/admin/users/{owner_id}/passkeys/{passkey_id}/revoke")
    assert stored_passkey(app, passkey_id).revoked_at is not None


def test_an_admin_revokes_a_users_passkey(app, make_user, client, sign_in, step_up, make_passkey):
    admin = make_user(Role.ADMIN)
    # Another office account: a reader's passkeys are theirs or a DSL's to remove
    # (tests/test_approvals.py).
    person = make_user(Role.ADMIN, full_name="Robin Vale")
    passkey_id = make_passkey(person, name="Robin's iPad")
    sign_in(admin)
    step_up()
    form = client.get(f"/admin/users/{person.id}").get_data(as_text=True)
    assert "Robin&#39;s iPad" in form
    assert f'action="/admin/users/{person.id}/passkeys/{passkey_id}/revoke"' in form

    response = client.post(f"/admin/users/{person.id}/passkeys/{passkey_id}/revoke")

    assert response.headers["Location"] == f"/admin/users/{person.id}"
    assert stored_passkey(app, passkey_id).revoked_by_id == admin.id
    [event] = audit_events(app, "passkey.revoked")
    assert event["by_owner"] is False and event["owner_id"] == person.id
    assert "has no passkeys" in client.get(f"/admin/users/{person.id}").get_data(as_text=True)


def test_revoke_rules_in_the_domain(app, make_user, make_passkey):
    owner, admin, other = make_user(Role.CLASS_TEACHER), make_user(Role.ADMIN), make_user(Role.SLT)
    dsl = make_user(Role.DSL)
    passkey_id = make_passkey(owner)
    with app.test_request_context():
        passkey = db.session.get(PasskeyCredential, passkey_id)
        for refused_to in (other, admin):
            with pytest.raises(PasskeyError) as refused:
                operations.revoke_passkey(passkey, by=db.session.get(User, refused_to.id))
            assert refused.value.status == 403
        operations.revoke_passkey(passkey, by=db.session.get(User, dsl.id))
        db.session.commit()
        with pytest.raises(PasskeyError) as again:
            operations.revoke_passkey(passkey, by=db.session.get(User, owner.id))
        assert again.value.status == 409
    assert [e["actor"] for e in audit_events(app, "passkey.revoked")] == [dsl.id]


# The step-up windows (clock moved, never slept) --------------------------------------------


@pytest.fixture
def admin_client(app, make_user, client, sign_in, authenticator):
    """An administrator with a passkey, signed in; `.step_up()` runs the real ceremony."""
    http = HttpCeremony(app, client, sign_in, make_user(Role.ADMIN), authenticator)
    http.register()
    return http


def _unlocked(client) -> bool:
    response = client.get("/admin/")
    assert response.status_code in {200, 302}
    return response.status_code == 200


def test_review_stays_unlocked_for_15_minutes_after_the_last_review(admin_client):
    client = admin_client.client
    with time_machine.travel(utcnow(), tick=False) as clock:
        start = utcnow()
        assert (
            admin_client.step_up(admin_client.authenticator.get(admin_client.options()))[0] == 200
        )
        for minute, review in [(9, False), (14, True), (23, False), (28, True), (37, False)]:
            clock.move_to(start + timedelta(minutes=minute))
            if review:
                assert _unlocked(client), minute
            else:
                assert client.get("/").status_code == 200  # activity, but not review
        clock.move_to(start + timedelta(minutes=28 + 15, seconds=1))
        assert not _unlocked(client)


def test_review_locks_two_hours_after_the_step_up_however_busy(admin_client):
    client = admin_client.client
    with time_machine.travel(utcnow(), tick=False) as clock:
        start = utcnow()
        assert (
            admin_client.step_up(admin_client.authenticator.get(admin_client.options()))[0] == 200
        )
        for minute in range(9, 120, 9):
            clock.move_to(start + timedelta(minutes=minute))
            assert _unlocked(client), minute
        clock.move_to(start + timedelta(hours=2))
        assert not _unlocked(client)


def test_a_fresh_assertion_lasts_5_minutes(admin_client):
    client = admin_client.client
    with time_machine.travel(utcnow(), tick=False) as clock:
        start = utcnow()
        assert (
            admin_client.step_up(admin_client.authenticator.get(admin_client.options()))[0] == 200
        )
        clock.move_to(start + timedelta(minutes=4, seconds=59))
        assert client.post("/admin/users/new", data={}).status_code == 422  # the form answers
        clock.move_to(start + timedelta(minutes=5))
        refused = client.post("/admin/users/new", data={}, headers={"Accept": "application/json"})
        assert refused.status_code == 403
        assert refused.get_json()["fresh_assertion"] is True
        assert _unlocked(client)  # review itself is still unlocked


def test_signing_out_ends_the_step_up(admin_client):
    client = admin_client.client
    assert admin_client.step_up(admin_client.authenticator.get(admin_client.options()))[0] == 200
    assert _unlocked(client)
    client.post("/auth/sign-out")
    admin_client.sign_in(admin_client.user)
    assert not _unlocked(client)


def test_idling_out_ends_the_step_up(admin_client):
    client = admin_client.client
    with time_machine.travel(utcnow(), tick=False) as clock:
        start = utcnow()
        assert (
            admin_client.step_up(admin_client.authenticator.get(admin_client.options()))[0] == 200
        )
        clock.move_to(start + timedelta(minutes=10))
        response = client.get("/admin/")
        assert response.status_code == 302 and "/auth/sign-in" in response.headers["Location"]
        admin_client.sign_in(admin_client.user)
        assert not _unlocked(client)


def test_each_review_request_slides_the_window(app, admin_client):
    with time_machine.travel(utcnow(), tick=False) as clock:
        start = utcnow()
        assert (
            admin_client.step_up(admin_client.authenticator.get(admin_client.options()))[0] == 200
        )
        clock.move_to(start + timedelta(minutes=3))
        admin_client.client.get("/admin/users")
    with app.test_request_context():
        row = db.session.scalar(select(UserSession).where(UserSession.ended_at.is_(None)))
        assert row.review_active_at == start + timedelta(minutes=3)
        assert row.stepped_up_at == start


def test_sliding_the_review_window_is_written_at_most_once_a_minute():
    start = utcnow()
    row = UserSession(stepped_up_at=start, last_assertion_at=start, review_active_at=start)
    with time_machine.travel(start, tick=False) as clock:
        clock.move_to(start + timedelta(seconds=59))
        assert note_review_activity(row) is False
        assert row.review_active_at == start
        clock.move_to(start + timedelta(minutes=1))
        assert note_review_activity(row) is True
        assert row.review_active_at == start + timedelta(minutes=1)


def test_a_throttled_review_window_closes_sooner_never_later(app, admin_client):
    client = admin_client.client
    with time_machine.travel(utcnow(), tick=False) as clock:
        start = utcnow()
        assert (
            admin_client.step_up(admin_client.authenticator.get(admin_client.options()))[0] == 200
        )
        clock.move_to(start + timedelta(minutes=5))
        assert _unlocked(client)  # written: a minute and more since the step-up
        clock.move_to(start + timedelta(minutes=5, seconds=40))
        assert _unlocked(client)  # not written: under a minute since the last note
        with app.test_request_context():
            row = db.session.scalar(select(UserSession).where(UserSession.ended_at.is_(None)))
            assert row.review_active_at == start + timedelta(minutes=5)
        clock.move_to(start + timedelta(minutes=12))
        assert client.get("/").status_code == 200  # activity, but not review
        # 15 minutes after the last note, under 15 after the last review request: locked.
        clock.move_to(start + timedelta(minutes=20, seconds=1))
        assert not _unlocked(client)


# The command line: recovery when nobody can step up ----------------------------------------


def test_the_operator_lists_and_revokes_passkeys_from_the_command_line(
    app, runner, make_user, make_passkey
):
    admin = make_user(Role.ADMIN, email="only.admin@school.example")
    first = make_passkey(admin, name="Lost iPad")
    second = make_passkey(admin, name="Spare key")

    listing = runner.invoke(args=["passkeys", "list", "only.admin@school.example"])
    assert listing.exit_code == 0
    assert "Lost iPad" in listing.output and "never used" in listing.output

    neither = runner.invoke(args=["passkeys", "revoke", "only.admin@school.example"])
    assert neither.exit_code != 0
    unknown = runner.invoke(args=["passkeys", "revoke", "only.admin@school.example", "--id", "0"])
    assert unknown.exit_code != 0 and "no such passkey" in unknown.output

    result = runner.invoke(
        args=["passkeys", "revoke", "only.admin@school.example", "--id", str(first)]
    )
    assert result.exit_code == 0, result.output
    assert stored_passkey(app, first).revoked_at is not None
    assert stored_passkey(app, second).revoked_at is None
    [event] = audit_events(app, "passkey.revoked")
    assert event["from_command_line"] is True and event["actor"] is None

    assert (
        runner.invoke(args=["passkeys", "revoke", "only.admin@school.example", "--all"]).exit_code
        == 0
    )
    assert stored_passkey(app, second).revoked_at is not None
    nobody = runner.invoke(args=["passkeys", "list", "nobody@school.example"])
    assert nobody.exit_code != 0 and "no account" in nobody.output
