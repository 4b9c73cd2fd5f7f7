"""Every page and the states people meet, checked with axe-core (WCAG 2.2 A and AA rules), and
every page with a table checked for reflow at 320 CSS pixels (WCAG 1.4.10).

Each place signs in as the role that uses it (review, reports and administration stepped up,
as if a passkey had just been used) and fails on any serious or critical violation; the rest
are printed, to be looked at. axe-core comes from axe-playwright-python (axe 4.12).
"""

import itertools
import os
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from types import SimpleNamespace

import pytest
import sqlalchemy as sa
from playwright.sync_api import Page, expect

from server.auth.models import User, UserSession
from server.auth.roles import Role
from server.clock import utcnow
from server.extensions import db
from server.incidents.models import Category
from server.incidents.submission import submit_incident
from server.incidents.vocabulary import install_default_vocabulary
from server.passkeys.models import PasskeyCredential
from server.pupils.models import Pupil, SchoolClass
from tests.browser.conftest import IPAD_PORTRAIT
from tests.conftest import DEFAULT_PASSWORD
from tests.webauthn_authenticator import AAGUID, SoftwareAuthenticator

WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22a", "wcag22aa"]
BLOCKING = {"serious", "critical"}
_schools = itertools.count(0)


@pytest.fixture(scope="module")
def school(live_server) -> SimpleNamespace:
    """One of each role, a class with two pupils, and incidents with alerts and body marks."""
    n = next(_schools)
    people = {
        role: live_server.create_user(
            role, email=f"a11y{n}.{role.value}@school.example", full_name=f"Robin {role.value}"
        )
        for role in Role
    }
    with live_server.app.test_request_context():
        install_default_vocabulary()
        wrens = SchoolClass(name=f"Wrens {n}", year_group="3")
        wrens.teachers = [db.session.get(User, people[Role.CLASS_TEACHER].id)]
        pupil = Pupil(
            upn=f"X{n:06d}000001", legal_first_name="Araminta", legal_last_name=f"Cobb{n}",
            date_of_birth=date(2017, 3, 9), year_group="3", school_class=wrens,
        )  # fmt: skip
        other = Pupil(
            upn=f"X{n:06d}000002", legal_first_name="Tobias", legal_last_name=f"Fairweather{n}",
            date_of_birth=date(2017, 8, 1), year_group="3", school_class=wrens,
        )  # fmt: skip
        db.session.add_all([wrens, pupil, other])
        db.session.commit()
        behaviour = db.session.scalar(sa.select(Category.id).where(Category.name == "Behaviour"))
        receipt = submit_incident(
            db.session.get(User, people[Role.STAFF].id),
            {
                "uuid": str(uuid.uuid4()),
                "pupil_id": pupil.id,
                "occurred_at": utcnow().replace(microsecond=0).isoformat(),
                "location": "Playground",
                "account": "Said “I fell off the climbing frame.” Graze on the left knee.",
                "parents_contacted": "yes",
                "medical_attention": "not_needed",
                "category_ids": [behaviour],
                "linked_pupil_ids": [other.id],
                "body_marks": [
                    {"side": "front", "x": 0.62, "y": 0.86, "kind": "cut", "note": "2 cm"},
                    {"side": "back", "x": 0.3, "y": 0.4, "kind": "bruise"},
                ],
            },
            [],
        )
        db.session.commit()
        _add_passkey(live_server, people[Role.CLASS_TEACHER], "Classroom iPad")
        return SimpleNamespace(
            people=people,
            pupil_id=pupil.id,
            class_id=wrens.id,
            incident=receipt.number,
        )


def _add_passkey(live_server, user: User, name: str) -> None:
    """A stored passkey, so the passkeys page shows its table (registration is tested elsewhere)."""
    stored = SoftwareAuthenticator().new_credential(live_server.app.config["WEBAUTHN_RP_ID"])
    db.session.add(
        PasskeyCredential(
            user_id=user.id,
            name=name,
            credential_id=stored.credential_id,
            public_key=stored.cose_public_key,
            sign_count=0,
            user_handle=stored.user_handle,
            aaguid=str(uuid.UUID(bytes=AAGUID)),
            transports="internal",
            backed_up=False,
            created_at=utcnow(),
        )
    )
    db.session.commit()


