"""Who may open which incident (SPEC §1), through every page and endpoint that shows one."""

import pytest

from server.auth.models import User
from server.auth.roles import Role
from server.extensions import db
from server.incidents.files import Upload
from server.incidents.models import Incident
from server.incidents.operations import correct_incident, incident_by_number
from server.incidents.policy import can_view
from server.pupils.models import SchoolClass

PDF = b"%PDF-1.4\n%%EOF\n"


def status_for(client, sign_in, user, number, *, stepped_up=False, step_up=None) -> int:
    client.post("/auth/sign-out")
    sign_in(user)
    if stepped_up:
        step_up()
    return client.get(f"/incidents/{number}").status_code


# (who, stepped up?, expected status) for an ordinary incident about Ada (class 4B),
# recorded by a member of staff. Default rules alert dsl, slt, pastoral and Ada's class
# teacher; late_dsl became a dsl after it was recorded, so was not alerted.
ORDINARY = [
    ("staff", False, 200),  # the author
    ("teacher", False, 200),  # Ada's class teacher, alerted
    ("slt", False, 200),  # alerted
    ("pastoral", False, 200),  # alerted
    ("other_teacher", False, 403),  # another class, not alerted
    ("other_teacher", True, 403),  # review covers only their own class
    ("dsl", False, 200),  # alerted
    ("late_dsl", False, 403),  # not alerted; review needs a step-up
    ("late_dsl", True, 200),
    ("bystander", False, 403),  # other staff
    ("admin", False, 403),  # the office never reads content
]


@pytest.mark.parametrize("who, stepped_up, expected", ORDINARY)
def test_who_may_open_an_ordinary_incident(
    client, sign_in, step_up, school, make_user, record_incident, who, stepped_up, expected
):
    school.bystander = make_user(Role.STAFF, full_name="By Stander")
    number = record_incident(school.staff, school.ada, files=[Upload("note.pdf", PDF)])
    school.late_dsl = make_user(Role.DSL, full_name="Dee Later")
    user = getattr(school, who)
    assert status_for(client, sign_in, user, number, stepped_up=stepped_up, step_up=step_up) == (
        expected
    )
    file_status = client.get(f"/incidents/{number}/files/{_file_id(client.application, number)}")
    assert file_status.status_code == expected


def _file_id(app, number) -> int:
    with app.test_request_context():
        return incident_by_number(number).files[0].id


# A Safeguarding incident about Ada, recorded by the dsl.
SENSITIVE = [
    ("dsl", False, 200),
    ("slt", False, 200),
    ("pastoral", False, 200),
    ("teacher", False, 403),  # Ada's own class teacher: never for Safeguarding
    ("teacher", True, 403),
    ("staff", False, 403),
    ("admin", False, 403),
]


@pytest.mark.parametrize("who, stepped_up, expected", SENSITIVE)
def test_who_may_open_a_sensitive_incident(
    client, sign_in, step_up, school, record_incident, who, stepped_up, expected
):
    number = record_incident(school.dsl, school.ada, categories=["Safeguarding – Neglect"])
    user = getattr(school, who)
    assert status_for(client, sign_in, user, number, stepped_up=stepped_up, step_up=step_up) == (
        expected
    )


def test_a_reviewer_is_offered_the_step_up_instead_of_a_bare_refusal(
    client, sign_in, school, make_user, record_incident
):
    number = record_incident(school.staff, school.ada)
    sign_in(make_user(Role.DSL, full_name="Dee Later"))  # a dsl since: not alerted
    page = client.get(f"/incidents/{number}")
    assert page.status_code == 403
    assert f"/passkeys/step-up?next=/incidents/{number}" in page.get_data(as_text=True)
    api = client.get(f"/incidents/{number}", headers={"Accept": "application/json"})
    assert api.status_code == 403
    assert api.get_json()["error"] == "step_up_required"


def test_no_step_up_is_offered_where_it_would_not_help(client, sign_in, school, record_incident):
    number = record_incident(school.staff, school.ada)
    sign_in(school.other_teacher)
    page = client.get(f"/incidents/{number}").get_data(as_text=True)
    assert "step-up" not in page and "You do not have permission to see this." in page


def test_class_teacher_reviews_own_class_only_with_a_step_up(
    app, client, sign_in, step_up, school, make_user, record_incident
):
    number = record_incident(school.staff, school.ben)
    newcomer = make_user(Role.CLASS_TEACHER, full_name="New Teacher")
    with app.app_context():
        school_class = db.session.get(SchoolClass, school.class_5c)
        school_class.teachers.append(db.session.get(User, newcomer.id))
        db.session.commit()
    assert status_for(client, sign_in, newcomer, number) == 403
    assert status_for(client, sign_in, newcomer, number, stepped_up=True, step_up=step_up) == 200


