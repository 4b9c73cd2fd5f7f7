"""Importing the school roll from an MIS export: the domain functions and `flask roster`."""

import hashlib
import json
from datetime import UTC, date, datetime

import pytest
import time_machine
from sqlalchemy import func, select

from server.approvals.operations import pending_requests
from server.audit.models import AuditEvent
from server.auth.models import User
from server.auth.roles import Role
from server.config import PROJECT_ROOT
from server.extensions import db
from server.pupils.import_report import RosterFileError, RowProblem
from server.pupils.leavers import leavers_need_confirmation
from server.pupils.models import Pupil, SchoolClass
from server.pupils.pupil_import import import_pupils
from server.pupils.pupil_rows import parse_date
from server.pupils.staff_import import import_staff
from server.pupils.upn import check_letter, is_temporary_upn, make_upn, upn_problem
from server.pupils.years import parse_year_group

# Worked by hand: 8×2 + 0×3 + 1×4 + 2×5 + 0×6 + 0×7 + 0×8 + 0×9 + 1×10 + 0×11 + 0×12 + 1×13 = 53,
# 53 mod 23 = 7, and the letter at 7 in ABCDEFGHJKLMNPQRTUVWXYZ is H.
VALID_UPN = "H801200001001"
# The final A counts as 0: 16 + 4 + 10 + 10 = 40, 40 mod 23 = 17, which is U.
TEMPORARY_UPN = "U80120000100A"
HEADER = "UPN,Legal Forename,Legal Surname,Preferred Forename,DOB,Year,Reg Group"


def upn(serial: int) -> str:
    return make_upn(f"80120002{serial:04d}")


def csv_text(*rows: str, header: str = HEADER) -> str:
    return "\n".join([header, *rows]) + "\n"


def pupil_line(serial: int, first="Ada", last="Quinn", year="3", form="3 Maple", born="14/03/2018"):
    return f"{upn(serial)},{first},{last},,{born},{year},{form}"


@pytest.fixture(autouse=True)
def _autumn_term():
    # 5 October 2026: Year 3 children were born between 1 Sept 2017 and 31 Aug 2018.
    with time_machine.travel(datetime(2026, 10, 5, 9, 0, tzinfo=UTC), tick=False):
        yield


def pupil(upn_value: str) -> Pupil | None:
    return db.session.scalar(select(Pupil).where(Pupil.upn == upn_value))


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def audit_rows(action: str) -> list[AuditEvent]:
    return db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)).all()


# UPNs, year groups and dates -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (VALID_UPN, None),
        ("h801200001001", None),
        (" H8012 00001001 ", None),
        (TEMPORARY_UPN, None),
        ("A801200001001", "check letter"),
        ("V80120000100A", "check letter"),
        ("H80120000100", "13 characters"),
        ("H8012000010011", "13 characters"),
        ("I801200001001", "not shaped like a UPN"),
        ("H8012000O1001", "not shaped like a UPN"),
        ("H80120000100I", "not shaped like a UPN"),
        ("", "missing"),
    ],
)
def test_upn_validation(value, problem):
    found = upn_problem(value)
    if problem is None:
        assert found is None
    else:
        assert problem in found


def test_check_letter_and_temporary_upns():
    assert check_letter("801200001001") == "H"
    assert check_letter("80120000100A") == "U"
    assert is_temporary_upn(TEMPORARY_UPN)
    assert not is_temporary_upn(VALID_UPN)


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("N", "N"), ("Nursery", "N"), ("R", "R"), ("Reception", "R"), ("YR", "R"),
        ("Year R", "R"), ("1", "1"), ("Y3", "3"), ("Year 3", "3"), ("year 3", "3"),
        ("03", "3"), ("NC Year 6", "6"), ("13", "13"), ("Year 13", "13"),
        ("14", None), ("0", None), ("Year", None), ("Red", None), ("", None),
    ],
)  # fmt: skip
def test_year_groups(text, code):
    assert parse_year_group(text) == code


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("14/03/2018", date(2018, 3, 14)),
        ("4/3/2018", date(2018, 3, 4)),
        ("14-03-2018", date(2018, 3, 14)),
        ("2018-03-14", date(2018, 3, 14)),
        ("2018-03-14 00:00:00", date(2018, 3, 14)),
        ("31/02/2018", "not a real date"),
        ("03/14/2018", "not a real date"),
        ("14 March 2018", "DD/MM/YYYY"),
        ("18-03-14", "DD/MM/YYYY"),
    ],
)
def test_dates(text, expected):
    if isinstance(expected, date):
        assert parse_date(text) == expected
    else:
        with pytest.raises(RowProblem, match=expected):
            parse_date(text)


