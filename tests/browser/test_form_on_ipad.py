"""The Add Incident form and the incident page as staff meet them on an iPad (issue 12): Enter
never sends, "Check before you send" shows the chosen child and sends once, fixed answers stop
being marked at once, optional sections fold under "More details", file sizes read properly,
and the incident page is two columns in landscape and one in portrait."""

import re
import uuid

import pytest
from playwright.sync_api import Page, expect

from server.auth.models import User
from server.clock import utcnow
from server.extensions import db
from server.incidents.models import Category
from server.incidents.submission import submit_incident
from tests.browser.test_record_incident import (  # noqa: F401 (no_script_errors: autouse)
    add_and_confirm,
    fill_required,
    incident_for,
    no_script_errors,
    open_form,
    open_more_details,
    receipt_heading,
    seed_school,
    sign_in,
)


def count_sends(page: Page) -> list:
    sent: list = []
    page.on(
        "request",
        lambda request: (
            sent.append(request.url)
            if request.method == "POST" and re.search(r"/api/(incidents|outbox)$", request.url)
            else None
        ),
    )
    return sent


def test_enter_in_a_one_line_box_never_records(live_server, page):
    school = seed_school(live_server)
    sign_in(page, school.assistant_email)
    open_form(page)
    sent = count_sends(page)
    fill_required(page, school)

    where = page.get_by_label("Where it happened (optional)")
    where.fill("Playground")
    where.press("Enter")
    open_more_details(page)
    page.get_by_label("Their name").fill("Marjorie Quayle")
    page.get_by_label("Their role").fill("Midday supervisor")
    page.get_by_label("Their role").press("Enter")
    page.get_by_label("Date and time it happened").press("Enter")
    expect(page.get_by_role("dialog", name="Check before you send")).to_be_hidden()
    expect(where).to_have_value("Playground")
    expect(page.locator("#receipt")).to_be_hidden()

    # Only the send button, then the confirmation, records it: once.
    add_and_confirm(page)
    expect(receipt_heading(page)).to_be_focused()
    [incident] = incident_for(live_server, school.pupil_id)
    assert incident.location == "Playground" and len(sent) == 1


def test_check_before_you_send_shows_the_chosen_pupil_and_sends_once(live_server, page):
    school = seed_school(live_server)
    sign_in(page, school.assistant_email)
    open_form(page)
    sent = count_sends(page)
    recap = page.locator("[data-send-recap]")
    expect(recap).to_contain_text("No pupil chosen yet")
    fill_required(page, school)
    page.get_by_label("Urgent: needs action before the child goes home today").check()

    # The chosen pupil again beside the send button, with class and date of birth.
    expect(recap).to_contain_text(school.pupil_name)
    expect(recap).to_contain_text(f"{school.class_name}, Year 4 · born 14 May 2016")
    expect(recap).to_contain_text("Urgent")

    page.get_by_role("button", name="Add incident").click()
    check = page.get_by_role("dialog", name="Check before you send")
    expect(check).to_be_visible()
    expect(check.get_by_role("heading", name="Check before you send")).to_be_focused()
    expect(check).to_contain_text(school.pupil_name)
    expect(check).to_contain_text("born 14 May 2016")
    expect(check).to_contain_text("Behaviour")
    expect(check).to_contain_text("Yes: needs action before the child goes home today")
    expect(check.locator("[data-check-alerted]")).to_contain_text(school.teacher_name)

    # Going back sends nothing and keeps everything.
    check.get_by_role("button", name="Go back and change it").click()
    expect(check).to_be_hidden()
    expect(page.get_by_role("button", name="Add incident")).to_be_focused()
    assert incident_for(live_server, school.pupil_id) == [] and sent == []

    # One tap confirms; a second tap on the same spot adds nothing more.
    page.get_by_role("button", name="Add incident").click()
    check.get_by_role("button", name="Yes, add it now").dblclick()
    expect(receipt_heading(page)).to_be_focused()
    assert len(incident_for(live_server, school.pupil_id)) == 1 and len(sent) == 1


def test_a_fixed_answer_stops_being_marked_at_once(live_server, page):
    school = seed_school(live_server)
    sign_in(page, school.assistant_email)
    open_form(page)
    page.get_by_role("button", name="Add incident").click()
    summary = page.get_by_role("alert").filter(has_text="There is a problem")
    expect(summary).to_be_focused()
    account = page.locator('[data-field="account"]')
    expect(account).to_have_class(re.compile("field-error"))

    page.get_by_label("Your account").fill("She said “I had no breakfast”.")
    expect(account).not_to_have_class(re.compile("field-error"))
    expect(page.get_by_label("Your account")).not_to_have_attribute("aria-invalid", "true")
    expect(summary).not_to_contain_text("Write your account")
    expect(summary).to_contain_text("Choose at least one category")  # the rest wait
    page.get_by_label("Behaviour").check()
    expect(summary).not_to_contain_text("Choose at least one category")


