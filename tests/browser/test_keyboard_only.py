"""The Add Incident form with the keyboard alone (Tab, Shift+Tab, Space, Enter, arrows and
typing; no pointer at all), through to the receipt; and the body map's keyboard paths.

Fields are reached by pressing Tab until they have focus, never by clicking or focusing them
from the test, so a field the keyboard cannot reach fails here. Locators are by role and
name, so the form can be reordered or folded without touching these tests; what sends the
form is in one helper, `send_with_keyboard`.
"""

import re

from playwright.sync_api import Locator, Page, expect

from tests.browser.test_record_incident import (
    incident_for,
    open_form,
    receipt_heading,
    seed_school,
    sign_in,
)

# Counts every pointer press on the page: a keyboard-only test must end with none.
COUNT_POINTER_PRESSES = """
window.__pointerPresses = 0;
document.addEventListener('pointerdown', () => { window.__pointerPresses += 1; }, true);
document.addEventListener('mousedown', () => { window.__pointerPresses += 1; }, true);
"""
MAX_TABS = 120


def has_focus(target: Locator) -> bool:
    return target.evaluate("(node) => node === document.activeElement")


def tab_to(page: Page, target: Locator, backwards: bool = False) -> None:
    """Press Tab (or Shift+Tab) until `target` has focus, as a keyboard user would."""
    expect(target).to_be_attached()
    for _ in range(MAX_TABS):
        if has_focus(target):
            return
        page.keyboard.press("Shift+Tab" if backwards else "Tab")
    raise AssertionError(f"Tab never reached {target}")


def open_disclosures(page: Page) -> None:
    """Open every folded group ("More details", and any folded inside it) with the keyboard, so
    its fields can be reached. Opening one changes which are still closed: look again each time."""
    closed = page.locator("form details:not([open]) > summary")
    for _ in range(10):
        if not closed.count():
            return
        tab_to(page, closed.first)
        page.keyboard.press("Enter")
    raise AssertionError("a folded group would not open with Enter")


def send_with_keyboard(page: Page) -> None:
    """Tab to the send button and press Enter on it. If the form asks to check before sending
    (a confirmation step), confirm it the same way."""
    tab_to(page, page.get_by_role("button", name="Add incident", exact=True))
    page.keyboard.press("Enter")
    confirm = page.get_by_role("button", name=re.compile(r"^(Confirm|Yes)", re.I))
    receipt = receipt_heading(page)
    expect(receipt.or_(confirm).first).to_be_visible()
    if confirm.count() and confirm.first.is_visible():
        tab_to(page, confirm.first)
        page.keyboard.press("Enter")


def test_an_incident_recorded_with_the_keyboard_alone(live_server, page):
    school = seed_school(live_server)
    sign_in(page, school.assistant_email)
    page.add_init_script(COUNT_POINTER_PRESSES)
    page.goto("/incidents/new")
    expect(page.get_by_role("heading", name="Add incident", level=1)).to_be_visible()
    page.wait_for_selector("html[data-incident-form=ready]", state="attached")
    open_disclosures(page)

    # Back to the skip link at the top, then on into the form.
    tab_to(page, page.get_by_role("link", name="Skip to main content"), backwards=True)
    page.keyboard.press("Enter")

    pupil = page.get_by_role("combobox", name="Pupil’s name")
    tab_to(page, pupil)
    page.keyboard.type(f"{school.first[:3]} {school.last[:3]}")
    expect(page.get_by_role("option")).to_have_count(1)
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    expect(page.get_by_role("list", name="Chosen pupil")).to_contain_text(school.pupil_name)

    tab_to(page, page.get_by_label("Your account"))
    page.keyboard.type("At break BQ said “he kicked my leg”. Red mark on the left shin. DA")
    # Enter in the account is a new line, never a send.
    page.keyboard.press("Enter")
    page.keyboard.type("Told the class teacher at 11:00.")

    parents = page.get_by_role("group", name="Have parents or carers been contacted?")
    tab_to(page, parents.get_by_label("Yes", exact=True))
    page.keyboard.press("Space")
    expect(parents.get_by_label("Yes", exact=True)).to_be_checked()

    # The body map: a mark added with a button, its place chosen from the list of regions.
    tab_to(page, page.get_by_role("button", name="Add a mark on the front"))
    page.keyboard.press("Enter")
    where = page.get_by_role("combobox", name="Where is mark 1?")
    expect(where).to_be_focused()
    page.keyboard.type("left shin")  # a closed list picks by typing, as on any <select>
    expect(where.locator("option:checked")).to_have_text("left shin, front")
    expect(
        page.get_by_role("button", name=re.compile("^Mark 1, left shin, front"))
    ).to_be_attached()
    expect(page.locator("[data-body-status]")).to_have_text(
        "Mark 1 is now on the left shin, front."
    )
    tab_to(page, page.get_by_label("Kind of mark 1"))
    page.keyboard.type("Bruise")
    expect(page.get_by_label("Kind of mark 1")).to_have_value("bruise")

    medical = page.get_by_role("group", name="Has medical attention been sought?")
    tab_to(page, medical.get_by_label("Yes", exact=True))
    page.keyboard.press("ArrowRight")  # arrows move along a radio group and choose
    expect(medical.get_by_label("No", exact=True)).to_be_checked()

    behaviour = page.get_by_label("Behaviour")
    tab_to(page, behaviour)
    page.keyboard.press("Space")
    expect(behaviour).to_be_checked()
    # Shift+Tab goes back the way it came.
    tab_to(page, page.get_by_label("Kind of mark 1"), backwards=True)

    send_with_keyboard(page)
    expect(receipt_heading(page)).to_be_visible()
    assert page.evaluate("window.__pointerPresses") == 0

    [incident] = incident_for(live_server, school.pupil_id)
    [mark] = incident.body_marks
    assert (mark.kind, mark.region) == ("bruise", "left shin, front")
    assert (incident.parents_contacted, incident.medical_attention) == ("yes", "no")
    assert incident.account.endswith("Told the class teacher at 11:00.")
    assert "\n" in incident.account