# Reading files -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "header",
    [
        "UPN,Legal Forename,Legal Surname,Preferred Forename,DOB,Year,Reg Group",
        "upn,First Name,Last Name,Preferred Forename,Date of Birth,Year Group,Registration Group",
        "UPN,Forename,Surname,Preferred forename,Date Of Birth,NC Year,Form",
        "Upn,FORENAME,SURNAME,PREFERRED FORENAME,dob,year,class",
        "UPN, Legal_Forename , Legal-Surname,Preferred Forename,DOB,Year,Class",
    ],
    ids=["sims", "arbor", "bromcom", "capitals", "spacing"],
)
def test_header_aliases(app_context, header):
    text = csv_text(f"{VALID_UPN},Oluwaseun,Adeyemi,Seun,14/03/2018,Year 3,3 Maple", header=header)
    report = import_pupils(text)
    assert report.ok and len(report.created) == 1
    found = pupil(VALID_UPN)
    assert (found.legal_first_name, found.legal_last_name) == ("Oluwaseun", "Adeyemi")
    assert found.preferred_first_name == "Seun" and found.display_name == "Seun Adeyemi"
    assert found.date_of_birth == date(2018, 3, 14)
    assert found.year_group == "3" and found.school_class.name == "3 Maple"
    assert found.school_class.year_group == "3"


@pytest.mark.parametrize(
    "encode",
    [
        lambda text: text.encode("utf-8-sig"),
        lambda text: text.replace(",", ";").encode("utf-8"),
        lambda text: text.replace("\n", "\r\n").encode("cp1252"),
    ],
    ids=["utf8-bom", "semicolons", "windows-excel"],
)
def test_file_encodings_and_separators(app_context, encode):
    data = encode(csv_text(f"{VALID_UPN},Zoë,Ó Briain,,2018-03-14,3,3 Maple"))
    report = import_pupils(data)
    assert report.ok, report.refused
    found = pupil(VALID_UPN)
    assert (found.legal_first_name, found.legal_last_name) == ("Zoë", "Ó Briain")


def test_missing_required_columns_refuse_the_whole_file(app_context):
    text = csv_text(f"{VALID_UPN},Ada,14/03/2018", header="UPN,Forename,DOB")
    with pytest.raises(RosterFileError) as refused:
        import_pupils(text)
    assert "Legal Surname" in refused.value.message
    assert "Year Group" in refused.value.message
    assert refused.value.status == 422
    assert count(Pupil) == 0


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"\n\n", "empty"),
        (HEADER.encode() + b"\n", "no rows"),
        (b"PK\x03\x04\x14\x00\x06\x00rest-of-a-workbook", "Excel workbook"),
        (b"\x00\x01\x02binary", "not a text"),
    ],
    ids=["empty", "blank-lines", "header-only", "xlsx", "binary"],
)
def test_unreadable_files_are_refused(app_context, data, message):
    with pytest.raises(RosterFileError, match=message):
        import_pupils(data)


