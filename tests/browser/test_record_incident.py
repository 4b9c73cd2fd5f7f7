"""Recording an incident on an iPad, as the policy's steps 1–9 and 13 describe (issue 3).

A teaching assistant picks the pupil by typing, writes the account, chooses a category, taps
two marks on the body map, attaches a file and adds the incident; the class teacher then finds
the alert in their inbox, opens the incident and marks it read. Further tests cover the form's
own checks, the submit queue keeping an incident when the network fails, the keyboard, and
the layout at 768px.
"""

import itertools
import json
import re
from dataclasses import dataclass
from datetime import date

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from server.auth.models import User
from server.auth.roles import Role
from server.auth.sessions import end_all_sessions
from server.extensions import db
from server.incidents import form_data
from server.incidents.models import Incident
from server.incidents.vocabulary import install_default_vocabulary
from server.pupils.models import Pupil, SchoolClass
from tests.browser.conftest import IPAD_PORTRAIT
from tests.conftest import DEFAULT_PASSWORD

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
# The live server's database lasts the whole run: each seeded school gets names of its own,
# none a prefix of another's, so typing finds exactly this school's pupils.
FIRST_NAMES = [
    "Barnaby", "Cosmo", "Dorian", "Ellery", "Florian", "Gideon", "Horatio", "Ignatius",
    "Jericho", "Lysander", "Montague", "Peregrine", "Rufus", "Sebastian", "Thaddeus",
    "Ulysses", "Valentine", "Wilfred", "Xavier", "Zachariah",
    "Aurelio", "Benedikt", "Cassius", "Demetrio", "Evander", "Fitzwilliam", "Galahad",
    "Hyacinth", "Isidore", "Jolyon", "Kenelm", "Leopold", "Marmaduke", "Nathaniel",
    "Octavian", "Percival", "Quentin", "Roderick", "Septimus", "Tarquin", "Umberto",
    "Vespasian", "Wolfgang", "Yorick", "Zebedee", "Algernon", "Bartholomew", "Crispin",
    "Diggory", "Erasmus",
]  # fmt: skip
SURNAMES = [
    "Quennell", "Pettigrew", "Larkspur", "Fenwick", "Ormerod", "Tregarthen", "Villiers",
    "Wolstenholme", "Yelverton", "Bramall", "Cattermole", "Dimbleby", "Entwistle", "Gostelow",
    "Hucknall", "Inchbald", "Jellicoe", "Kimbrough", "Loxley", "Mottram",
    "Nettleship", "Oglethorpe", "Pocklington", "Quarmby", "Rushworth", "Sidebottom",
    "Tolputt", "Uttley", "Vavasour", "Wigglesworth", "Abercrombie", "Blenkinsop",
    "Cholmondeley", "Drinkwater", "Earnshaw", "Featherstonehaugh", "Grimshaw", "Heseltine",
    "Illingworth", "Jesmond", "Kettlewell", "Lightbody", "Merriweather", "Northcote",
    "Ollerenshaw", "Postlethwaite", "Ramsbottom", "Satterthwaite", "Thistlethwaite",
    "Umfreville",
]  # fmt: skip
_schools = itertools.count(0)


@dataclass
class School:
    teacher_email: str
    teacher_name: str
    assistant_email: str
    class_name: str
    pupil_id: int
    first: str
    last: str

    @property
    def pupil_name(self) -> str:
        return f"{self.first} {self.last}"


def seed_school(live_server) -> School:
    """A class with its class teacher, a teaching assistant, the pupil and two others: one
    with the same first name in another class, one whose first name starts like the surname.
    """
    n = next(_schools)
    first, last = FIRST_NAMES[n], SURNAMES[n]
    teacher = live_server.create_user(
        Role.CLASS_TEACHER, email=f"teacher{n}@school.example", full_name=f"Imogen Thistlewood{n}"
    )
    live_server.create_user(
        Role.STAFF, email=f"ta{n}@school.example", full_name=f"Dominic Arkwright{n}"
    )
    with live_server.app.test_request_context():
        install_default_vocabulary()
        kestrels = SchoolClass(name=f"Kestrels {n}", year_group="4")
        kestrels.teachers = [db.session.get(User, teacher.id)]
        owls = SchoolClass(name=f"Owls {n}", year_group="2")
        pupil = _pupil(n, 1, first, last, kestrels, date(2016, 5, 14))
        others = [
            _pupil(n, 2, first, "Ashworth", owls, date(2018, 9, 2)),
            # Not "Marlow": typing "Mar Cho" for Marmaduke Cholmondeley found "Cholmtin Marlow" too.
            _pupil(n, 3, last[:4] + "tin", "Yardley", owls, date(2018, 1, 30)),
        ]
        db.session.add_all([kestrels, owls, pupil, *others])
        db.session.commit()
        return School(
            teacher_email=teacher.email,
            teacher_name=teacher.full_name,
            assistant_email=f"ta{n}@school.example",
            class_name=kestrels.name,
            pupil_id=pupil.id,
            first=first,
            last=last,
        )


