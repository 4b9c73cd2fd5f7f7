"""Signing in, blanking the screen and unlocking it, as a member of staff would in Chromium."""

from datetime import timedelta

import time_machine
from playwright.sync_api import expect

from server.auth.roles import Role
from server.clock import utcnow
from tests.conftest import DEFAULT_PASSWORD


def sign_in(page, email: str, password: str = DEFAULT_PASSWORD) -> None:
    page.goto("/auth/sign-in")
    page.get_by_label("School email address").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def test_sign_in_blank_screen_and_unlock(page, live_server):
    live_server.create_user(
        Role.CLASS_TEACHER, email="blank.test@school.example", full_name="Rowan Ashby"
    )
    sign_in(page, "blank.test@school.example")
    expect(page.get_by_role("heading", name="Hello, Rowan")).to_be_visible()

    page.get_by_role("button", name="Blank screen").click()
    expect(page.get_by_role("heading", name="Screen blanked")).to_be_visible()
    expect(page.get_by_text("Hello, Rowan")).to_have_count(0)

    # The server keeps the screen blank: going straight to a page lands back on unlock.
    page.goto("/")
    expect(page.get_by_role("heading", name="Screen blanked")).to_be_visible()

    unlock = page.locator("main")
    unlock.get_by_label("Password").fill("not my password")
    unlock.get_by_role("button", name="Unlock").click()
    expect(unlock.get_by_role("alert").get_by_text("That password is not right.")).to_be_visible()

    unlock.get_by_label("Password").fill(DEFAULT_PASSWORD)
    unlock.get_by_role("button", name="Unlock").click()
    expect(page.get_by_role("heading", name="Hello, Rowan")).to_be_visible()


def test_escape_twice_blanks_the_screen(page, live_server):
    live_server.create_user(Role.STAFF, email="escape.test@school.example", full_name="Morgan Hale")
    sign_in(page, "escape.test@school.example")
    expect(page.get_by_role("heading", name="Hello, Morgan")).to_be_visible()
    page.wait_for_selector("html[data-session-guard=ready]", state="attached")
    page.keyboard.press("Escape")
    page.keyboard.press("Escape")
    expect(page.get_by_role("heading", name="Screen blanked")).to_be_visible()


def test_blank_screen_keeps_unsent_work_on_the_add_incident_page(page, live_server):
    """Blanking while writing an account must not throw the account away."""
    live_server.create_user(Role.STAFF, email="keep.work@school.example", full_name="Dana Kerr")
    sign_in(page, "keep.work@school.example")
    page.goto("/incidents/new")
    page.wait_for_selector("html[data-session-guard=ready]", state="attached")
    account = page.get_by_label("Account", exact=False).first
    account.fill("Said at lunch: 'I don't want to go home tonight.'")

    # The cover shows at once; the server's lock follows in a request of its own.
    with page.expect_response(lambda response: response.url.endswith("/auth/blank")):
        page.get_by_role("button", name="Blank screen").click()
    cover = page.locator("#blank-cover")
    expect(cover.get_by_role("heading", name="Screen blanked")).to_be_visible()
    expect(account).to_be_hidden()
    # The server has locked the session: any other page lands on the unlock page.
    other = page.context.new_page()
    other.goto(f"{live_server.url}/")
    expect(other.get_by_role("heading", name="Screen blanked")).to_be_visible()
    other.close()

    cover.get_by_label("Password").fill("not my password")
    cover.get_by_role("button", name="Unlock").click()
    expect(cover.get_by_text("That password is not right.")).to_be_visible()
    cover.get_by_label("Password").fill(DEFAULT_PASSWORD)
    cover.get_by_role("button", name="Unlock").click()
    expect(cover).to_be_hidden()
    expect(account).to_have_value("Said at lunch: 'I don't want to go home tonight.'")
    page.goto("/")
    expect(page.get_by_role("heading", name="Hello, Dana")).to_be_visible()