# Rows ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("A801200001001,Ada,Quinn,,14/03/2018,3,3 Maple", "check letter"),
        (",Ada,Quinn,,14/03/2018,3,3 Maple", "UPN is missing"),
        ("{upn},,Quinn,,14/03/2018,3,3 Maple", "legal forename is missing"),
        ("{upn},Ada,,,14/03/2018,3,3 Maple", "legal surname is missing"),
        ("{upn},Ada,Quinn,,,3,3 Maple", "date of birth is missing"),
        ("{upn},Ada,Quinn,,31/02/2018,3,3 Maple", "not a real date"),
        ("{upn},Ada,Quinn,,March 2018,3,3 Maple", "DD/MM/YYYY"),
        ("{upn},Ada,Quinn,,14/03/2027,3,3 Maple", "in the future"),
        ("{upn},Ada,Quinn,,14/03/1980,3,3 Maple", "makes the pupil 46"),
        ("{upn},Ada,Quinn,,14/03/2018,,3 Maple", "year group is missing"),
        ("{upn},Ada,Quinn,,14/03/2018,Year 14,3 Maple", "not a year group"),
        ("{upn},Ada,Quinn,,14/03/2018,3," + "M" * 41, "class name is longer"),
        ("{upn}," + "A" * 81 + ",Quinn,,14/03/2018,3,3 Maple", "longer than 80"),
    ],
)
def test_bad_rows_are_refused_with_a_reason_and_write_nothing(app_context, line, reason):
    bad_upn = upn(2)
    text = csv_text(pupil_line(1), line.format(upn=bad_upn))
    report = import_pupils(text)
    assert len(report.created) == 1 and pupil(upn(1)) is not None
    [refused] = report.refused
    assert refused.row == 3
    assert reason in refused.reason
    assert pupil(bad_upn) is None
    assert count(SchoolClass) == 1  # the bad row's class was not created either


def test_duplicate_upns_in_one_file_refuse_every_such_row(app_context):
    text = csv_text(pupil_line(1), pupil_line(2, first="Bea"), pupil_line(1, first="Cai"))
    report = import_pupils(text)
    assert [r.row for r in report.refused] == [2, 4]
    assert all("more than one row (2 and 4)" in r.reason for r in report.refused)
    assert pupil(upn(1)) is None and pupil(upn(2)) is not None


def test_reimport_updates_by_upn(app_context):
    first = import_pupils(csv_text(pupil_line(1), pupil_line(2, first="Bea")))
    assert len(first.created) == 2
    original_id = pupil(upn(1)).id
    moved = pupil_line(1, last="Quinn-Okoro", year="4", form="4 Willow")
    report = import_pupils(csv_text(moved, pupil_line(2, first="Bea")))
    assert (len(report.created), len(report.updated), report.unchanged) == (0, 1, 1)
    [change] = report.updated
    assert "legal last name" in change.detail and "class 3 Maple → 4 Willow" in change.detail
    updated = pupil(upn(1))
    assert updated.id == original_id
    assert updated.legal_last_name == "Quinn-Okoro"
    assert updated.year_group == "4" and updated.school_class.name == "4 Willow"
    assert updated.school_class.year_group == "4"


def test_pupils_missing_from_the_file_are_marked_left(app_context):
    import_pupils(csv_text(pupil_line(1), pupil_line(2, first="Bea"), pupil_line(3, first="Cai")))
    report = import_pupils(csv_text(pupil_line(1), pupil_line(3, first="Cai")))
    assert [change.key for change in report.marked_left] == [upn(2)]
    gone = pupil(upn(2))
    assert gone.on_roll is False and gone.left_on == date(2026, 10, 5)
    assert pupil(upn(1)).on_roll and pupil(upn(3)).on_roll


def test_a_leaver_who_returns_is_put_back_on_roll(app_context):
    import_pupils(csv_text(pupil_line(1), pupil_line(2, first="Bea")))
    import_pupils(csv_text(pupil_line(1)))
    assert pupil(upn(2)).on_roll is False
    report = import_pupils(csv_text(pupil_line(1), pupil_line(2, first="Bea")))
    assert "back on roll" in report.updated[0].detail
    returned = pupil(upn(2))
    assert returned.on_roll is True and returned.left_on is None