def _pupil(n: int, k: int, first: str, last: str, school_class, born: date) -> Pupil:
    return Pupil(
        upn=f"B{n:06d}{k:06d}",
        legal_first_name=first,
        legal_last_name=last,
        date_of_birth=born,
        year_group=school_class.year_group,
        school_class=school_class,
    )


@pytest.fixture(autouse=True)
def no_script_errors(request):
    """Any uncaught error in the page's script fails the test that met it."""
    if "page" not in request.fixturenames:
        yield
        return
    errors: list[str] = []
    request.getfixturevalue("page").on("pageerror", lambda error: errors.append(str(error)))
    yield
    assert errors == []


def sign_in(page: Page, email: str) -> None:
    page.goto("/auth/sign-in")
    page.get_by_label("School email address").fill(email)
    page.get_by_label("Password").fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name=re.compile("^Hello"))).to_be_visible()


def open_form(page: Page) -> None:
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Add incident").click()
    expect(page.get_by_role("heading", name="Add incident", level=1)).to_be_visible()
    page.wait_for_selector("html[data-incident-form=ready]", state="attached")


def pick_pupil(page: Page, typed: str, name: str) -> None:
    page.get_by_role("combobox", name="Pupil’s name").fill(typed)
    page.get_by_role("option", name=re.compile(name)).tap()


def fill_required(page: Page, school: School) -> None:
    pick_pupil(page, school.last[:4], school.pupil_name)
    page.get_by_label("Your account").fill("BQ said “he pushed me off the climbing frame”.")
    page.get_by_role("group", name="Have parents or carers been contacted?").get_by_label(
        "Yes", exact=True
    ).check()
    page.get_by_role("group", name="Has medical attention been sought?").get_by_label(
        "No", exact=True
    ).check()
    page.get_by_label("Behaviour").check()


def open_more_details(page: Page) -> None:
    """The optional sections are folded under "More details": open it (once)."""
    more = page.locator("#more-details")
    if more.get_attribute("open") is None:
        more.locator("summary").click()
    expect(more).to_have_attribute("open", "")


def add_and_confirm(page: Page) -> None:
    """ "Add incident", then "Yes, add it now" in "Check before you send"."""
    page.get_by_role("button", name="Add incident").click()
    check = page.get_by_role("dialog", name="Check before you send")
    expect(check).to_be_visible()
    check.get_by_role("button", name="Yes, add it now").click()


def receipt_heading(page: Page):
    return page.get_by_role("heading", name=re.compile(r"^Incident #\d+ recorded$"))


def incident_for(live_server, pupil_id: int) -> list[Incident]:
    with live_server.app.test_request_context():
        incidents = db.session.scalars(select(Incident).where(Incident.pupil_id == pupil_id)).all()
        for incident in incidents:
            _ = incident.body_marks, incident.files, incident.original_categories
            _ = incident.linked_pupils, incident.agencies
        db.session.expunge_all()
        return list(incidents)


