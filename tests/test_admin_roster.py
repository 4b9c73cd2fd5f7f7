"""The admin pages for the school roll: classes, pupils and the roster import, through HTTP."""

import io
import json

import pytest
from sqlalchemy import func, select

from server.approvals.operations import pending_requests
from server.audit.models import AuditEvent
from server.auth.models import User
from server.auth.roles import Role
from server.extensions import db
from server.pupils.models import Pupil, SchoolClass
from server.pupils.operations import RosterError, set_class_teachers
from server.pupils.staff_import import import_staff
from server.pupils.upn import make_upn

HEADER = "UPN,Legal Forename,Legal Surname,Preferred Forename,DOB,Year,Reg Group"


def upn(serial: int) -> str:
    return make_upn(f"80120003{serial:04d}")


def roll(*lines: str, header: str = HEADER) -> bytes:
    return ("\n".join([header, *lines]) + "\n").encode()


def line(serial: int, first="Ada", last="Quinn", form="3 Maple", born="14/03/2018", year="3"):
    return f"{upn(serial)},{first},{last},,{born},{year},{form}"


@pytest.fixture
def admin(client, make_user, sign_in, step_up):
    user = make_user(Role.ADMIN, full_name="Office Admin")
    sign_in(user)
    step_up()
    return user


def upload(client, data: bytes, *, kind="pupils", name="roll.csv", **options):
    form = {"kind": kind, "file": (io.BytesIO(data), name), **options}
    return client.post("/admin/roster/import", data=form, content_type="multipart/form-data")


def in_app(app, query):
    with app.app_context():
        return query()


def pupil_count(app) -> int:
    return in_app(app, lambda: db.session.scalar(select(func.count(Pupil.id))))


def test_admin_imports_a_good_file_and_sees_the_report(app, client, admin):
    response = upload(client, roll(line(1), line(2, first="Bea")), mark_leavers="y")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Imported" in page and "2 pupil rows: 2 created" in page
    assert pupil_count(app) == 2
    events = in_app(
        app,
        lambda: db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "roster.pupils_imported")
        ).all(),
    )
    assert len(events) == 1 and events[0].actor_label == admin.email


def test_bad_rows_are_listed_with_row_number_and_reason(app, client, admin):
    data = roll(line(1), "A801200001001,Bea,Quinn,,14/03/2018,3,3 Maple", line(3, born="1/13/2018"))
    response = upload(client, data)
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Refused rows" in page
    assert "<td>3</td><td>A801200001001</td><td>The check letter" in page
    assert "<td>4</td>" in page and "is not a real date" in page
    assert pupil_count(app) == 1


def test_leavers_withheld_message_shows_when_rows_are_refused(app, client, admin):
    upload(client, roll(line(1), line(2, first="Bea")), mark_leavers="y")
    response = upload(client, roll(line(1), line(3, born="nonsense")), mark_leavers="y")
    page = response.get_data(as_text=True)
    assert "nobody has been marked as left" in page
    assert in_app(app, lambda: db.session.scalar(select(Pupil).where(Pupil.upn == upn(2))).on_roll)


def test_check_only_saves_nothing(app, client, admin):
    response = upload(client, roll(line(1)), dry_run="y", mark_leavers="y")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Check only — nothing was saved" in page and "1 would be created" in page
    assert pupil_count(app) == 0


def test_leavers_are_marked_only_when_the_box_is_ticked(app, client, admin):
    upload(client, roll(line(1), line(2, first="Bea")), mark_leavers="y")
    upload(client, roll(line(1)))  # box left unticked
    assert in_app(app, lambda: db.session.scalar(select(Pupil).where(Pupil.upn == upn(2))).on_roll)
    page = upload(client, roll(line(1)), mark_leavers="y").get_data(as_text=True)
    assert "1 marked as left" in page
    pupil = in_app(app, lambda: db.session.scalar(select(Pupil).where(Pupil.upn == upn(2))))
    assert pupil.on_roll is False


def on_roll(app) -> int:
    query = select(func.count(Pupil.id)).where(Pupil.on_roll)
    return in_app(app, lambda: db.session.scalar(query))


def whole_roll(size: int) -> bytes:
    return roll(*(line(n, first=f"Pupil{n}") for n in range(1, size + 1)))


CONFIRM_BOX = 'name="confirm_leavers" value="18"'


@pytest.mark.parametrize("check_only", [True, False], ids=["check", "import"])
def test_a_partial_file_asks_for_confirmation_before_marking_leavers(
    app, client, admin, check_only
):
    upload(client, whole_roll(20), mark_leavers="y")
    options = {"dry_run": "y"} if check_only else {}
    response = upload(client, whole_roll(2), mark_leavers="y", **options)
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "This file would mark 18 of 20 pupils as left" in page
    assert "untick ‘mark pupils not in this file as left’" in page
    assert CONFIRM_BOX in page and "Not marked as left until confirmed" in page
    assert on_roll(app) == 20