def test_leavers_are_not_marked_when_any_row_was_refused(app_context):
    import_pupils(csv_text(pupil_line(1), pupil_line(2, first="Bea"), pupil_line(3, first="Cai")))
    # Bea's row is refused (bad date): she may still be in school, so nobody is marked left.
    bad = pupil_line(2, first="Bea", born="31/02/2018")
    report = import_pupils(csv_text(pupil_line(1), bad))
    assert len(report.refused) == 1
    assert report.marked_left == [] and report.leavers_withheld == 1
    assert "nobody has been marked as left" in report.notes[0]
    assert pupil(upn(2)).on_roll and pupil(upn(3)).on_roll


def test_mark_leavers_can_be_turned_off(app_context):
    import_pupils(csv_text(pupil_line(1), pupil_line(2, first="Bea")))
    report = import_pupils(csv_text(pupil_line(1)), mark_leavers=False)
    assert report.marked_left == [] and report.notes == []
    assert pupil(upn(2)).on_roll


def test_dry_run_reports_what_would_happen_and_writes_nothing(app_context):
    import_pupils(csv_text(pupil_line(1), pupil_line(2, first="Bea")))
    before = (count(Pupil), count(SchoolClass), count(AuditEvent))
    text = csv_text(pupil_line(1, last="Renamed"), pupil_line(3, form="New Class"))
    check = import_pupils(text, dry_run=True)
    assert check.dry_run and "would be created" in check.summary()
    assert (len(check.created), len(check.updated), len(check.marked_left)) == (1, 1, 1)
    assert (count(Pupil), count(SchoolClass), count(AuditEvent)) == before
    assert pupil(upn(1)).legal_last_name == "Quinn" and pupil(upn(2)).on_roll
    real = import_pupils(text)
    assert real.counts() == check.counts()


def test_one_audit_event_per_import_with_counts_and_file_hash(app_context):
    data = csv_text(pupil_line(1), pupil_line(2, first="Bea", born="x")).encode()
    import_pupils(data)
    [event] = audit_rows("roster.pupils_imported")
    details = json.loads(event.details)
    assert details["sha256"] == hashlib.sha256(data).hexdigest()
    assert (details["created"], details["refused"], details["rows"]) == (1, 1, 2)


def test_rows_already_parsed_are_accepted(app_context):
    rows = [{"UPN": VALID_UPN, "Forename": "Ada", "Surname": "Quinn", "DOB": "2018-03-14",
             "Year": "3"}]  # fmt: skip
    report = import_pupils(rows)
    assert report.ok and pupil(VALID_UPN).school_class is None


def test_two_thousand_rows_import(app_context):
    lines = [pupil_line(n, first=f"Pupil{n}", form=f"3 Class {n % 8}") for n in range(1, 2001)]
    seen = []
    report = import_pupils(csv_text(*lines), progress=seen.append)
    assert report.ok and len(report.created) == 2000 and len(seen) == 2000
    assert count(Pupil) == 2000 and count(SchoolClass) == 8
    again = import_pupils(csv_text(*lines))
    assert again.unchanged == 2000


# The mass-leaver guard ------------------------------------------------------------------------


def whole_roll(size: int) -> list[str]:
    return [pupil_line(n, first=f"Pupil{n}") for n in range(1, size + 1)]


def on_roll() -> int:
    return db.session.scalar(select(func.count()).select_from(Pupil).where(Pupil.on_roll))


@pytest.mark.parametrize(
    ("leaving", "roll_size", "needed"),
    [
        (5, 5, False),  # never for 5 or fewer, whatever the share
        (6, 60, False),  # exactly a tenth
        (7, 60, True),
        (6, 20, True),
        (42, 420, False),
        (43, 420, True),
        (372, 420, True),
    ],
)
def test_when_leavers_need_confirmation(leaving, roll_size, needed):
    assert leavers_need_confirmation(leaving, roll_size) is needed