def test_teaching_assistant_records_and_class_teacher_marks_read(browser, live_server, page):
    school = seed_school(live_server)

    # Steps 1–2: Add Incident, then the pupil, by typing part of the name.
    sign_in(page, school.assistant_email)
    open_form(page)
    pupil_box = page.get_by_role("combobox", name="Pupil’s name")
    pupil_box.fill(school.first[:4].lower())
    options = page.get_by_role("option")
    expect(options).to_have_count(2)
    expect(options.filter(has_text=school.last)).to_contain_text(
        f"{school.class_name}, Year 4 · born 14 May 2016"
    )
    pupil_box.fill(f"{school.first[:3]} {school.last[:3]}")
    expect(options).to_have_count(1)
    options.first.tap()
    chosen = page.get_by_role("list", name="Chosen pupil")
    expect(chosen).to_contain_text(school.pupil_name)
    expect(chosen).to_contain_text(f"{school.class_name}, Year 4 · born 14 May 2016")

    # Step 3: the account, parents, the body map (two taps) and medical attention.
    page.get_by_label("Where it happened (optional)").fill("Playground")
    page.get_by_label("Your account").fill(
        "At 10:40 BQ was crying by the climbing frame, which in my opinion is unlike him. "
        "He said “he pushed me off and I hit my arm”. DA"
    )
    page.get_by_role("group", name="Have parents or carers been contacted?").get_by_label(
        "Not yet"
    ).check()
    page.get_by_label("Why have they not been contacted?").fill("Mum is at work until 3pm.")
    front = page.get_by_role("group", name=re.compile("^Front of the body"))
    front.tap(position={"x": 60, "y": 200})
    front.tap(position={"x": 110, "y": 320})
    marks = page.get_by_role("list", name="Marks on the body map").get_by_role("listitem")
    expect(marks).to_have_count(2)
    expect(front.locator(".body-pin")).to_have_count(2)
    page.get_by_label("Kind of mark 1").select_option("bruise")
    page.get_by_label("Note on mark 1 (optional)").fill("left forearm, about 3 cm")
    page.get_by_label("Kind of mark 2").select_option("cut")
    page.get_by_role("group", name="Has medical attention been sought?").get_by_label(
        "Yes", exact=True
    ).check()

    # Step 4: categories; the DSL-only family is closed to a teaching assistant.
    expect(page.get_by_label("Neglect")).to_be_disabled()
    expect(page.get_by_text("Do not choose Safeguarding")).to_be_visible()
    page.get_by_label("Behaviour").check()

    # Step 5: a linked pupil, with the same picker (under "More details", like the other
    # optional sections).
    open_more_details(page)
    page.get_by_role("combobox", name="Other pupils involved (optional)").fill(
        f"{school.first[:3]} ash"
    )
    page.get_by_role("option", name=re.compile(f"{school.first} Ashworth")).tap()
    expect(page.get_by_role("list", name="Linked pupils")).to_contain_text("Owls")

    # Step 6: the automatic recipients include the class teacher.
    preview = page.locator("#alert-preview")
    expect(preview.get_by_role("listitem").filter(has_text=school.teacher_name)).to_contain_text(
        "Class teacher"
    )

    # Step 7: a file.
    page.get_by_label("Attach documents (optional)").set_input_files(
        files=[{"name": "playground-note.pdf", "mimeType": "application/pdf", "buffer": PDF}]
    )
    expect(page.get_by_role("list", name="Files to attach")).to_contain_text("playground-note.pdf")

    # Step 8, urgency, and who it is recorded for.
    page.get_by_label("School nurse").check()
    page.get_by_label("Urgent: needs action before the child goes home today").check()
    page.get_by_label("Their name").fill("Marjorie Quayle")
    page.get_by_label("Their role").fill("Midday supervisor")

    # Step 9: add it, checking the pupil, categories and urgency first, and see its number.
    page.get_by_role("button", name="Add incident").click()
    check = page.get_by_role("dialog", name="Check before you send")
    expect(check).to_contain_text(school.pupil_name)
    expect(check).to_contain_text(f"{school.class_name}, Year 4 · born 14 May 2016")
    expect(check).to_contain_text("Behaviour")
    expect(check).to_contain_text("Yes: needs action before the child goes home today")
    expect(check.locator("[data-check-alerted]")).to_contain_text(school.teacher_name)
    check.get_by_role("button", name="Yes, add it now").click()
    receipt = receipt_heading(page)
    expect(receipt).to_be_visible()
    expect(receipt).to_be_focused()
    number = re.search(r"#(\d+)", receipt.inner_text()).group(1)
    expect(page.get_by_role("link", name=f"View incident #{number}")).to_have_attribute(
        "href", f"/incidents/{number}"
    )
    expect(page.get_by_role("button", name="Record another")).to_be_visible()

    [incident] = incident_for(live_server, school.pupil_id)
    assert incident.number == int(number)
    assert [(m.side, m.kind) for m in incident.body_marks] == [
        ("front", "bruise"),
        ("front", "cut"),
    ]
    assert incident.body_marks[0].note == "left forearm, about 3 cm"
    assert 0 < incident.body_marks[0].x < incident.body_marks[1].x < 1
    assert [f.original_name for f in incident.files] == ["playground-note.pdf"]
    assert [c.name for c in incident.original_categories] == ["Behaviour"]
    assert (incident.parents_contacted, incident.medical_attention) == ("not_yet", "yes")
    assert incident.parents_reason == "Mum is at work until 3pm."
    assert [p.legal_last_name for p in incident.linked_pupils] == ["Ashworth"]
    assert [a.name for a in incident.agencies] == ["School nurse"]
    assert incident.urgent and incident.location == "Playground"
    assert (incident.recorded_on_behalf_name, incident.recorded_on_behalf_role) == (
        "Marjorie Quayle",
        "Midday supervisor",
    )

    # Step 13: the class teacher is alerted, opens it and marks it read.
    teacher_context = browser.new_context(
        viewport=IPAD_PORTRAIT, base_url=live_server.url, has_touch=True
    )
    teacher = teacher_context.new_page()
    try:
        sign_in(teacher, school.teacher_email)
        teacher.get_by_role("navigation", name="Main").get_by_role(
            "link", name=re.compile("^Alerts")
        ).click()
        row = teacher.locator("tr", has=teacher.get_by_role("link", name=f"#{number}"))
        expect(row).to_contain_text("Behaviour")
        expect(row).to_contain_text("Class teacher")
        expect(row).not_to_contain_text(school.last)
        row.get_by_role("link", name=f"#{number}").click()
        expect(teacher.get_by_text(school.pupil_name).first).to_be_visible()
        teacher.get_by_role("button", name="Mark as read").click()
        expect(teacher.get_by_text(re.compile("Read ✓"))).to_be_visible()
        teacher.goto("/alerts")
        expect(
            teacher.locator("tr", has=teacher.get_by_role("link", name=f"#{number}"))
        ).to_contain_text("Read ✓")
    finally:
        teacher_context.close()