def test_a_problem_in_more_details_opens_it(live_server, page):
    school = seed_school(live_server)
    sign_in(page, school.assistant_email)
    open_form(page)
    fill_required(page, school)
    open_more_details(page)
    page.get_by_label("Their name").fill("Marjorie Quayle")
    page.locator("#more-details > summary").click()
    expect(page.locator("#more-details")).not_to_have_attribute("open", "")

    page.get_by_role("button", name="Add incident").click()
    summary = page.get_by_role("alert").filter(has_text="There is a problem")
    expect(summary).to_contain_text("Give both the name and the role")
    expect(page.locator("#more-details")).to_have_attribute("open", "")
    summary.get_by_role("link", name=re.compile("Give both the name")).click()
    expect(page.get_by_label("Their name")).to_be_focused()


def test_the_file_picker_shows_sizes_as_people_say_them(live_server, page):
    school = seed_school(live_server)
    sign_in(page, school.assistant_email)
    open_form(page)
    expect(page.locator("#files-hint")).to_contain_text("up to 20 MB each")
    expect(page.locator("#files-hint")).not_to_contain_text("20.0")
    open_more_details(page)
    expect(page.locator(".file-button")).to_be_visible()
    expect(page.locator("[data-file-count]")).to_have_text("No files chosen")
    page.get_by_label("Attach documents (optional)").set_input_files(
        files=[
            {"name": "note.txt", "mimeType": "text/plain", "buffer": b"x" * 48},
            {"name": "letter.txt", "mimeType": "text/plain", "buffer": b"y" * 1536},
        ]
    )
    listed = page.get_by_role("list", name="Files to attach").get_by_role("listitem")
    expect(listed).to_have_count(2)
    expect(listed.filter(has_text="note.txt")).to_contain_text("48 bytes")
    expect(listed.filter(has_text="letter.txt")).to_contain_text("1.5 KB")
    expect(page.locator("[data-file-count]")).to_have_text("2 files chosen")


# --- The incident page -----------------------------------------------------------------------


def record_for(live_server, school) -> int:
    with live_server.app.test_request_context():
        author = db.session.query(User).filter_by(email=school.assistant_email).one()
        behaviour = db.session.query(Category).filter_by(name="Behaviour").one()
        receipt = submit_incident(
            author,
            {
                "uuid": str(uuid.uuid4()),
                "pupil_id": school.pupil_id,
                "occurred_at": utcnow().replace(microsecond=0).isoformat(),
                "location": "Playground",
                "account": "He said “they took my lunch again”. DA",
                "parents_contacted": "yes",
                "medical_attention": "not_needed",
                "category_ids": [behaviour.id],
            },
            [],
        )
        db.session.commit()
        return receipt.number


@pytest.mark.parametrize(
    "width, height, columns", [(1180, 820, 2), (820, 1180, 1)], ids=["landscape", "portrait"]
)
def test_the_incident_page_is_two_columns_in_landscape_and_one_in_portrait(
    browser, live_server, width, height, columns
):
    school = seed_school(live_server)
    number = record_for(live_server, school)
    context = browser.new_context(
        viewport={"width": width, "height": height}, base_url=live_server.url, has_touch=True
    )
    page = context.new_page()
    try:
        sign_in(page, school.assistant_email)
        page.goto(f"/incidents/{number}")
        record = page.locator(".incident-record").bounding_box()
        work = page.locator(".incident-work").bounding_box()
        if columns == 2:
            assert work["x"] >= record["x"] + record["width"]
            assert abs(work["y"] - record["y"]) < 2
        else:
            assert abs(work["x"] - record["x"]) < 2
            assert work["y"] >= record["y"] + record["height"]
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0

        # "Action added" where the eye is: beside the actions, and focused.
        page.get_by_label("Action or outcome").fill("Spoke to his class teacher.")
        page.get_by_role("button", name="Add action").click()
        done = page.locator("#action-done")
        expect(done).to_have_text("Action added.")
        expect(done).to_be_focused()
        expect(done).to_be_in_viewport()
    finally:
        context.close()
