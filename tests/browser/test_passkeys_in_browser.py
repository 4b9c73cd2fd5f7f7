"""Adding a passkey and stepping up with it in Chromium, with a CDP virtual authenticator.

Served on http://localhost:PORT with RP ID `localhost` (Chromium refuses WebAuthn on 127.0.0.1).
The server's clock is moved with time_machine to wait out the step-up window.
"""

from datetime import timedelta

import pytest
import time_machine
from playwright.sync_api import expect

from server.auth.roles import Role
from server.clock import utcnow
from tests.browser.test_session_in_browser import sign_in

VIRTUAL_AUTHENTICATOR = {
    "protocol": "ctap2",
    "transport": "internal",
    "hasResidentKey": True,
    "hasUserVerification": True,
    "isUserVerified": True,
    "automaticPresenceSimulation": True,
}
# Older Safari has neither the JSON parsers nor toJSON(): passkeys.js must manage without them.
WITHOUT_JSON_HELPERS = """
delete PublicKeyCredential.parseCreationOptionsFromJSON;
delete PublicKeyCredential.parseRequestOptionsFromJSON;
delete PublicKeyCredential.prototype.toJSON;
"""


def add_virtual_authenticator(page) -> tuple:
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    added = cdp.send("WebAuthn.addVirtualAuthenticator", {"options": VIRTUAL_AUTHENTICATOR})
    return cdp, added["authenticatorId"]


@pytest.mark.parametrize("browser_json", ["native", "fallback"])
def test_add_a_passkey_step_up_and_be_asked_again(page, live_server, browser_json):
    live_server.app.config["WEBAUTHN_RP_ID"] = "localhost"
    email = f"passkey.{browser_json}@school.example"
    live_server.create_user(Role.ADMIN, email=email, full_name="Jo Fenwick")
    if browser_json == "fallback":
        page.add_init_script(WITHOUT_JSON_HELPERS)
    cdp, authenticator_id = add_virtual_authenticator(page)
    sign_in(page, email)
    expect(page.get_by_role("heading", name="Hello, Jo")).to_be_visible()

    # Administration needs a step-up; with no passkey yet, the page says to add one.
    page.goto("/admin/users")
    expect(page.get_by_role("heading", name="Confirm it’s you")).to_be_visible()
    expect(page.get_by_role("heading", name="You need a passkey first")).to_be_visible()
    page.get_by_role("link", name="Add a passkey").click()

    expect(page.get_by_role("heading", name="Your passkeys")).to_be_visible()
    page.get_by_label("Name for this passkey").fill("Office iPad")
    page.get_by_role("button", name="Add a passkey").click()

    # Straight on to confirming it is you, then back where we were going.
    expect(page.get_by_role("heading", name="Confirm it’s you")).to_be_visible()
    expect(page.get_by_text("Passkey “Office iPad” added.")).to_be_visible()
    page.get_by_role("button", name="Use my passkey").click()
    expect(page.get_by_role("heading", name="Staff and roles")).to_be_visible()
    expect(page).to_have_url(f"{live_server.url}/admin/users")

    [credential] = cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator_id})[
        "credentials"
    ]
    assert credential["isResidentCredential"] is True
    assert credential["rpId"] == "localhost"

    page.goto("/passkeys/")
    expect(page.get_by_role("cell", name="Office iPad", exact=True)).to_be_visible()
    expect(page.get_by_text("Not yet")).to_have_count(0)

    # Keep the session alive without reviewing until the 15-minute window has passed.
    with time_machine.travel(utcnow(), tick=False) as clock:
        clock.shift(timedelta(minutes=9))
        page.goto("/")
        clock.shift(timedelta(minutes=7))
        page.goto("/admin/users")
        expect(page.get_by_role("heading", name="Confirm it’s you")).to_be_visible()
        page.get_by_role("button", name="Use my passkey").click()
        expect(page.get_by_role("heading", name="Staff and roles")).to_be_visible()


def test_a_cancelled_passkey_request_says_so(page, live_server):
    live_server.app.config["WEBAUTHN_RP_ID"] = "localhost"
    live_server.create_user(Role.DSL, email="passkey.cancel@school.example", full_name="Ari Holt")
    cdp, authenticator_id = add_virtual_authenticator(page)
    sign_in(page, "passkey.cancel@school.example")
    page.goto("/passkeys/")
    page.get_by_label("Name for this passkey").fill("Phone")
    page.get_by_role("button", name="Add a passkey").click()
    expect(page.get_by_role("heading", name="Your passkeys")).to_be_visible()
    expect(page.get_by_role("cell", name="Phone", exact=True)).to_be_visible()

    # The user declines to verify on the device: nothing is unlocked and the page says why.
    cdp.send(
        "WebAuthn.setUserVerified", {"authenticatorId": authenticator_id, "isUserVerified": False}
    )
    page.goto("/passkeys/step-up?next=/")
    page.get_by_role("button", name="Use my passkey").click()
    expect(page.get_by_role("alert")).to_contain_text("Please try again")
    expect(page.get_by_role("heading", name="Confirm it’s you")).to_be_visible()