def test_the_form_checks_answers_before_sending(live_server, page):
    school = seed_school(live_server)
    sign_in(page, school.assistant_email)
    open_form(page)

    page.get_by_role("button", name="Add incident").click()
    summary = page.get_by_role("alert").filter(has_text="There is a problem")
    expect(summary).to_be_focused()
    for message in (
        "Choose the pupil from the list",
        "Write your account of what happened",
        "Say whether parents or carers have been contacted",
        "Choose at least one category",
    ):
        expect(summary.get_by_role("link", name=message)).to_be_visible()
    summary.get_by_role("link", name="Write your account of what happened").click()
    expect(page.get_by_label("Your account")).to_be_focused()

    fill_required(page, school)
    page.get_by_label("Date and time it happened").fill("2099-01-01T09:00")
    page.get_by_role("button", name="Add a mark on the front").click()
    page.get_by_role("button", name="Add incident").click()
    expect(summary.get_by_role("link", name=re.compile("cannot be in the future"))).to_be_visible()
    expect(summary.get_by_role("link", name=re.compile("kind of mark number 1"))).to_be_visible()
    assert incident_for(live_server, school.pupil_id) == []


# Where a browser cannot keep keys (no IndexedDB or WebCrypto: private modes, plain HTTP on a
# school network), the page still sends online through its in-memory queue. These tests take
# IndexedDB away to check that path; the sealed outbox is tested in test_offline_capture.py.
NO_DEVICE_STORAGE = "Object.defineProperty(window, 'indexedDB', {value: undefined});"


def test_an_incident_waits_when_the_network_fails_and_sends_on_send_now(live_server, page):
    page.add_init_script(NO_DEVICE_STORAGE)
    school = seed_school(live_server)
    sign_in(page, school.assistant_email)
    open_form(page)
    fill_required(page, school)

    page.route("**/api/incidents", lambda route: route.abort("internetdisconnected"))
    add_and_confirm(page)
    waiting = page.locator("#queue-status")
    expect(waiting).to_contain_text("1 incident waiting to send")
    expect(waiting).to_contain_text("no connection")
    expect(waiting).to_be_focused()
    expect(page.get_by_role("button", name="Waiting to send")).to_be_disabled()
    assert incident_for(live_server, school.pupil_id) == []

    page.unroute("**/api/incidents")
    waiting.get_by_role("button", name="Send now").click()
    expect(receipt_heading(page)).to_be_visible()
    expect(waiting).to_be_hidden()
    assert len(incident_for(live_server, school.pupil_id)) == 1


