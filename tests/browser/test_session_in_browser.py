"""Signing in, blanking the screen and unlocking it, as a member of staff would in Chromium."""

from playwright.sync_api import expect

from server.auth.roles import Role
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

    page.get_by_label("Password").fill("not my password")
    page.get_by_role("button", name="Unlock").click()
    expect(page.get_by_role("alert").get_by_text("That password is not right.")).to_be_visible()

    page.get_by_label("Password").fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Unlock").click()
    expect(page.get_by_role("heading", name="Hello, Rowan")).to_be_visible()


def test_escape_twice_blanks_the_screen(page, live_server):
    live_server.create_user(Role.STAFF, email="escape.test@school.example", full_name="Morgan Hale")
    sign_in(page, "escape.test@school.example")
    expect(page.get_by_role("heading", name="Hello, Morgan")).to_be_visible()
    page.wait_for_selector("html[data-session-guard=ready]", state="attached")
    page.keyboard.press("Escape")
    page.keyboard.press("Escape")
    expect(page.get_by_role("heading", name="Screen blanked")).to_be_visible()