@pytest.mark.parametrize(
    ("roll_size", "kept", "marked"),
    [(20, 18, 2), (10, 5, 5), (60, 54, 6)],
    ids=["a-tenth-of-20", "five-of-10", "six-of-60"],
)
def test_ordinary_leavers_are_marked_without_confirmation(app_context, roll_size, kept, marked):
    import_pupils(csv_text(*whole_roll(roll_size)))
    report = import_pupils(csv_text(*whole_roll(kept)))
    assert len(report.marked_left) == marked and not report.needs_leaver_confirmation
    assert on_roll() == kept


def test_a_partial_file_marks_nobody_left_without_confirmation(app_context):
    import_pupils(csv_text(*whole_roll(20)))
    partial = csv_text(pupil_line(1, first="Pupil1", last="Renamed"), pupil_line(2, first="Pupil2"),
                       pupil_line(21, first="Newcomer"))  # fmt: skip
    report = import_pupils(partial)
    assert (len(report.created), len(report.updated), report.unchanged) == (1, 1, 1)
    assert pupil(upn(21)) is not None and pupil(upn(1)).legal_last_name == "Renamed"
    assert report.marked_left == [] and report.leavers_to_confirm == 18
    assert report.roll_size == 20 and report.needs_leaver_confirmation
    assert report.notes == [
        "This file would mark 18 of 20 pupils as left, so nobody has been marked as left. If "
        "this is the whole school roll, confirm; if it is part of the roll, untick ‘mark pupils "
        "not in this file as left’."
    ]
    assert on_roll() == 21
    details = json.loads(audit_rows("roster.pupils_imported")[-1].details)
    assert (details["leavers_to_confirm"], details["leavers_confirmed"]) == (18, None)
    assert (details["marked_left"], details["roll"]) == (0, 20)


def test_confirmation_must_be_for_exactly_the_pupils_this_file_marks(app_context):
    import_pupils(csv_text(*whole_roll(20)))
    partial = csv_text(*whole_roll(2))
    wrong = import_pupils(partial, confirm_leavers=17)
    assert wrong.marked_left == [] and wrong.leavers_to_confirm == 18
    assert wrong.notes[0].startswith("The confirmation given was for 17 pupils, not 18. This file")
    assert on_roll() == 20
    confirmed = import_pupils(partial, confirm_leavers=18)
    assert len(confirmed.marked_left) == 18 and not confirmed.needs_leaver_confirmation
    assert confirmed.leavers_confirmed == 18 and confirmed.notes == []
    assert on_roll() == 2 and pupil(upn(3)).left_on == date(2026, 10, 5)
    details = json.loads(audit_rows("roster.pupils_imported")[-1].details)
    assert (details["leavers_confirmed"], details["marked_left"]) == (18, 18)


def test_a_confirmation_is_not_needed_when_leavers_are_not_being_marked(app_context):
    import_pupils(csv_text(*whole_roll(20)))
    report = import_pupils(csv_text(*whole_roll(2)), mark_leavers=False)
    assert not report.needs_leaver_confirmation and report.notes == []
    assert on_roll() == 20


def test_a_dry_run_says_whether_confirmation_is_needed(app_context):
    import_pupils(csv_text(*whole_roll(20)))
    partial = csv_text(*whole_roll(2))
    before = count(AuditEvent)
    check = import_pupils(partial, dry_run=True)
    assert check.leavers_to_confirm == 18 and check.marked_left == []
    assert "so nobody would be marked as left" in check.notes[0]
    confirmed_check = import_pupils(partial, dry_run=True, confirm_leavers=18)
    assert len(confirmed_check.marked_left) == 18 and not confirmed_check.notes
    assert "18 would be marked as left" in confirmed_check.summary()
    assert on_roll() == 20 and count(AuditEvent) == before