def test_a_receipt_lost_on_the_way_back_is_not_a_second_incident(live_server, page):
    page.add_init_script(NO_DEVICE_STORAGE)
    school = seed_school(live_server)
    sign_in(page, school.assistant_email)
    open_form(page)
    fill_required(page, school)

    # The server records it, but the answer never reaches the iPad: the queue keeps it,
    # and sending again gets the original receipt rather than a second incident.
    def lose_answer(route):
        route.fetch()
        route.abort("connectionreset")

    page.route("**/api/incidents", lose_answer)
    add_and_confirm(page)
    expect(page.locator("#queue-status")).to_contain_text("1 incident waiting to send")
    page.unroute("**/api/incidents")
    page.get_by_role("button", name="Send now").click()
    receipt = receipt_heading(page)
    expect(receipt).to_be_visible()
    first_receipt = receipt.inner_text()
    [incident] = incident_for(live_server, school.pupil_id)
    assert f"#{incident.number}" in first_receipt

    # "Record another" starts a fresh incident, with a new identifier of its own.
    page.get_by_role("button", name="Record another").click()
    box = page.get_by_role("combobox", name="Pupil’s name")
    expect(box).to_be_focused()
    expect(page.get_by_label("Your account")).to_have_value("")
    fill_required(page, school)
    add_and_confirm(page)
    expect(receipt_heading(page)).not_to_have_text(first_receipt)
    assert len(incident_for(live_server, school.pupil_id)) == 2


def test_a_refusal_by_the_server_is_shown_beside_the_field(live_server, page):
    school = seed_school(live_server)
    sign_in(page, school.assistant_email)
    open_form(page)
    fill_required(page, school)
    # The pupil leaves the roll after the page loaded: only the server can know.
    with live_server.app.test_request_context():
        db.session.get(Pupil, school.pupil_id).on_roll = False
        db.session.commit()

    add_and_confirm(page)
    summary = page.get_by_role("alert").filter(has_text="There is a problem")
    expect(summary).to_be_focused()
    expect(summary).to_contain_text("Choose the pupil from the school roll.")
    expect(page.locator("#pupil-picker")).to_contain_text("Choose the pupil from the school roll.")
    expect(page.get_by_role("button", name="Add incident")).to_be_enabled()
    expect(page.locator("#queue-status")).to_be_hidden()
    assert incident_for(live_server, school.pupil_id) == []


def test_signed_out_keeps_the_incident_until_signed_in_again(live_server, page):
    page.add_init_script(NO_DEVICE_STORAGE)
    school = seed_school(live_server)
    sign_in(page, school.assistant_email)
    open_form(page)
    fill_required(page, school)

    # The session ends on the server (it timed out, or was signed out elsewhere).
    with live_server.app.test_request_context():
        assistant = db.session.scalar(select(User).where(User.email == school.assistant_email))
        end_all_sessions(assistant, "idle")
        db.session.commit()
    add_and_confirm(page)
    waiting = page.locator("#queue-status")
    expect(waiting).to_contain_text("1 incident waiting to send: you have been signed out")
    expect(waiting.get_by_role("link", name="Sign in again (opens a new tab)")).to_be_visible()
    assert incident_for(live_server, school.pupil_id) == []

    other_tab = page.context.new_page()
    sign_in(other_tab, school.assistant_email)
    other_tab.close()
    waiting.get_by_role("button", name="Send now").click()
    expect(receipt_heading(page)).to_be_visible()
    assert len(incident_for(live_server, school.pupil_id)) == 1