def test_the_error_for_a_marks_kind_leads_to_that_kind_not_to_another_mark(live_server, page):
    school = seed_school(live_server)
    sign_in(page, school.assistant_email)
    open_form(page)
    tab_to(page, page.get_by_role("button", name="Add a mark on the back"))
    page.keyboard.press("Enter")
    expect(page.get_by_role("combobox", name="Where is mark 1?")).to_be_focused()

    send_with_keyboard_expecting_errors(page)
    link = page.get_by_role("link", name="Choose what kind of mark number 1 is")
    tab_to(page, link)
    page.keyboard.press("Enter")
    expect(page.get_by_label("Kind of mark 1")).to_be_focused()
    # Enter again there chooses nothing and adds nothing.
    page.keyboard.press("Enter")
    expect(page.locator(".body-pin")).to_have_count(1)

    # Once it has a kind, the body map's error link goes back to "Add a mark".
    page.get_by_label("Kind of mark 1").select_option("cut")
    expect(page.get_by_role("button", name="Add a mark on the front")).to_have_attribute(
        "data-focus", ""
    )


def send_with_keyboard_expecting_errors(page: Page) -> None:
    tab_to(page, page.get_by_role("button", name="Add incident", exact=True))
    page.keyboard.press("Enter")
    expect(page.get_by_role("link", name="Choose what kind of mark number 1 is")).to_be_visible()


def test_a_mark_moved_with_the_arrows_says_where_it_now_is(live_server, page):
    school = seed_school(live_server)
    sign_in(page, school.assistant_email)
    open_form(page)
    tab_to(page, page.get_by_role("button", name="Add a mark on the front"))
    page.keyboard.press("Enter")
    page.keyboard.type("right knee")
    mark = page.get_by_role("button", name=re.compile("^Mark 1, right knee, front"))
    tab_to(page, mark, backwards=True)
    for _ in range(4):
        page.keyboard.press("Shift+ArrowDown")
    expect(
        page.get_by_role("button", name=re.compile("^Mark 1, right shin, front"))
    ).to_be_focused()
    expect(page.locator("[data-body-status]")).to_have_text(
        "Mark 1 is now on the right shin, front."
    )
    expect(
        page.get_by_role("combobox", name="Where is mark 1?").locator("option:checked")
    ).to_have_text("right shin, front")
    # Enter on the mark goes to its list of places.
    page.keyboard.press("Enter")
    expect(page.get_by_role("combobox", name="Where is mark 1?")).to_be_focused()


def test_tab_from_the_account_goes_on_down_the_form_not_back_up_to_the_guidance(live_server, page):
    school = seed_school(live_server)
    sign_in(page, school.assistant_email)
    open_form(page)
    account = page.get_by_label("Your account")
    tab_to(page, account)
    # On an iPad in portrait the guidance is drawn above the box; Tab must not go back to it.
    assert page.locator("#account-guidance").bounding_box()["y"] < account.bounding_box()["y"]
    page.keyboard.press("Tab")
    below = page.evaluate("document.activeElement.getBoundingClientRect().top + window.scrollY")
    assert below > account.bounding_box()["y"] + page.evaluate("window.scrollY")
    expect(page.locator("#account-guidance summary")).not_to_be_focused()