def test_refused_rows_and_a_partial_file_are_both_explained(app_context):
    import_pupils(csv_text(*whole_roll(20)))
    report = import_pupils(csv_text(pupil_line(1, first="Pupil1"), pupil_line(2, born="x")))
    assert report.leavers_to_confirm == 18 and report.leavers_withheld == 18
    assert "would mark 18 of 20 pupils" in report.notes[0]
    assert "because some rows were refused" in report.notes[1]
    # Confirming does not override the refused-row rule.
    confirmed = import_pupils(
        csv_text(pupil_line(1, first="Pupil1"), pupil_line(2, born="x")), confirm_leavers=18
    )
    assert confirmed.marked_left == [] and confirmed.leavers_withheld == 18
    assert on_roll() == 20


# Staff ---------------------------------------------------------------------------------------

STAFF_HEADER = "Email,First Name,Last Name,Initials,Roles,Classes"


def staff(email: str) -> User | None:
    return db.session.scalar(select(User).where(User.email == email))


def make_classes(*names: str) -> None:
    for name in names:
        db.session.add(SchoolClass(name=name, year_group=name.split()[0]))
    db.session.flush()


def test_staff_import_creates_accounts_with_roles_and_classes(app_context):
    make_classes("3 Maple", "4 Willow")
    text = csv_text(
        "ruth.ng@school.example,Ruth,Ng,,Class teacher; DSL,3 Maple",
        'kofi.mensah@school.example,Kofi,Mensah,KM,"SLT, class_teacher","3 Maple, 4 Willow"',
        "joy.lane@school.example,Joy,Lane,,Teaching assistant,",
        "dee.ray@school.example,Dee,Ray,,Administrator,",
        header=STAFF_HEADER,
    )
    report = import_staff(text)
    assert report.ok and len(report.created) == 4
    ruth = staff("ruth.ng@school.example")
    assert ruth.roles == {Role.CLASS_TEACHER, Role.DSL} and ruth.password_hash is None
    kofi = staff("kofi.mensah@school.example")
    assert kofi.roles == {Role.SLT, Role.CLASS_TEACHER} and kofi.initials == "KM"
    assert staff("joy.lane@school.example").roles == {Role.STAFF}
    assert staff("dee.ray@school.example").roles == {Role.ADMIN}
    maple = db.session.scalar(select(SchoolClass).where(SchoolClass.name == "3 Maple"))
    assert {t.email for t in maple.teachers} == {ruth.email, kofi.email}
    [event] = audit_rows("roster.staff_imported")
    assert json.loads(event.details)["created"] == 4


def test_staff_reimport_updates_roles_and_classes_and_reports_missing_staff(app_context):
    make_classes("3 Maple", "4 Willow")
    import_staff(
        csv_text(
            "ruth.ng@school.example,Ruth,Ng,,Class teacher,3 Maple",
            "joy.lane@school.example,Joy,Lane,,Staff,",
            header=STAFF_HEADER,
        )
    )
    report = import_staff(
        csv_text("RUTH.NG@school.example,Ruth,Ng-Hale,,Class teacher;Pastoral,4 Willow",
                 header=STAFF_HEADER)
    )  # fmt: skip
    [change] = report.updated
    assert "name" in change.detail and "roles" in change.detail
    assert "teaches 4 Willow" in change.detail and "no longer teaches 3 Maple" in change.detail
    ruth = staff("ruth.ng@school.example")
    assert ruth.full_name == "Ruth Ng-Hale" and Role.PASTORAL in ruth.roles
    assert [c.key for c in report.not_in_file] == ["joy.lane@school.example"]
    assert staff("joy.lane@school.example").active  # reported, never disabled
    assert audit_rows("class.teachers_changed")


