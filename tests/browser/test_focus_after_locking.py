"""Focus after the blank screen and the idle warning: unlocking puts focus back where the person
was; the "Are you still there?" warning takes focus and says its countdown politely, now and
then rather than every second."""

import re
from datetime import timedelta

import time_machine
from playwright.sync_api import expect

from server.auth.roles import Role
from server.clock import utcnow
from tests.browser.test_session_in_browser import sign_in
from tests.conftest import DEFAULT_PASSWORD


def _writing(page, live_server, email: str, name: str):
    live_server.create_user(Role.STAFF, email=email, full_name=name)
    sign_in(page, email)
    expect(page.get_by_role("heading", name=f"Hello, {name.split()[0]}")).to_be_visible()
    page.goto("/incidents/new")
    page.wait_for_selector("html[data-session-guard=ready]", state="attached")
    account = page.get_by_label("Your account")
    account.fill("Said at lunch: “I don’t want to go home tonight.”")
    return account


def test_unlocking_in_place_puts_focus_back_in_the_account(page, live_server):
    account = _writing(page, live_server, "focus.back@school.example", "Ines Calloway")
    account.focus()
    # Pressing the banner's button moves focus to it; unlocking still returns to the account.
    page.get_by_role("button", name="Blank screen").click()
    cover = page.locator("#blank-cover")
    expect(cover.get_by_label("Password")).to_be_focused()
    cover.get_by_label("Password").fill(DEFAULT_PASSWORD)
    page.keyboard.press("Enter")
    expect(cover).to_be_hidden()
    expect(account).to_be_focused()


def test_the_unlock_page_returns_focus_to_the_field_the_person_was_in(page, live_server):
    live_server.create_user(
        Role.CLASS_TEACHER, email="focus.unlock@school.example", full_name="Ravi Okafor"
    )
    sign_in(page, "focus.unlock@school.example")
    expect(page.get_by_role("heading", name="Hello, Ravi")).to_be_visible()
    page.goto("/auth/account/password")
    page.wait_for_selector("html[data-session-guard=ready]", state="attached")
    current = page.get_by_label("Current password")
    current.focus()
    page.keyboard.press("Escape")
    page.keyboard.press("Escape")
    expect(page.get_by_role("heading", name="Screen blanked")).to_be_visible()
    page.locator("main").get_by_label("Password").fill(DEFAULT_PASSWORD)
    page.locator("main").get_by_role("button", name="Unlock").click()
    expect(page.get_by_label("Current password")).to_be_focused()


def test_the_idle_warning_takes_focus_and_says_the_countdown_now_and_then(page, live_server):
    page.clock.install()
    account = _writing(page, live_server, "idle.focus@school.example", "Noor Haddad")
    # The page's own start-up requests (app.js prepares offline use after 1.5 s) are done
    # before the idle minutes begin.
    page.clock.run_for(2_000)
    page.wait_for_load_state("networkidle")
    account.focus()
    said = page.locator("[data-idle-announce]")
    expect(said).to_have_attribute("aria-live", "polite")

    with time_machine.travel(utcnow(), tick=True) as server_clock:
        # Nine idle minutes and ten seconds: the warning shows, with 50 seconds left.
        server_clock.shift(timedelta(minutes=9, seconds=10))
        page.clock.fast_forward("09:10")
        stay = page.get_by_role("button", name="Stay signed in")
        expect(stay).to_be_focused()
        expect(page.get_by_role("alertdialog")).to_contain_text("Are you still there?")
        expect(said).to_have_text(
            re.compile(r"^You will be signed out in (50|49|48) seconds unless you choose “Stay")
        )
        first = said.text_content()
        # Not every second: five seconds on it still says what it said; at 30 it says 30.
        server_clock.shift(timedelta(seconds=5))
        page.clock.run_for(5_000)
        expect(page.locator("[data-idle-countdown]")).to_have_text(re.compile(r"^4[0-9]$"))
        assert said.text_content() == first
        server_clock.shift(timedelta(seconds=15))
        page.clock.run_for(15_000)
        expect(said).to_contain_text("in 30 seconds")

        page.keyboard.press("Enter")
        expect(page.get_by_role("alertdialog")).to_be_hidden()
        expect(account).to_be_focused()
        expect(said).to_have_text("")
