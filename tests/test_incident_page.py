"""The incident page's rules (issue 12): status changes offered only where they apply,
corrections offering only real categories, "Alerted, not yet read" only for those who may
still read it, and file sizes as people read them. Each rule at its domain function, then
through the page."""

import re

import flask
import pytest
import sqlalchemy as sa

from server.alerts.operations import not_yet_read
from server.auth.models import User, UserSession
from server.clock import utcnow
from server.extensions import db
from server.incidents.errors import IncidentRefused
from server.incidents.files import Upload
from server.incidents.models import STATUS_KINDS, Category, IncidentEvent
from server.incidents.operations import (
    change_status,
    correct_incident,
    incident_by_number,
    status_changes,
)
from server.incidents.vocabulary import choosable_categories
from server.templating import format_file_size

NEGLECT = "Safeguarding – Neglect"
HEADINGS = ["Safeguarding", "Cause for concern"]


def _stepped_up() -> UserSession:
    now = utcnow()
    return UserSession(stepped_up_at=now, last_assertion_at=now, review_active_at=now)


def _events(app) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count(IncidentEvent.id)))


# --- Status changes offered only where they apply --------------------------------------------

# How to bring an incident to each status, and the changes that apply there.
REACH = {
    "open": [],
    "monitoring": ["monitoring"],
    "closed": ["closed"],
    "no_further_action": ["no_further_action"],
}
OFFERED = {
    "open": ["closed", "no_further_action", "monitoring"],
    "monitoring": ["closed", "no_further_action", "monitoring_ended"],
    "closed": ["reopened"],
    "no_further_action": ["reopened"],
}


@pytest.mark.parametrize("status", OFFERED)
@pytest.mark.parametrize("kind", STATUS_KINDS)
def test_a_status_change_is_accepted_exactly_where_it_is_offered(
    app, school, record_incident, status, kind
):
    number = record_incident(school.staff, school.ada)
    with app.test_request_context():
        slt = db.session.get(User, school.slt.id)
        incident = incident_by_number(number)
        for step in REACH[status]:
            change_status(slt, incident, step, "Getting there.")
        assert incident.status == status
        assert status_changes(incident) == OFFERED[status]
        if kind in OFFERED[status]:
            change_status(slt, incident, kind, "Because.")
        else:
            with pytest.raises(IncidentRefused) as refused:
                change_status(slt, incident, kind, "Because.")
            assert refused.value.status == 422 and "kind" in refused.value.fields


def _offered_on_page(page: str) -> list[str]:
    form = page.split('id="change-status"')[1].split("</form>")[0]
    return re.findall(r'name="kind"[^>]*value="([^"]+)"', form)


def test_the_page_never_offers_reopen_on_an_open_incident(client, sign_in, school, record_incident):
    number = record_incident(school.staff, school.ada)
    sign_in(school.dsl)
    page = client.get(f"/incidents/{number}").get_data(as_text=True)
    assert _offered_on_page(page) == OFFERED["open"]
    assert "Reopen" not in page.split('id="change-status"')[1].split("</form>")[0]
    response = client.post(f"/incidents/{number}/status", data={"kind": "reopened", "note": "x"})
    assert response.status_code == 422 and "already open" in response.get_data(as_text=True)


# --- Corrections offer only real categories --------------------------------------------------


def test_choosable_categories_leave_out_family_headings(app, vocabulary):
    with app.test_request_context():
        names = [c.full_name for c in choosable_categories()]
    assert not set(HEADINGS) & set(names)
    assert NEGLECT in names and "Behaviour" in names and "Cause for concern – General" in names
    # In the form's order: families as the school placed them, kinds within each.
    assert (
        names.index("Attendance")
        < names.index("Cause for concern – General")
        < names.index("Cause for concern – Safeguarding disclosure")
        < names.index("Safeguarding – Child protection")
        < names.index(NEGLECT)
    )


def test_a_family_without_kinds_in_use_is_itself_a_category(app, vocabulary):
    with app.test_request_context():
        for child in db.session.scalars(
            sa.select(Category).where(Category.parent_id == vocabulary["Cause for concern"])
        ):
            child.active = False
        db.session.flush()
        names = [c.full_name for c in choosable_categories()]
        db.session.rollback()
    assert "Cause for concern" in names and "Cause for concern – General" not in names


@pytest.mark.parametrize("heading", HEADINGS)
def test_correct_incident_refuses_a_family_heading(app, school, record_incident, heading):
    number = record_incident(school.staff, school.ada)
    with app.test_request_context():
        flask.g.user_session = _stepped_up()
        dsl = db.session.get(User, school.dsl.id)
        with pytest.raises(IncidentRefused) as refused:
            correct_incident(
                dsl, incident_by_number(number), "recategorised", "Wrong.",
                category_ids=[school.vocabulary[heading]],
            )  # fmt: skip
    assert "group heading" in refused.value.fields["category_ids"]
    assert _events(app) == 0


def _correction_checkboxes(page: str) -> list[str]:
    form = page.split('id="correct"')[1].split("</form>")[0]
    return re.findall(r'<label for="category_ids-\d+">([^<]+)</label>', form)