def test_losing_the_class_teacher_role_ends_teaching_the_class(app_context):
    make_classes("3 Maple")
    import_staff(csv_text("ruth.ng@school.example,Ruth,Ng,,Class teacher,3 Maple",
                          header=STAFF_HEADER))  # fmt: skip
    report = import_staff(
        csv_text("ruth.ng@school.example,Ruth,Ng,Staff", header="Email,First Name,Last Name,Roles")
    )
    assert "no longer teaches 3 Maple" in report.updated[0].detail
    assert db.session.scalar(select(SchoolClass)).teachers == []


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("x@school.example,Ann,Lee,,Headmistress,", "Unknown role “Headmistress”"),
        ("x@school.example,Ann,Lee,,,", "roles are missing"),
        ("x@school.example,Ann,Lee,,Class teacher,9 Nowhere", "no class called “9 Nowhere”"),
        ("x@school.example,Ann,Lee,,Staff,3 Maple", "do not include Class teacher"),
        ("not-an-email,Ann,Lee,,Staff,", "not a valid email address"),
        (",Ann,Lee,,Staff,", "email address is missing"),
        ("x@school.example,,,,Staff,", "name is missing"),
        ("x@school.example,Ann,Lee,1X,Staff,", "Initials"),
    ],
)
def test_bad_staff_rows_are_refused(app_context, line, reason):
    make_classes("3 Maple")
    report = import_staff(csv_text("ok@school.example,Ok,Person,,Staff,", line,
                                   header=STAFF_HEADER))  # fmt: skip
    assert len(report.created) == 1
    [refused] = report.refused
    assert refused.row == 3 and reason in refused.reason
    assert count(User) == 1


def test_staff_file_with_full_names_and_duplicate_emails(app_context):
    text = csv_text(
        "a@school.example,Amal Haddad,Staff",
        "b@school.example,Bryn Hughes,DSL",
        "A@school.example,Amal Haddad,Pastoral",
        header="Email Address,Full Name,Role",
    )
    report = import_staff(text)
    assert [r.row for r in report.refused] == [2, 4]
    assert staff("b@school.example").full_name == "Bryn Hughes"
    assert staff("a@school.example") is None


def test_staff_file_without_names_is_refused(app_context):
    with pytest.raises(RosterFileError, match="staff names"):
        import_staff(csv_text("a@school.example,Staff", header="Email,Roles"))


def test_staff_dry_run_writes_nothing(app_context):
    report = import_staff(csv_text("a@b.example,Al,Bo,,Staff,", header=STAFF_HEADER), dry_run=True)
    assert len(report.created) == 1 and count(User) == 0 and count(AuditEvent) == 0


# The command line ----------------------------------------------------------------------------