def sign_in(page: Page, email: str) -> None:
    page.goto("/auth/sign-in")
    page.get_by_label("School email address").fill(email)
    page.get_by_label("Password").fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name=re.compile("^Hello"))).to_be_visible()


def step_up(live_server, user: User) -> None:
    """As if the person had just used their passkey (the ceremony is tested elsewhere)."""
    with live_server.app.test_request_context():
        now = utcnow()
        db.session.execute(
            sa.update(UserSession)
            .where(UserSession.user_id == user.id, UserSession.ended_at.is_(None))
            .values(stepped_up_at=now, last_assertion_at=now, review_active_at=now)
        )
        db.session.commit()


@dataclass
class Place:
    """A page or a state of one: who looks at it, where, and what they do there first."""

    name: str
    role: Role | None
    path: str | Callable[[SimpleNamespace], str]
    then: Callable[[Page], None] | None = None
    stepped_up: bool = True
    tags: tuple = field(default_factory=tuple)

    def url(self, school) -> str:
        return self.path(school) if callable(self.path) else self.path


def _submit_empty(page: Page) -> None:
    page.locator("main form button[type=submit]").first.click()
    expect(page.locator("main .error-summary, main .error-message").first).to_be_visible()


def _incident_form_ready(page: Page) -> None:
    page.wait_for_selector("html[data-incident-form=ready]", state="attached")


def _incident_form_with_errors(page: Page) -> None:
    _incident_form_ready(page)
    page.get_by_role("button", name="Add incident", exact=True).click()
    expect(page.get_by_role("heading", name=re.compile("problem|check", re.I))).to_be_visible()


def _body_map_with_a_mark(page: Page) -> None:
    _incident_form_ready(page)
    page.get_by_role("button", name="Add a mark on the front").click()
    expect(page.get_by_label("Kind of mark 1")).to_be_visible()


def _blanked_in_place(page: Page) -> None:
    _incident_form_ready(page)
    page.wait_for_selector("html[data-session-guard=ready]", state="attached")
    page.get_by_role("button", name="Blank screen").click()
    expect(page.get_by_role("dialog", name="Screen blanked")).to_be_visible()


def _blanked_to_unlock_page(page: Page) -> None:
    page.wait_for_selector("html[data-session-guard=ready]", state="attached")
    page.get_by_role("button", name="Blank screen").click()
    expect(page.get_by_role("heading", name="Screen blanked")).to_be_visible()
    page.wait_for_load_state("load")


def _idle_warning(page: Page) -> None:
    # The warning as it shows a minute before the idle sign-out (its markup and focus).
    page.wait_for_selector("html[data-session-guard=ready]", state="attached")
    page.evaluate("document.getElementById('idle-warning').hidden = false")
    expect(page.get_by_role("alertdialog")).to_be_visible()


def _loaded(page: Page) -> None:
    page.wait_for_load_state("load")


STAFF, TEACHER, PASTORAL, DSL, SLT, ADMIN = (
    Role.STAFF, Role.CLASS_TEACHER, Role.PASTORAL, Role.DSL, Role.SLT, Role.ADMIN,
)  # fmt: skip

