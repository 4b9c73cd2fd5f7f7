"""The Add Incident page as HTML, without running its script (SPEC §2, §5).

It renders for everyone who records incidents, carries no personal data (pupils and staff are
loaded as JSON, so the page can later be cached for offline use), has the policy's guidance
beside the account, and every control has a label. The script's behaviour is tested in
tests/browser/test_record_incident.py.
"""

import json
import re
from datetime import date
from html.parser import HTMLParser

import pytest

from server.auth.roles import Role

RECORDERS = [Role.STAFF, Role.CLASS_TEACHER, Role.PASTORAL, Role.DSL, Role.SLT]
LABELLABLE = {"input", "select", "textarea"}
NOT_LABELLED = {"hidden", "submit", "button", "reset", "image"}


class PageParts(HTMLParser):
    """The parts of a page these tests look at: controls, labels, ids, scripts, attributes."""

    def __init__(self):
        super().__init__()
        self.ids: list[str] = []
        self.controls: list[dict] = []
        self.label_for: set[str] = set()
        self.wrapped: set[str] = set()
        self.scripts: list[dict] = []
        self.inline_handlers: list[str] = []
        self.style_attributes = 0
        self.described_by: list[str] = []
        self._open_labels = 0

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if "id" in attributes:
            self.ids.append(attributes["id"])
        self.inline_handlers += [name for name, _ in attrs if name.startswith("on")]
        self.style_attributes += "style" in attributes
        self.described_by += (attributes.get("aria-describedby") or "").split()
        if tag == "label":
            self._open_labels += 1
            if attributes.get("for"):
                self.label_for.add(attributes["for"])
        if tag in LABELLABLE and attributes.get("type") not in NOT_LABELLED:
            self.controls.append(attributes)
            if self._open_labels:
                self.wrapped.add(attributes.get("id", ""))
        if tag == "script":
            self.scripts.append(attributes)

    def handle_endtag(self, tag):
        if tag == "label":
            self._open_labels -= 1


def parse(html: str) -> PageParts:
    parts = PageParts()
    parts.feed(html)
    return parts


def main_content(html: str) -> str:
    return re.search(r"<main.*?</main>", html, re.S).group(0)


@pytest.fixture
def school(make_user, make_class, make_pupil, vocabulary):
    """A class with a teacher and two pupils, with names and birthdays nobody else has."""
    teacher = make_user(Role.CLASS_TEACHER, full_name="Perpetua Longbottom-Vance")
    class_id = make_class("Kestrels", "3", teachers=[teacher])
    make_pupil("Zebedee", "Quillfeather", class_id=class_id, date_of_birth=date(2017, 2, 19))
    make_pupil("Ottoline", "Marchbanks", class_id=class_id, date_of_birth=date(2016, 11, 7))
    return teacher


@pytest.mark.parametrize("role", RECORDERS, ids=lambda role: role.value)
def test_everyone_who_records_incidents_gets_the_page(role, client, make_user, sign_in):
    sign_in(make_user(role))
    response = client.get("/incidents/new")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "<h1" in html and "Add incident</h1>" in html
    assert 'id="incident-form"' in html


def test_admin_cannot_open_the_page(client, make_user, sign_in):
    sign_in(make_user(Role.ADMIN))
    assert client.get("/incidents/new").status_code == 403


PERSONAL = (
    "Zebedee",
    "Quillfeather",
    "Ottoline",
    "Marchbanks",
    "Kestrels",
    "2017-02-19",
    "19 Feb 2017",
    "Longbottom",
)


def form_data(html: str) -> dict:
    block = re.search(r'<script type="application/json" id="form-data">(.*?)</script>', html, re.S)
    return json.loads(block.group(1))


def test_the_app_shell_carries_no_personal_data(client, make_user, sign_in, school):
    """The page the service worker keeps for use offline: its data comes from the device."""
    author = make_user(Role.STAFF, full_name="Tamsin Featherstonehaugh")
    sign_in(author)
    client.get("/incidents/new")
    html = client.get("/offline/incident").get_data(as_text=True)
    for personal in (*PERSONAL, school.full_name, author.full_name):
        assert personal not in html
    assert 'id="form-data"' not in html