def test_idle_sign_out_keeps_unsent_work_hidden_until_signed_in_again(page, live_server):
    live_server.create_user(Role.STAFF, email="idle.work@school.example", full_name="Jo Brennan")
    page.clock.install()
    sign_in(page, "idle.work@school.example")
    page.goto("/incidents/new")
    page.wait_for_selector("html[data-session-guard=ready]", state="attached")
    account = page.get_by_label("Account", exact=False).first
    account.fill("Bruise on the left forearm, noticed at 10:15.")

    # Ten idle minutes pass for the server and for the page.
    with time_machine.travel(utcnow(), tick=True) as server_clock:
        server_clock.shift(timedelta(minutes=10, seconds=5))
        page.clock.fast_forward("10:05")
        cover = page.locator("#blank-cover")
        expect(cover.get_by_role("heading", name="You have been signed out")).to_be_visible()
        expect(account).to_be_hidden()

        cover.get_by_role("button", name="Continue").click()
        expect(cover.get_by_text("You are not signed in yet")).to_be_visible()

        second_tab = page.context.new_page()
        sign_in(second_tab, "idle.work@school.example")
        expect(second_tab.get_by_role("heading", name="Hello, Jo")).to_be_visible()
        second_tab.close()

        cover.get_by_role("button", name="Continue").click()
        expect(cover).to_be_hidden()
        expect(account).to_have_value("Bruise on the left forearm, noticed at 10:15.")


def _writing(page, live_server, email: str, name: str):
    live_server.create_user(Role.STAFF, email=email, full_name=name)
    sign_in(page, email)
    page.goto("/incidents/new")
    page.wait_for_selector("html[data-session-guard=ready]", state="attached")
    account = page.get_by_label("Account", exact=False).first
    account.fill("Private words.")
    return account


def test_the_cover_does_not_lift_without_the_password(page, live_server):
    account = _writing(page, live_server, "no.peek@school.example", "Kim Noble")
    page.get_by_role("button", name="Blank screen").click()
    cover = page.locator("#blank-cover")
    cover.get_by_role("button", name="Unlock").click()  # empty password
    expect(cover.get_by_text("Enter your password to unlock.")).to_be_visible()
    cover.get_by_label("Password").fill("wrong-Password-1")
    cover.get_by_role("button", name="Unlock").click()
    expect(cover.get_by_text("That password is not right.")).to_be_visible()
    expect(account).to_be_hidden()
    expect(cover.get_by_role("button", name="Continue")).to_be_hidden()


def test_someone_else_signing_in_does_not_get_the_page_back(page, live_server):
    account = _writing(page, live_server, "writer@school.example", "Wren Writer")
    live_server.create_user(Role.STAFF, email="passer.by@school.example", full_name="Pat Passer")
    page.get_by_role("button", name="Blank screen").click()
    other_tab = page.context.new_page()
    other_tab.goto(f"{live_server.url}/")
    warnings = []
    other_tab.once("dialog", lambda dialog: (warnings.append(dialog.message), dialog.accept()))
    other_tab.get_by_role("button", name="Sign out").click()
    other_tab.wait_for_url("**/auth/sign-in")
    sign_in(other_tab, "passer.by@school.example")
    # Signing out warned first: the writer's unsent draft on this device goes with the keys.
    assert "not added yet" in warnings[0]
    expect(other_tab.get_by_role("heading", name="Hello, Pat")).to_be_visible()
    cover = page.locator("#blank-cover")
    expect(cover.get_by_role("heading", name="You have been signed out")).to_be_visible()
    cover.get_by_role("button", name="Continue").click()
    expect(cover.get_by_text("Someone else is signed in on this device")).to_be_visible()
    expect(account).to_be_hidden()


def test_blanking_one_tab_covers_the_others(page, live_server):
    account = _writing(page, live_server, "two.tabs@school.example", "Tal Tabs")
    second = page.context.new_page()
    second.goto(f"{live_server.url}/")
    second.wait_for_selector("html[data-session-guard=ready]", state="attached")
    second.get_by_role("button", name="Blank screen").click()
    expect(
        page.locator("#blank-cover").get_by_role("heading", name="Screen blanked")
    ).to_be_visible()
    expect(account).to_be_hidden()