PLACES = [
    Place("sign in", None, "/auth/sign-in"),
    Place("sign in with errors", None, "/auth/sign-in", then=_submit_empty),
    Place("reset password", None, "/auth/reset-password"),
    Place("not found, signed out", None, "/no-such-page"),
    *(Place(f"home for {role.value}", role, "/") for role in Role),
    Place("change password", TEACHER, "/auth/account/password"),
    Place("change password with errors", TEACHER, "/auth/account/password", then=_submit_empty),
    Place("add incident, empty", STAFF, "/incidents/new", then=_incident_form_ready),
    Place("add incident, errors", STAFF, "/incidents/new", then=_incident_form_with_errors),
    Place("add incident, body map mark", STAFF, "/incidents/new", then=_body_map_with_a_mark),
    Place("add incident, blanked", STAFF, "/incidents/new", then=_blanked_in_place),
    Place("idle warning", TEACHER, "/", then=_idle_warning),
    Place("unlock page", TEACHER, "/", then=_blanked_to_unlock_page),
    Place("incident page", DSL, lambda s: f"/incidents/{s.incident}"),
    Place("incident page, class teacher", TEACHER, lambda s: f"/incidents/{s.incident}"),
    Place("alerts inbox", TEACHER, "/alerts"),
    Place("alerts inbox, DSL", DSL, "/alerts"),
    Place("alert rules", ADMIN, "/alerts/rules"),
    Place("notifications", STAFF, "/push/notifications"),
    Place("devices", STAFF, "/devices"),
    Place("offline page", STAFF, "/offline"),
    Place("passkeys", TEACHER, "/passkeys/"),
    Place("step-up", DSL, "/pupils", stepped_up=False),
    Place("pupils, find", DSL, "/pupils"),
    Place("pupil record", DSL, lambda s: f"/pupils/{s.pupil_id}"),
    Place("pupil record, class teacher", TEACHER, lambda s: f"/pupils/{s.pupil_id}"),
    Place("pupil viewers", DSL, lambda s: f"/pupils/{s.pupil_id}/viewers"),
    Place("chronology report", DSL, lambda s: f"/reports/pupils/{s.pupil_id}/chronology"),
    Place("case conference report", DSL, lambda s: f"/reports/pupils/{s.pupil_id}/case-conference"),
    Place("reports", DSL, "/reports"),
    Place("governors report", SLT, "/reports/governors"),
    Place("inspection report", DSL, "/reports/inspection"),
    Place("approvals", DSL, "/approvals/"),
    Place("transfers", DSL, "/transfers/"),
    Place("send a pupil's file", DSL, lambda s: f"/transfers/new?pupil_id={s.pupil_id}"),
    Place("retention", DSL, "/retention/"),
    Place("pupil's retention", DSL, lambda s: f"/retention/pupils/{s.pupil_id}"),
    Place("subject access", DSL, lambda s: f"/subject-access/pupils/{s.pupil_id}"),
    Place("administration", ADMIN, "/admin/"),
    Place("staff", ADMIN, "/admin/users"),
    Place("new staff member", ADMIN, "/admin/users/new"),
    Place("new staff member with errors", ADMIN, "/admin/users/new", then=_submit_empty),
    Place("staff member", ADMIN, lambda s: f"/admin/users/{s.people[Role.STAFF].id}"),
    Place("staff member's devices", ADMIN, lambda s: f"/users/{s.people[Role.STAFF].id}/devices"),
    Place("classes", ADMIN, "/admin/classes"),
    Place("class", ADMIN, lambda s: f"/admin/classes/{s.class_id}"),
    Place("pupils (roster)", ADMIN, "/admin/pupils"),
    Place("roster import", ADMIN, "/admin/roster/import"),
    Place("forbidden", STAFF, "/admin/users"),
    Place("not found, signed in", STAFF, "/incidents/999999"),
]


def visit(page: Page, live_server, school, place: Place) -> None:
    if place.role is not None:
        user = school.people[place.role]
        sign_in(page, user.email)
        if place.stepped_up:
            step_up(live_server, user)
    page.goto(place.url(school))
    (place.then or _loaded)(page)


def axe_violations(page: Page) -> list[dict]:
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(
        page,
        options={"runOnly": {"type": "tag", "values": WCAG_TAGS}, "resultTypes": ["violations"]},
    )
    return results.response["violations"]


def _describe(violation: dict) -> str:
    targets = [", ".join(node["target"]) for node in violation["nodes"][:5]]
    return f"[{violation['impact']}] {violation['id']}: {violation['help']} at {targets}"


@pytest.mark.parametrize("place", PLACES, ids=[place.name for place in PLACES])
def test_no_serious_or_critical_accessibility_problems(browser, live_server, school, place):
    context = browser.new_context(viewport=IPAD_PORTRAIT, base_url=live_server.url)
    page = context.new_page()
    page.set_default_timeout(15_000)
    try:
        visit(page, live_server, school, place)
        violations = axe_violations(page)
    finally:
        context.close()
    for violation in violations:
        print(_describe(violation))
    blocking = [_describe(v) for v in violations if v["impact"] in BLOCKING]
    assert blocking == []