def test_the_page_carries_the_forms_data_and_is_never_stored(client, make_user, sign_in, school):
    """Online the form's data comes in the page (no request after its scripts): exactly what
    the three JSON endpoints send, the roster with the ETag the device keeps it under."""
    sign_in(make_user(Role.STAFF, full_name="Tamsin Featherstonehaugh"))
    response = client.get("/incidents/new")
    assert response.headers["Cache-Control"] == "no-store"
    data = form_data(response.get_data(as_text=True))
    roster = client.get("/api/roster", headers={"Accept": "application/json"})
    assert data["roster"] == roster.get_json()
    assert data["roster_etag"] == roster.headers["ETag"].strip('W/"')
    assert data["vocabulary"] == client.get("/api/incident-form").get_json()
    assert data["staff"] == client.get("/api/staff").get_json()
    assert "Zebedee Quillfeather" in json.dumps(data["roster"])


def test_no_name_can_end_the_element_that_carries_the_data(
    client, make_user, sign_in, make_class, make_pupil
):
    class_id = make_class("Wrens", "2")
    name = "</script><script>alert(1)</script><!--"
    make_pupil(name, "Smith", class_id=class_id, date_of_birth=date(2018, 1, 2))
    sign_in(make_user(Role.STAFF))
    html = client.get("/incidents/new").get_data(as_text=True)
    assert "<script>alert(1)" not in html and "<!--" not in main_content(html)
    assert name in json.dumps(form_data(html)["roster"], ensure_ascii=False)


def test_the_page_gives_the_policy_guidance_beside_the_account(client, make_user, sign_in):
    sign_in(make_user(Role.STAFF))
    html = " ".join(main_content(client.get("/incidents/new").get_data(as_text=True)).split())
    guidance = re.search(r'<details class="guidance".*?</details>', html).group(0)
    for advice in (
        "What you observed, and when",
        "what is fact and what is your opinion",
        "What you were told, and when",
        "exact words",
        "What you heard, and when",
        "staff initials only",
        "What you did",
        "not been contacted",
        "body map",
    ):
        assert advice in guidance
    assert "Make sure you pick the right child — incidents cannot be deleted." in html
    assert "cannot be edited once it" in html
    assert "Care must be taken not to communicate sensitive information" in html
    assert "needs action before the child goes home today" in html


def test_every_control_has_a_label_and_every_reference_resolves(client, make_user, sign_in):
    sign_in(make_user(Role.STAFF))
    parts = parse(main_content(client.get("/incidents/new").get_data(as_text=True)))
    assert parts.controls, "the form has controls"
    for control in parts.controls:
        labelled = (
            control.get("id") in parts.label_for
            or control.get("id") in parts.wrapped
            or control.get("aria-labelledby")
            or control.get("aria-label")
        )
        assert labelled, f"control without a label: {control}"
    assert parts.label_for <= set(parts.ids), "a label points at a control that is not there"
    assert len(parts.ids) == len(set(parts.ids)), "ids are unique"
    assert set(parts.described_by) <= set(parts.ids), "aria-describedby names a missing element"


def test_the_page_obeys_the_content_security_policy(client, make_user, sign_in):
    sign_in(make_user(Role.STAFF))
    response = client.get("/incidents/new")
    nonce = re.search(r"'nonce-([^']+)'", response.headers["Content-Security-Policy"]).group(1)
    parts = parse(response.get_data(as_text=True))
    assert parts.inline_handlers == []
    assert parts.style_attributes == 0
    module = [s for s in parts.scripts if s.get("src", "").endswith("/js/incident-form.js")]
    assert module and module[0]["type"] == "module" and module[0]["nonce"] == nonce
    # Every script that runs comes from a file and carries the nonce; the form's data is a data
    # block (application/json), which the browser never runs.
    code = [s for s in parts.scripts if s.get("type") != "application/json"]
    assert all(script.get("nonce") == nonce and script.get("src") for script in code)


def test_the_way_in_is_in_the_main_nav_and_on_the_home_page(client, make_user, sign_in):
    sign_in(make_user(Role.STAFF))
    home = client.get("/").get_data(as_text=True)
    nav = re.search(r'<nav class="main-nav".*?</nav>', home, re.S).group(0)
    assert 'href="/incidents/new">Add incident</a>' in nav
    assert re.search(r'<a class="card[^"]*" href="/incidents/new"><h2>Add incident</h2>', home)


def test_admin_has_no_way_in(client, make_user, sign_in):
    sign_in(make_user(Role.ADMIN))
    assert "/incidents/new" not in client.get("/").get_data(as_text=True)


def test_the_page_script_and_styles_are_served(client):
    for asset in (
        "/static/js/incident-form.js",
        "/static/js/submit-queue.js",
        "/static/js/pupil-picker.js",
        "/static/js/body-map.js",
        "/static/css/incident-form.css",
    ):
        assert client.get(asset).status_code == 200, asset