def test_confirming_the_count_marks_the_leavers(app, client, admin):
    upload(client, whole_roll(20), mark_leavers="y")
    page = upload(client, whole_roll(2), mark_leavers="y", confirm_leavers="17").get_data(
        as_text=True
    )
    assert "confirmation given was for 17 pupils, not 18" in page and CONFIRM_BOX in page
    assert on_roll(app) == 20
    response = upload(client, whole_roll(2), mark_leavers="y", confirm_leavers="18")
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and "18 marked as left" in page
    assert CONFIRM_BOX not in page and on_roll(app) == 2
    events = in_app(
        app,
        lambda: db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "roster.pupils_imported")
        ).all(),
    )
    assert json.loads(events[-1].details)["leavers_confirmed"] == 18


def test_a_confirmation_that_is_not_a_number_is_refused(app, client, admin):
    response = upload(client, whole_roll(2), mark_leavers="y", confirm_leavers="all")
    assert response.status_code == 422
    assert "Enter a number of pupils." in response.get_data(as_text=True)
    assert pupil_count(app) == 0


@pytest.mark.parametrize(
    ("data", "name", "message"),
    [
        (b"UPN,Forename,DOB\nx,y,z\n", "roll.csv", "missing required columns"),
        (b"PK\x03\x04workbook", "roll.csv", "Excel workbook"),
        (b"", "roll.csv", "empty"),
        (roll(line(1)), "roll.pdf", "Upload a .csv file"),
    ],
    ids=["missing-columns", "xlsx", "empty", "wrong-extension"],
)
def test_bad_files_get_a_4xx_with_a_clear_message(app, client, admin, data, name, message):
    response = upload(client, data, name=name)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert pupil_count(app) == 0


def test_no_file_chosen(client, admin):
    response = client.post(
        "/admin/roster/import", data={"kind": "pupils"}, content_type="multipart/form-data"
    )
    assert response.status_code == 422
    assert "Choose a CSV file to upload." in response.get_data(as_text=True)


def test_admin_imports_staff(app, client, admin, make_user, sign_in, step_up):
    data = roll(
        "cara.diaz@school.example,Cara,Diaz,Class teacher,3 Maple",
        header="Email,First Name,Last Name,Roles,Classes",
    )
    upload(client, roll(line(1)))
    page = upload(client, data, kind="staff").get_data(as_text=True)
    # A new teacher reads incidents: the office's import asks a DSL, who approves it.
    assert "1 staff rows: 0 created, 0 updated, 0 unchanged, 1 sent to a DSL to approve" in page
    assert "Active staff not in the file (not disabled)" in page  # the admin themself
    assert in_app(app, lambda: db.session.scalar(select(func.count(User.id)))) == 1
    dsl_device = app.test_client()
    sign_in(make_user(Role.DSL), test_client=dsl_device)
    step_up(dsl_device)
    request_id = in_app(app, lambda: pending_requests()[0].id)
    assert dsl_device.post(f"/approvals/{request_id}/approve").status_code == 303
    teachers = in_app(
        app,
        lambda: [
            t.email
            for t in db.session.scalar(
                select(SchoolClass).where(SchoolClass.name == "3 Maple")
            ).teachers
        ],
    )
    assert teachers == ["cara.diaz@school.example"]


@pytest.mark.parametrize("role", [r for r in Role if r != Role.ADMIN], ids=lambda r: r.value)
def test_only_admins_may_import(app, client, make_user, sign_in, step_up, role):
    sign_in(make_user(role))
    step_up()
    assert upload(client, roll(line(1))).status_code == 403
    assert pupil_count(app) == 0


def test_classes_page_shows_year_groups_teachers_and_counts(app, client, admin, make_user):
    teacher = make_user(Role.CLASS_TEACHER, full_name="Nadia Farouk")
    upload(client, roll(line(1), line(2, form="3 Rowan"), line(3, form="R Oak", year="R",
                                                             born="01/10/2021")))  # fmt: skip
    staff = roll(f"{teacher.email},Nadia,Farouk,Class teacher,3 Maple",
                 header="Email,First Name,Last Name,Roles,Classes")  # fmt: skip
    # At the command line, as the school's operator (the office's import would ask a DSL).
    in_app(app, lambda: (import_staff(io.BytesIO(staff)), db.session.commit()))
    page = client.get("/admin/classes").get_data(as_text=True)
    assert page.index("Reception") < page.index("Year 3")
    assert "3 Maple" in page and "Nadia Farouk" in page and "No class teacher" in page