# Every page that shows a table (or a list laid out like one), at the narrowest width WCAG
# asks for: nothing may make the whole page scroll sideways.
NARROW = {"width": 320, "height": 640}
# Screenshots of the narrow pages go here when it is set, to be looked at by a person.
SHOTS = Path(os.environ["HAVEN_SCREENSHOTS"]) if os.environ.get("HAVEN_SCREENSHOTS") else None
TABLE_PLACES = [
    Place("alerts inbox", TEACHER, "/alerts"),
    Place("alerts inbox, DSL", DSL, "/alerts"),
    Place("passkeys", TEACHER, "/passkeys/"),
    Place("staff", ADMIN, "/admin/users"),
    Place("staff member", ADMIN, lambda s: f"/admin/users/{s.people[Role.STAFF].id}"),
    Place("staff member's devices", ADMIN, lambda s: f"/users/{s.people[Role.STAFF].id}/devices"),
    Place("classes", ADMIN, "/admin/classes"),
    Place("pupils (roster)", ADMIN, "/admin/pupils"),
    Place("alert rules", ADMIN, "/alerts/rules"),
    Place("devices", STAFF, "/devices"),
    Place("approvals", DSL, "/approvals/"),
    Place("transfers", DSL, "/transfers/"),
    Place("send a pupil's file", DSL, lambda s: f"/transfers/new?pupil_id={s.pupil_id}"),
    Place("retention", DSL, "/retention/"),
    Place("pupil's retention", DSL, lambda s: f"/retention/pupils/{s.pupil_id}"),
    Place("subject access", DSL, lambda s: f"/subject-access/pupils/{s.pupil_id}"),
    Place("reports", DSL, "/reports"),
    Place("chronology report", DSL, lambda s: f"/reports/pupils/{s.pupil_id}/chronology"),
    Place("case conference report", DSL, lambda s: f"/reports/pupils/{s.pupil_id}/case-conference"),
    Place("governors report", SLT, "/reports/governors"),
    Place("inspection report", DSL, "/reports/inspection"),
    Place("pupil record", DSL, lambda s: f"/pupils/{s.pupil_id}"),
    Place("pupil viewers", DSL, lambda s: f"/pupils/{s.pupil_id}/viewers"),
    Place("incident page", DSL, lambda s: f"/incidents/{s.incident}"),
    Place("home", DSL, "/"),
]


@pytest.mark.parametrize("place", TABLE_PLACES, ids=[place.name for place in TABLE_PLACES])
def test_tables_do_not_scroll_the_page_sideways_at_320_pixels(browser, live_server, school, place):
    context = browser.new_context(viewport=NARROW, base_url=live_server.url)
    page = context.new_page()
    page.set_default_timeout(15_000)
    try:
        visit(page, live_server, school, place)
        width = page.evaluate("document.documentElement.scrollWidth")
        if SHOTS:
            SHOTS.mkdir(parents=True, exist_ok=True)
            slug = re.sub(r"\W+", "-", place.name).strip("-")
            page.screenshot(path=str(SHOTS / f"320-{slug}.png"), full_page=True)
        scrolling = page.evaluate(
            """() => [...document.querySelectorAll('.table-scroll')].map((box) => ({
                 label: box.getAttribute('aria-label') || box.getAttribute('aria-labelledby'),
                 focusable: box.tabIndex === 0 }))"""
        )
        # A table wider than the screen outside a scroll box is cut off where nothing scrolls.
        cut_off = page.evaluate(
            """() => [...document.querySelectorAll('main table')]
                 .filter((table) => !table.closest('.table-scroll'))
                 .filter((table) => table.getBoundingClientRect().right
                                    > document.documentElement.clientWidth + 1)
                 .map((table) => table.className || table.querySelector('th')?.textContent)"""
        )
    finally:
        context.close()
    assert width <= NARROW["width"]
    assert cut_off == []
    # A table too wide to stack scrolls inside a labelled box that keyboards can reach.
    assert all(box["label"] and box["focusable"] for box in scrolling)


def test_a_page_sent_back_with_problems_puts_focus_on_what_to_fix(browser, live_server):
    context = browser.new_context(viewport=IPAD_PORTRAIT, base_url=live_server.url)
    page = context.new_page()
    try:
        page.goto("/auth/sign-in")
        page.get_by_label("School email address").fill("not an email address")
        page.get_by_role("button", name="Sign in").click()
        summary = page.locator("main .error-summary")
        expect(summary).to_be_focused()
        # Tab goes on to its first link, which leads to the field.
        page.keyboard.press("Tab")
        expect(summary.get_by_role("link").first).to_be_focused()
    finally:
        context.close()