def test_the_correction_form_offers_only_real_categories(
    app, client, sign_in, step_up, school, record_incident
):
    number = record_incident(school.staff, school.ada)
    sign_in(school.dsl)
    step_up()
    page = client.get(f"/incidents/{number}").get_data(as_text=True)
    offered = _correction_checkboxes(page)
    assert NEGLECT in offered and "Behaviour" in offered
    assert not set(HEADINGS) & set(offered)
    response = client.post(
        f"/incidents/{number}/corrections",
        data={
            "kind": "recategorised",
            "reason": "x",
            "category_ids": [str(school.vocabulary["Safeguarding"])],
        },
    )
    assert response.status_code == 422
    assert "is a group heading" in response.get_data(as_text=True)
    assert _events(app) == 0


def test_a_correction_is_confirmed_beside_its_form(
    client, sign_in, step_up, school, record_incident
):
    number = record_incident(school.staff, school.ada)
    sign_in(school.dsl)
    step_up()
    response = client.post(
        f"/incidents/{number}/corrections",
        data={"kind": "recategorised", "reason": "Neglect.", "category_ids": [
            str(school.vocabulary[NEGLECT])]},
    )  # fmt: skip
    assert response.headers["Location"].endswith("#correction-done")
    page = client.get(f"/incidents/{number}").get_data(as_text=True)
    history = page[page.index('id="history"') :]
    assert 'id="correction-done"' in history and "Correction recorded." in history
    assert page.count("Correction recorded.") == 1


# --- "Alerted, not yet read": only those who may still read it -------------------------------

# Alerted to a Behaviour incident about Ada (4B), then a DSL re-categorises it as Neglect:
# who is still waiting to read it, by role. A class teacher may not see Safeguarding.
STILL_WAITING = {
    "teacher": False,
    "pastoral": True,
    "slt": True,
    "dsl": True,
}


def _recategorise_as_neglect(app, school, number) -> None:
    with app.test_request_context():
        flask.g.user_session = _stepped_up()
        dsl = db.session.get(User, school.dsl.id)
        correct_incident(
            dsl, incident_by_number(number), "recategorised", "It is neglect.",
            category_ids=[school.vocabulary[NEGLECT]],
        )  # fmt: skip
        db.session.commit()


def _waiting(app, number) -> list[str]:
    with app.test_request_context():
        return [p["user"].full_name for p in not_yet_read(incident_by_number(number))]


@pytest.mark.parametrize("role, waiting", STILL_WAITING.items())
def test_not_yet_read_leaves_out_who_lost_access_on_recategorisation(
    app, school, record_incident, role, waiting
):
    number = record_incident(school.staff, school.ada)
    name = getattr(school, role).full_name
    assert name in _waiting(app, number)
    _recategorise_as_neglect(app, school, number)
    assert (name in _waiting(app, number)) is waiting


def test_not_yet_read_leaves_out_a_closed_account(app, school, record_incident):
    number = record_incident(school.staff, school.ada)
    with app.test_request_context():
        db.session.get(User, school.pastoral.id).active = False
        db.session.commit()
    assert "Pat Pastoral" not in _waiting(app, number)
    assert "Sam Leader" in _waiting(app, number)


def test_the_page_lists_as_waiting_only_those_who_may_still_read_it(
    app, client, sign_in, school, record_incident
):
    number = record_incident(school.staff, school.ada)
    _recategorise_as_neglect(app, school, number)
    sign_in(school.slt)
    client.post(f"/alerts/incident/{number}/read")
    client.post("/auth/sign-out")
    sign_in(school.dsl)
    page = client.get(f"/incidents/{number}").get_data(as_text=True)
    waiting = page.split("Alerted, not yet read")[1].split("</ul>")[0]
    assert "Pat Pastoral" in waiting and "Carl Teacher" not in waiting
    assert "Sam Leader" not in waiting  # read it
    assert "Carl Teacher" not in page[page.index('id="readers"') :]


# --- File sizes ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "size, shown",
    [
        (1, "1 byte"),
        (48, "48 bytes"),
        (1023, "1,023 bytes"),
        (1024, "1 KB"),
        (1536, "1.5 KB"),
        (120 * 1024, "120 KB"),
        (1024 * 1024 - 10, "1 MB"),
        (20 * 1024 * 1024, "20 MB"),
        (int(2.25 * 1024 * 1024), "2.3 MB"),
    ],
)
def test_file_sizes_read_as_people_say_them(size, shown):
    assert format_file_size(size) == shown


def test_the_page_shows_a_small_file_in_bytes(client, sign_in, school, record_incident):
    note = Upload("note.txt", b"Mum rang at 9.10 to say Ada would be late today.")
    assert len(note.data) == 48
    number = record_incident(school.staff, school.ada, files=[note])
    sign_in(school.staff)
    page = client.get(f"/incidents/{number}").get_data(as_text=True)
    files = page[page.index('id="files-heading"') :]
    assert "48 bytes" in files and "1 KB" not in files


# --- Two columns: the record, then the work on it ---------------------------------------------


def test_the_record_comes_first_and_the_work_on_it_beside_it(
    client, sign_in, school, record_incident
):
    number = record_incident(school.staff, school.ada)
    sign_in(school.dsl)
    page = client.get(f"/incidents/{number}").get_data(as_text=True)
    record = page[page.index('class="incident-record"') : page.index('class="incident-work"')]
    work = page[page.index('class="incident-work"') :]
    assert 'id="account-heading"' in record and "incident-facts" in record
    for part in ('id="actions"', 'id="history"', 'id="readers"', "Mark as read"):
        assert part in work and part not in record