def test_admin_assigns_class_teachers(app, client, admin, make_user, sign_in, step_up):
    upload(client, roll(line(1)))
    first = make_user(Role.CLASS_TEACHER, full_name="Owen Pryce")
    second = make_user(Role.CLASS_TEACHER, full_name="Mei Tan")
    not_a_teacher = make_user(Role.STAFF, full_name="Sam Ford")
    class_id = in_app(app, lambda: db.session.scalar(select(SchoolClass.id)))
    page = client.get(f"/admin/classes/{class_id}").get_data(as_text=True)
    assert "Owen Pryce" in page and "Mei Tan" in page and "Sam Ford" not in page
    assert "Quinn" in page and upn(1) in page

    response = client.post(f"/admin/classes/{class_id}", data={"teachers": [first.id, second.id]})
    assert response.status_code == 302
    # A class teacher reads their class's records: a DSL approves before anything changes.
    assert in_app(app, lambda: db.session.get(SchoolClass, class_id).teachers) == []
    dsl_device = app.test_client()
    sign_in(make_user(Role.DSL), test_client=dsl_device)
    step_up(dsl_device)
    request_id = in_app(app, lambda: pending_requests()[0].id)
    assert dsl_device.post(f"/approvals/{request_id}/approve").status_code == 303
    event = in_app(
        app,
        lambda: db.session.scalar(
            select(AuditEvent).where(AuditEvent.action == "class.teachers_changed")
        ),
    )
    assert json.loads(event.details)["added"] == sorted([first.email, second.email])

    refused = client.post(f"/admin/classes/{class_id}", data={"teachers": [not_a_teacher.id]})
    assert refused.status_code == 422
    assert "not active staff with the Class teacher role" in refused.get_data(as_text=True)
    names = in_app(
        app,
        lambda: sorted(t.full_name for t in db.session.get(SchoolClass, class_id).teachers),
    )
    assert names == ["Mei Tan", "Owen Pryce"]


def test_unknown_class_is_404(client, admin):
    assert client.get("/admin/classes/999999").status_code == 404


def test_pupil_search_filters_and_pages(client, admin):
    lines = [line(n, first=f"Kid{n:03d}", last="Abbot") for n in range(1, 56)]
    lines.append(line(60, first="Zainab", last="Yilmaz", form="4 Willow", year="4"))
    upload(client, roll(*lines))
    page = client.get("/admin/pupils").get_data(as_text=True)
    assert "56 pupils, page 1 of 2" in page and "Kid050" in page and "Kid051" not in page
    second = client.get("/admin/pupils?page=2").get_data(as_text=True)
    assert "Kid051" in second and "Yilmaz" in second

    assert "1 pupil." in client.get("/admin/pupils?q=zainab+yil").get_data(as_text=True)
    by_upn = client.get(f"/admin/pupils?q={upn(7).lower()}").get_data(as_text=True)
    assert "1 pupil." in by_upn and "Kid007" in by_upn
    assert "0 pupils." in client.get("/admin/pupils?q=100%25").get_data(as_text=True)


def test_pupil_search_by_class_and_status(app, client, admin):
    upload(client, roll(line(1, first="Stays"), line(2, first="Goes", form="4 Willow", year="4")))
    upload(client, roll(line(1, first="Stays")), mark_leavers="y")
    willow = in_app(
        app, lambda: db.session.scalar(select(SchoolClass.id).where(SchoolClass.name == "4 Willow"))
    )
    on_roll = client.get(f"/admin/pupils?class_id={willow}").get_data(as_text=True)
    assert "0 pupils." in on_roll
    left = client.get(f"/admin/pupils?class_id={willow}&status=left").get_data(as_text=True)
    assert "Goes" in left and "Left " in left
    everyone = client.get("/admin/pupils?status=all").get_data(as_text=True)
    assert "2 pupils." in everyone


def test_pupil_search_with_bad_filters_is_a_4xx(client, admin):
    assert client.get("/admin/pupils?status=deleted").status_code == 422
    assert client.get("/admin/pupils?class_id=abc").status_code == 422


def test_admin_index_links_to_the_roster(client, admin):
    page = client.get("/admin/").get_data(as_text=True)
    for path in ("/admin/classes", "/admin/pupils", "/admin/roster/import"):
        assert f'href="{path}"' in page


def test_nobody_makes_themselves_a_class_teacher(app_context, make_user):
    """A class's teacher is alerted to its incidents: not a choice to make for oneself."""
    both = db.session.get(User, make_user(Role.ADMIN, Role.CLASS_TEACHER).id)
    school_class = SchoolClass(name="3 Rowan", year_group="3")
    db.session.add(school_class)
    db.session.flush()
    with pytest.raises(RosterError) as refused:
        set_class_teachers(school_class, [str(both.id)], by=both)
    assert refused.value.status == 403 and "yourself" in refused.value.message
    assert school_class.teachers == []