def test_reading_does_not_take_access_away(client, sign_in, school, record_incident):
    number = record_incident(school.staff, school.ada)
    sign_in(school.teacher)
    assert client.post(f"/alerts/incident/{number}/read").status_code in (200, 302)
    assert client.get(f"/incidents/{number}").status_code == 200


def test_extra_recipient_may_open_it(client, sign_in, school, record_incident):
    number = record_incident(
        school.staff, school.ada, extra_recipient_ids=[school.other_teacher.id]
    )
    assert status_for(client, sign_in, school.other_teacher, number) == 200


def test_recategorised_as_safeguarding_closes_it_to_the_class_teacher_and_the_author(
    app, client, sign_in, step_up, school, record_incident
):
    number = record_incident(
        school.staff, school.ada, categories=["Cause for concern – Safeguarding disclosure"]
    )
    assert status_for(client, sign_in, school.teacher, number) == 200
    client.post("/auth/sign-out")
    sign_in(school.dsl)
    step_up()
    response = client.post(
        f"/incidents/{number}/corrections",
        data={
            "kind": "recategorised",
            "reason": "Disclosure of neglect confirmed.",
            "category_ids": [str(school.vocabulary["Safeguarding – Neglect"])],
        },
    )
    assert response.status_code == 302
    assert status_for(client, sign_in, school.teacher, number) == 403
    # Safeguarding is for dsl, slt and pastoral only: not even the author reads what follows.
    assert status_for(client, sign_in, school.staff, number) == 403
    assert status_for(client, sign_in, school.dsl, number) == 200


def test_nor_can_someone_who_cannot_see_it_add_an_action(client, sign_in, school, record_incident):
    number = record_incident(school.staff, school.ada)
    sign_in(school.other_teacher)
    response = client.post(f"/incidents/{number}/actions", data={"text": "Spoke to Ada."})
    assert response.status_code == 403


def test_can_view_without_a_request_session(app, school, record_incident):
    number = record_incident(school.staff, school.ada)
    with app.test_request_context():
        incident = incident_by_number(number)
        assert can_view(db.session.get(User, school.teacher.id), incident, None)
        assert not can_view(db.session.get(User, school.other_teacher.id), incident, None)
        assert not can_view(db.session.get(User, school.admin.id), incident, None)


def test_dsl_and_admin_roles_together_still_read_as_dsl(app, make_user, school, record_incident):
    both = make_user(Role.DSL, Role.ADMIN, full_name="Both Hats")
    number = record_incident(both, school.ada)
    with app.test_request_context():
        assert can_view(db.session.get(User, both.id), incident_by_number(number), None)


def test_correct_incident_refuses_without_permission(app, school, record_incident):
    from server.incidents.errors import IncidentRefused

    number = record_incident(school.staff, school.ada)
    with app.test_request_context():
        incident = db.session.get(Incident, incident_by_number(number).id)
        with pytest.raises(IncidentRefused) as refused:
            correct_incident(db.session.get(User, school.slt.id), incident, "entered_in_error", "x")
        assert refused.value.status == 403


def test_download_goes_through_the_same_check_for_an_unknown_file(
    client, sign_in, school, record_incident
):
    number = record_incident(school.staff, school.ada)
    sign_in(school.staff)
    assert client.get(f"/incidents/{number}/files/999999").status_code == 404


@pytest.mark.parametrize("who", ["other_teacher", "late_dsl", "admin"])
def test_an_outsider_gets_403_for_a_file_whether_it_exists_or_not(
    client, sign_in, school, make_user, record_incident, who
):
    """403 for every file id: a 404 for some would tell an outsider which attachments exist."""
    number = record_incident(school.staff, school.ada, files=[Upload("note.pdf", PDF)])
    school.late_dsl = make_user(Role.DSL, full_name="Dee Later")  # not alerted
    other = record_incident(school.staff, school.ben, files=[Upload("other.pdf", PDF)])
    real = _file_id(client.application, number)
    elsewhere = _file_id(client.application, other)
    sign_in(getattr(school, who))
    statuses = {
        file_id: client.get(f"/incidents/{number}/files/{file_id}").status_code
        for file_id in (real, elsewhere, 999999)
    }
    assert statuses == dict.fromkeys(statuses, 403)
    # Ids no row can have are not routes at all (404 for everyone), which reveals nothing.
    for impossible in (2**31, int("9" * 30)):
        assert client.get(f"/incidents/{number}/files/{impossible}").status_code == 404