def write(tmp_path, text: str, name: str = "roll.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def in_app(app, query):
    with app.app_context():
        return query()


def test_cli_imports_pupils_with_progress_and_report(app, runner, tmp_path):
    path = write(tmp_path, csv_text(pupil_line(1), pupil_line(2, first="Bea")))
    result = runner.invoke(args=["roster", "import-pupils", path])
    assert result.exit_code == 0, result.output
    assert "Importing pupils" in result.output
    assert "2 pupil rows: 2 created, 0 updated, 0 unchanged, 0 marked as left, 0 refused." in (
        result.output
    )
    assert in_app(app, lambda: count(Pupil)) == 2


def test_cli_reports_refused_rows_and_exits_1(app, runner, tmp_path):
    path = write(tmp_path, csv_text(pupil_line(1), "A801200001001,Bea,Quinn,,14/03/2018,3,3 Maple"))
    result = runner.invoke(args=["roster", "import-pupils", path])
    assert result.exit_code == 1
    assert "row 3 [A801200001001]: The check letter" in result.output
    assert in_app(app, lambda: count(Pupil)) == 1  # the good row was imported


def test_cli_dry_run_and_no_mark_leavers(app, runner, tmp_path):
    runner.invoke(args=["roster", "import-pupils", write(tmp_path, csv_text(pupil_line(1)))])
    path = write(tmp_path, csv_text(pupil_line(2)), "next.csv")
    result = runner.invoke(args=["roster", "import-pupils", path, "--dry-run"])
    assert result.exit_code == 0
    assert "Check only: nothing was saved." in result.output and "1 would be marked" in (
        result.output
    )
    assert in_app(app, lambda: count(Pupil)) == 1
    result = runner.invoke(args=["roster", "import-pupils", path, "--no-mark-leavers"])
    assert "0 marked as left" in result.output
    assert in_app(app, lambda: pupil(upn(1)).on_roll) is True


def test_cli_needs_confirm_leavers_for_a_partial_file(app, runner, tmp_path):
    runner.invoke(args=["roster", "import-pupils", write(tmp_path, csv_text(*whole_roll(20)))])
    path = write(tmp_path, csv_text(*whole_roll(2)), "one-class.csv")
    result = runner.invoke(args=["roster", "import-pupils", path, "--dry-run"])
    assert result.exit_code == 1 and "would mark 18 of 20 pupils as left" in result.output
    result = runner.invoke(args=["roster", "import-pupils", path])
    assert result.exit_code == 1
    assert "This file would mark 18 of 20 pupils as left" in result.output
    assert "run again with --confirm-leavers 18" in result.output
    assert in_app(app, on_roll) == 20
    result = runner.invoke(args=["roster", "import-pupils", path, "--confirm-leavers", "17"])
    assert result.exit_code == 1 and "confirmation given was for 17 pupils" in result.output
    assert in_app(app, on_roll) == 20
    result = runner.invoke(args=["roster", "import-pupils", path, "--confirm-leavers", "18"])
    assert result.exit_code == 0, result.output
    assert "18 marked as left" in result.output and in_app(app, on_roll) == 2


def test_cli_refuses_a_confirmation_that_is_not_a_number(app, runner, tmp_path):
    path = write(tmp_path, csv_text(*whole_roll(2)))
    result = runner.invoke(args=["roster", "import-pupils", path, "--confirm-leavers", "all"])
    assert result.exit_code == 2 and "--confirm-leavers" in result.output
    assert in_app(app, lambda: count(Pupil)) == 0


def test_cli_refuses_a_file_with_missing_columns(app, runner, tmp_path):
    path = write(tmp_path, csv_text("x", header="Name"))
    result = runner.invoke(args=["roster", "import-pupils", path])
    assert result.exit_code == 1
    assert "missing required columns: UPN" in result.output


def test_cli_imports_staff(app, runner, tmp_path):
    path = write(tmp_path, csv_text("a@school.example,Al,Bo,,Staff,", header=STAFF_HEADER))
    result = runner.invoke(args=["roster", "import-staff", path])
    assert result.exit_code == 0, result.output
    assert "Importing staff" in result.output and "1 created" in result.output
    assert in_app(app, lambda: staff("a@school.example").roles) == {Role.STAFF}


def test_the_examples_in_the_documentation_import_cleanly(app_context):
    guide = (PROJECT_ROOT / "docs" / "roster-import.md").read_text(encoding="utf-8")
    sims, arbor, staff_file = [block.split("```", 1)[0] for block in guide.split("```csv\n")[1:]]
    first = import_pupils(sims)
    assert first.ok and len(first.created) == 2
    assert import_pupils(arbor).unchanged == 2
    make_classes("6 Larch")
    report = import_staff(staff_file)
    assert report.ok and len(report.created) == 4
    assert staff("tom.whitlock@larkfield.example").roles == {Role.CLASS_TEACHER, Role.DSL}


def test_an_admins_staff_import_asks_a_dsl_for_every_reader(app_context, make_user):
    """The office imports staff, but only a DSL lets anyone read incidents (SPEC §1)."""
    admin = db.session.get(User, make_user(Role.ADMIN).id)
    text = csv_text(
        "new.lead@school.example,New,Lead,,DSL,",
        "new.ta@school.example,New,Assistant,,Teaching assistant,",
        "office.self@school.example,Office,Self,,Administrator; SLT,",
        header=STAFF_HEADER,
    )
    report = import_staff(text, by=admin)
    assert report.created == [] and report.refused == []
    assert {change.key for change in report.requested} == {
        "new.lead@school.example",
        "new.ta@school.example",
        "office.self@school.example",
    }
    assert "3 sent to a DSL to approve" in report.summary()
    assert staff("new.lead@school.example") is None and staff("new.ta@school.example") is None
    assert len(pending_requests()) == 3