def test_a_dsl_sees_who_may_not_be_alerted_to_a_safeguarding_incident(live_server, page):
    school = seed_school(live_server)
    dsl_email = f"dsl.{school.first.lower()}@school.example"
    live_server.create_user(
        Role.DSL, email=dsl_email, full_name=f"Wilhelmina Sorrel {school.first}"
    )
    sign_in(page, dsl_email)
    open_form(page)
    fill_required(page, school)
    page.get_by_label("Behaviour").uncheck()
    page.get_by_label("Neglect").check()
    preview = page.locator("#alert-preview")
    # The class teacher was listed for Behaviour; for Neglect they are not.
    expect(preview).not_to_contain_text(school.teacher_name)

    open_more_details(page)
    page.get_by_role("combobox", name="Alert someone else as well (optional)").fill(
        school.teacher_name
    )
    teacher_option = page.get_by_role("option", name=re.compile(rf"^{school.teacher_name}(?!\d)"))
    expect(teacher_option).to_contain_text("Class teacher")
    teacher_option.tap()
    refused = preview.locator("[data-alert-refused]")
    expect(refused).to_contain_text(school.teacher_name)
    expect(refused).to_contain_text("may not see Safeguarding incidents")
    expect(refused).to_contain_text("Care must be taken not to communicate sensitive information")
    chosen = page.get_by_role("list", name="Staff you chose to alert")
    expect(chosen).to_contain_text("Cannot be alerted")

    page.get_by_role("button", name="Add incident").click()
    summary = page.get_by_role("alert").filter(has_text="There is a problem")
    expect(summary).to_contain_text(f"Remove {school.teacher_name}")
    assert incident_for(live_server, school.pupil_id) == []

    chosen.get_by_role("button", name=f"Remove {school.teacher_name}").click()
    expect(refused).to_be_hidden()
    add_and_confirm(page)
    expect(receipt_heading(page)).to_be_visible()
    [incident] = incident_for(live_server, school.pupil_id)
    assert [c.name for c in incident.original_categories] == ["Neglect"]


def test_type_ahead_over_two_thousand_pupils_matches_any_word_of_either_name(
    live_server, page, monkeypatch
):
    school = seed_school(live_server)
    firsts = ["Aurelia", "Benedict", "Clementine", "Digby", "Esmeralda", "Fitzgerald", "Gwendolyn"]
    roster = [
        {
            "id": 100_000 + i,
            "name": f"{firsts[i % len(firsts)]} Rosterton{i}",
            "legal_name": f"{firsts[i % len(firsts)]} Rosterton{i}",
            "class_name": f"Class {i % 60}",
            "year_label": f"Year {i % 6 + 1}",
            "date_of_birth": "2017-03-04",
            "dob_display": "4 Mar 2017",
        }
        for i in range(2_000)
    ]
    roster.append(
        {
            "id": school.pupil_id,
            "name": f"Kit {school.last}",
            "legal_name": f"Christopher {school.last}-Ambrose",
            "class_name": school.class_name,
            "year_label": "Year 4",
            "date_of_birth": "2016-05-14",
            "dob_display": "14 May 2016",
        }
    )
    # The page carries the roster (server/incidents/page.py): this one, for this test.
    monkeypatch.setattr(form_data, "roster_json", lambda user: (json.dumps(roster).encode(), "t"))
    sign_in(page, school.assistant_email)
    open_form(page)
    box = page.get_by_role("combobox", name="Pupil’s name")
    options = page.get_by_role("option")

    box.fill("aur")
    expect(options).to_have_count(30)  # the list stays short: type more to narrow it
    box.fill("Rosterton1999")
    expect(options).to_have_count(1)
    for typed in ("chris", "ambr", f"kit {school.last[:3]}", "christopher ambrose"):
        box.fill(typed)
        expect(options).to_have_count(1)
        expect(options.first).to_contain_text(
            f"Kit {school.last} (Christopher {school.last}-Ambrose)"
        )
    box.fill("zzz")
    expect(page.get_by_text("No matches. Check the spelling")).to_be_visible()


def test_files_too_large_or_of_the_wrong_type_are_refused_before_sending(
    live_server, page, monkeypatch
):
    school = seed_school(live_server)
    # What the form is told (the page's vocabulary); the server's own limit is not changed.
    monkeypatch.setattr(form_data, "MAX_FILE_BYTES", 2048)
    sign_in(page, school.assistant_email)
    open_form(page)
    expect(page.locator("#files-hint")).to_contain_text("up to 2 KB each")
    open_more_details(page)
    files = page.get_by_label("Attach documents (optional)")
    files.set_input_files(
        files=[
            {"name": "scan.pdf", "mimeType": "application/pdf", "buffer": PDF + b" " * 4096},
            {"name": "setup.exe", "mimeType": "application/x-msdownload", "buffer": b"MZ"},
            {"name": "letter.pdf", "mimeType": "application/pdf", "buffer": PDF},
        ]
    )
    field = page.locator("#file-picker")
    expect(field).to_contain_text("“scan.pdf” is 4.1 KB: each file must be 2 KB or smaller.")
    expect(field).to_contain_text("“setup.exe” is not a type Haven accepts")
    listed = page.get_by_role("list", name="Files to attach").get_by_role("listitem")
    expect(listed).to_have_count(1)
    expect(listed).to_contain_text("letter.pdf")
    listed.get_by_role("button", name="Remove letter.pdf").click()
    expect(page.get_by_role("list", name="Files to attach")).to_be_hidden()


def test_writing_the_account_keeps_the_session_alive(live_server, page):
    school = seed_school(live_server)
    page.clock.install()
    sign_in(page, school.assistant_email)
    open_form(page)
    account = page.get_by_label("Your account")
    account.press_sequentially("At break")
    page.clock.fast_forward("01:01")
    with page.expect_request("**/auth/session/keep-alive") as ping:
        account.press_sequentially(" time")
    assert ping.value.method == "POST"


def test_the_pupil_can_be_chosen_with_the_keyboard(live_server, page):
    school = seed_school(live_server)
    sign_in(page, school.assistant_email)
    open_form(page)
    box = page.get_by_role("combobox", name="Pupil’s name")
    box.focus()
    page.keyboard.type(school.first)
    expect(box).to_have_attribute("aria-expanded", "true")
    # Two pupils share the first name; where this one comes depends on the surnames.
    options = page.get_by_role("option")
    expect(options).to_have_count(2)
    place = [school.pupil_name in text for text in options.all_inner_texts()].index(True)
    # Escape closes the list; it does not count towards the blank-screen shortcut.
    page.keyboard.press("Escape")
    expect(box).to_have_attribute("aria-expanded", "false")
    page.keyboard.press("ArrowDown")
    expect(box).to_have_attribute("aria-expanded", "true")
    page.keyboard.press("Escape")
    expect(page.get_by_role("heading", name="Add incident", level=1)).to_be_visible()
    page.keyboard.press("ArrowDown")  # opens the list on its first option
    for _ in range(place):
        page.keyboard.press("ArrowDown")
    expect(page.get_by_role("option", selected=True)).to_contain_text(school.pupil_name)
    page.keyboard.press("Enter")
    expect(page.get_by_role("list", name="Chosen pupil")).to_contain_text(school.class_name)
    expect(
        page.get_by_role("button", name=f"Change pupil from {school.pupil_name}")
    ).to_be_focused()

    # A mark without tapping: add it with a button, choose where from the list of regions,
    # fine-tune it with the arrow keys.
    page.get_by_role("button", name="Add a mark on the back").click()
    where = page.get_by_role("combobox", name="Where is mark 1?")
    expect(where).to_be_focused()
    where.select_option(label="left calf, back")
    mark = page.get_by_role("button", name=re.compile("^Mark 1, left calf, back"))
    mark.focus()
    before = mark.get_attribute("transform")
    page.keyboard.press("ArrowLeft")
    expect(mark).not_to_have_attribute("transform", before)
    page.keyboard.press("Delete")
    expect(page.locator(".body-pin")).to_have_count(0)


IPAD_SIZES = [{"width": 768, "height": 1024}, {"width": 1180, "height": 820}]


@pytest.mark.parametrize("viewport", IPAD_SIZES, ids=["portrait-768", "landscape"])
def test_no_horizontal_scrolling_on_an_ipad_either_way_up(browser, live_server, viewport):
    school = seed_school(live_server)
    context = browser.new_context(viewport=viewport, base_url=live_server.url, has_touch=True)
    page = context.new_page()
    try:
        sign_in(page, school.assistant_email)
        open_form(page)
        pick_pupil(page, school.last[:4], school.pupil_name)
        page.get_by_role("group", name=re.compile("^Back of the body")).tap(
            position={"x": 40, "y": 80}
        )
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0
        targets = "button, [role=option], input[type=text], select, label.checkbox"
        small = page.evaluate(
            """(targets) => [...document.querySelector('#incident-form').querySelectorAll(targets)]
               .filter((el) => el.offsetParent !== null)
               .filter((el) => el.getBoundingClientRect().height < 44)
               .map((el) => el.outerHTML.slice(0, 80))""",
            targets,
        )
        assert small == []
        unlabelled = page.evaluate(
            """[...document.querySelectorAll('#incident-form input, #incident-form select')]
               .filter((el) => el.labels.length === 0 && !el.getAttribute('aria-label'))
               .map((el) => el.outerHTML.slice(0, 80))"""
        )
        assert unlabelled == []  # the controls the script made are labelled too
    finally:
        context.close()
