"""Reports (issue 10, SPEC §7): each figure of a known dataset, name hiding (in the PDF's text
too), step-up and an audit row for every report and export, large exports as jobs, and query
budgets that do not grow with the school."""

import io
import json
import re
from datetime import UTC, date, datetime, timedelta

import flask
import pytest
import sqlalchemy as sa
import time_machine
from pypdf import PdfReader

from server.alerts.operations import mark_read
from server.audit.models import AuditEvent
from server.auth.models import User, UserSession
from server.clock import utcnow
from server.extensions import db
from server.incidents.models import Incident
from server.incidents.operations import add_action, change_status, correct_incident
from server.pupils.models import Pupil
from server.reports import governors as governors_module
from server.reports.counts import Count
from server.reports.models import ReportRun
from server.reports.names import NameHider
from server.reports.periods import previous, term, year

# --- Helpers ------------------------------------------------------------------------------


def _stepped_up() -> UserSession:
    now = utcnow()
    return UserSession(stepped_up_at=now, last_assertion_at=now, review_active_at=now)


def _incident(number) -> Incident:
    return db.session.scalar(sa.select(Incident).where(Incident.number == number))


def _user(user) -> User:
    return db.session.get(User, user.id)


def _pdf_text(content: bytes) -> str:
    assert content.startswith(b"%PDF-")
    reader = PdfReader(io.BytesIO(content))
    return " ".join(" ".join((page.extract_text() or "").split()) for page in reader.pages)


def _audits(app, action: str) -> list[AuditEvent]:
    with app.test_request_context():
        return list(
            db.session.scalars(
                sa.select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
            )
        )


def _at(year_, month, day, hour=10) -> datetime:
    return datetime(year_, month, day, hour, tzinfo=UTC)


# --- Periods and suppression --------------------------------------------------------------


def test_terms_years_and_the_period_before():
    autumn = term("autumn", 2025)
    assert (autumn.start, autumn.end) == (date(2025, 9, 1), date(2026, 1, 1))
    assert previous(autumn) == term("summer", 2024)
    assert (term("summer", 2024).start, term("summer", 2024).end) == (
        date(2025, 4, 1),
        date(2025, 9, 1),
    )
    assert previous(term("spring", 2025)) == autumn
    assert previous(year(2025)) == year(2024)
    assert [first.month for first, _ in autumn.months()] == [9, 10, 11, 12]


@pytest.mark.parametrize(
    "value, shown", [(0, "0"), (1, "fewer than 5"), (4, "fewer than 5"), (5, "5"), (1234, "1,234")]
)
def test_counts_under_five_are_shown_as_fewer_than_five(value, shown):
    assert Count(value).shown == shown


# --- Name hiding --------------------------------------------------------------------------


def _pupil(id_, first, last, preferred_first=None, preferred_last=None) -> Pupil:
    return Pupil(
        id=id_,
        legal_first_name=first,
        legal_last_name=last,
        preferred_first_name=preferred_first,
        preferred_last_name=preferred_last,
    )


ADA = _pupil(1, "Ada", "Quill")
BEN = _pupil(2, "Benjamin", "Marsh", preferred_first="Ben")
CARA = _pupil(3, "Caroline", "Lin", preferred_first="Cara")
WILL = _pupil(4, "Will", "Fenn")
ROSTER = [ADA, BEN, CARA, WILL]
NARRATIVE = (
    "Ada said Ben Marsh took her lunch and BENJAMIN   marsh laughed; "
    "Caroline Lin told Ben's friend. Cara Lin will tell Miss Fenn."
)


def test_initials_replace_other_pupils_legal_and_preferred_names():
    hide = NameHider("initials", ROSTER, keep=ADA, linked=[BEN])
    assert hide(NARRATIVE) == (
        "Ada said B.M. took her lunch and B.M. laughed; "
        "C.L. told B.M.'s friend. C.L. will tell Miss Fenn."
    )


def test_letters_give_each_pupil_one_letter_in_order_of_appearance():
    hide = NameHider("letters", ROSTER, keep=ADA, linked=[BEN])
    assert hide(NARRATIVE) == (
        "Ada said Pupil A took her lunch and Pupil A laughed; "
        "Pupil B told Pupil A's friend. Pupil B will tell Miss Fenn."
    )
    assert hide("Ada Quill") == "Ada Quill"  # the report's own pupil keeps her name


def test_first_names_alone_are_hidden_only_for_linked_pupils():
    # "will" is a word; Will Fenn is not linked, so only his full name would be replaced.
    hide = NameHider("initials", ROSTER, keep=ADA, linked=[BEN, WILL])
    assert hide("Will will come.") == "W.F. W.F. come."
    assert NameHider("initials", ROSTER, keep=ADA)("Will will come.") == "Will will come."


def test_shown_leaves_the_text_alone():
    assert NameHider("shown", ROSTER, keep=ADA, linked=[BEN])(NARRATIVE) == NARRATIVE


# --- The case conference report -----------------------------------------------------------


@pytest.fixture
def case(app, school, make_pupil, record_incident):
    """Ada's case: an injury with a body map naming two other pupils, referred to MASH, with
    an assigned action; and an incident about Ben that names Ada."""
    school.cara = make_pupil("Caroline", "Lin", class_id=school.class_4b)
    with app.test_request_context():
        cara = db.session.get(Pupil, school.cara)
        cara.preferred_first_name = "Cara"
        db.session.commit()
    injury = record_incident(
        school.teacher,
        school.ada,
        categories=["Medical / first aid", "Bullying"],
        account="Ada said Ben Marsh and Cara Lin pushed her over; bruise on the right arm.",
        agency_ids=[school.vocabulary["Children's social care / MASH"]],
        linked_pupil_ids=[school.ben, school.cara],
        body_marks=[{"side": "front", "x": 0.2, "y": 0.35, "kind": "bruise", "note": "Ben's?"}],
    )
    about_ben = record_incident(
        school.other_teacher, school.ben, account="Ben upset at lunch; Ada Quill with him."
    )
    with app.test_request_context():
        flask.g.user_session = _stepped_up()
        add_action(
            _user(school.dsl),
            _incident(injury),
            "Speak to Cara Lin's parents.",
            assignee_id=str(school.pastoral.id),
            due_on=date(2027, 1, 15),
        )
        db.session.commit()
    school.injury, school.about_ben = injury, about_ben
    return school


def test_the_case_conference_page_has_the_summary_and_body_map(client, sign_in, step_up, case):
    sign_in(case.dsl)
    step_up()
    response = client.get(f"/reports/pupils/{case.ada}/case-conference?names=shown")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "Case conference report" in page and "Ada Quill" in page
    assert "Children&#39;s social care / MASH" in page or "Children's social care / MASH" in page
    assert "Speak to Cara Lin" in page and "15 Jan 2027" in page  # the open action
    assert 'class="incident-body-mark incident-body-mark-bruise"' in page
    assert "Ben Marsh and Cara Lin pushed her" in page  # names shown as asked


def test_a_monitored_incident_shows_as_monitoring_with_its_actions_still_open(
    client, sign_in, step_up, case, app
):
    with app.test_request_context():
        flask.g.user_session = _stepped_up()
        change_status(_user(case.dsl), _incident(case.injury), "monitoring", "Watch weekly.")
        db.session.commit()
    sign_in(case.dsl)
    step_up()
    page = client.get(f"/reports/pupils/{case.ada}/case-conference?names=shown").get_data(
        as_text=True
    )
    by_status = page.split("<h3>By status</h3>")[1].split("</table>")[0]
    assert "<td>Monitoring</td>" in by_status and "Referred" not in by_status
    assert "Speak to Cara Lin" in page and "15 Jan 2027" in page  # still an open action
    assert "Monitoring started" in page  # the chronology's line for the change


def test_the_case_conference_pdf_hides_other_pupils_names(client, sign_in, step_up, case, app):
    sign_in(case.dsl)
    step_up()
    response = client.post(
        f"/reports/pupils/{case.ada}/case-conference", data={"format": "pdf", "names": "initials"}
    )
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert "attachment" in response.headers["Content-Disposition"]
    text = _pdf_text(response.data)
    assert "Case conference report" in text and "Ada Quill" in text
    assert "B.M. and C.L. pushed her" in text
    assert not re.search(r"\b(Ben|Benjamin|Marsh|Cara|Caroline|Lin)\b", text), text
    assert "Bruise" in text and "Children's social care / MASH" in text
    exported = _audits(app, "report.exported")[-1]
    assert (exported.object_type, exported.object_id) == ("pupil", str(case.ada))
    assert '"names": "initials"' in exported.details and '"format": "pdf"' in exported.details


def test_pupil_letters_in_the_csv(client, sign_in, step_up, case):
    sign_in(case.dsl)
    step_up()
    response = client.post(
        f"/reports/pupils/{case.ada}/chronology", data={"format": "csv", "names": "letters"}
    )
    assert response.status_code == 200 and response.mimetype == "text/csv"
    text = response.data.decode("utf-8-sig")
    assert "Pupil A and Pupil B pushed her over" in text
    assert not re.search(r"\b(Ben|Benjamin|Marsh|Cara|Caroline|Lin)\b", text)
    assert text.splitlines()[0] == "When,Entry,Incident,Linked,Categories,Text,By"


def test_a_report_needs_a_fresh_passkey_assertion(client, sign_in, step_up, case, app):
    sign_in(case.dsl)
    step_up()
    with time_machine.travel(utcnow() + timedelta(minutes=6), tick=False):
        client.get("/")
        response = client.post(
            f"/reports/pupils/{case.ada}/case-conference", data={"format": "pdf"}
        )
        assert response.status_code == 302 and "/passkeys/step-up" in response.headers["Location"]
    assert _audits(app, "report.exported") == []


@pytest.mark.parametrize("who", ["slt", "dsl"])
def test_reporters_may_export_and_others_may_not(client, sign_in, step_up, case, who):
    sign_in(getattr(case, who))
    step_up()
    assert (
        client.post(
            f"/reports/pupils/{case.ada}/case-conference", data={"format": "pdf"}
        ).status_code
        == 200
    )


@pytest.mark.parametrize("who", ["teacher", "pastoral", "staff", "admin"])
def test_roles_without_reports_are_refused(client, sign_in, step_up, case, who, app):
    sign_in(getattr(case, who))
    step_up()
    response = client.post(f"/reports/pupils/{case.ada}/case-conference", data={"format": "pdf"})
    assert response.status_code == 403
    assert _audits(app, "report.exported") == []


@pytest.mark.parametrize(
    "data", [{"format": "docx"}, {"format": "pdf", "names": "x"}, {"format": "pdf", "to": "no"}]
)
def test_bad_export_requests_are_refused_and_write_nothing(
    client, sign_in, step_up, case, app, data
):
    sign_in(case.dsl)
    step_up()
    response = client.post(f"/reports/pupils/{case.ada}/case-conference", data=data)
    assert response.status_code == 400
    assert _audits(app, "report.exported") == []


def test_viewing_a_report_is_audited_and_listed_in_who_viewed(client, sign_in, step_up, case, app):
    sign_in(case.dsl)
    step_up()
    client.get(f"/reports/pupils/{case.ada}/case-conference?names=letters")
    viewed = _audits(app, "report.viewed")
    assert len(viewed) == 1 and '"names": "letters"' in viewed[0].details
    page = client.get(f"/pupils/{case.ada}/viewers").get_data(as_text=True)
    assert "Viewed a report" in page and "case_conference html letters" in page


# --- Large exports run as jobs with progress ----------------------------------------------


def test_a_large_export_runs_as_a_job_with_progress(client, sign_in, step_up, case, app, run_jobs):
    app.config["REPORT_INLINE_ROWS"] = 1
    try:
        sign_in(case.dsl)
        step_up()
        response = client.post(
            f"/reports/pupils/{case.ada}/case-conference", data={"format": "pdf"}
        )
        assert response.status_code == 302 and "/reports/runs/" in response.headers["Location"]
        run_jobs()
        run_url = response.headers["Location"]
        status = client.get(run_url, headers={"Accept": "application/json"}).get_json()
        assert status == {"status": "done", "stage": "Ready", "progress": 100}
        page = client.get(run_url).get_data(as_text=True)
        assert "Your report is ready" in page
        download = client.get(run_url + "/download")
        assert download.status_code == 200 and download.mimetype == "application/pdf"
        assert "Ada Quill" in _pdf_text(download.data)
    finally:
        app.config["REPORT_INLINE_ROWS"] = 300
    exported = _audits(app, "report.exported")
    assert len(exported) == 1 and '"run":' in exported[0].details
    [downloaded] = _audits(app, "report.downloaded")
    assert (downloaded.object_type, downloaded.object_id) == ("pupil", str(case.ada))
    page = client.get(f"/pupils/{case.ada}/viewers").get_data(as_text=True)
    assert "Downloaded a prepared report" in page and "Exported a report" in page


def test_someone_elses_run_is_not_found(client, sign_in, step_up, case, app, make_user):
    with app.test_request_context():
        run = ReportRun(
            user_id=case.dsl.id,
            kind="governors",
            format="pdf",
            params="{}",
            status="done",
            stage="Ready",
            progress=100,
            created_at=utcnow(),
        )
        db.session.add(run)
        db.session.commit()
        run_id = run.id
    sign_in(case.slt)
    step_up()
    assert client.get(f"/reports/runs/{run_id}").status_code == 404
    assert client.get(f"/reports/runs/{run_id}/download").status_code == 404


# --- The governors' report: every figure of a known dataset -------------------------------


@pytest.fixture
def school_year(app, school, record_incident):
    """Autumn term 2025 and the summer term before it, recorded on known days."""
    numbers = []

    def record(when, categories, author=school.staff):
        with time_machine.travel(when, tick=False):
            number = record_incident(author, school.ada, categories=categories)
        numbers.append((number, when))
        return number

    autumn = [record(_at(2025, 9, day), ["Behaviour"]) for day in range(1, 7)]  # Sep: 6
    autumn += [record(_at(2025, 10, day), ["Bullying"]) for day in (1, 2)]  # Oct: 2
    autumn.append(record(_at(2025, 11, 3), ["Safeguarding – Neglect"], school.dsl))  # Nov
    autumn.append(record(_at(2025, 11, 4), ["Behaviour", "Bullying"]))  # counts in both
    in_error = record(_at(2025, 12, 1), ["Behaviour"])
    for day in (1, 2, 3):
        record(_at(2025, 5, day), ["Behaviour"])
    for day in range(4, 9):
        record(_at(2025, 6, day), ["Bullying"])
    with app.test_request_context():
        flask.g.user_session = _stepped_up()
        dsl, slt = _user(school.dsl), _user(school.slt)
        # Read by a DSL after 5, 10, 20, 30 and 60 minutes; a quicker read by slt counts not.
        for number, minutes in zip(autumn[:5], (5, 10, 20, 30, 60), strict=True):
            made = _incident(number).created_at
            with time_machine.travel(made + timedelta(minutes=1), tick=False):
                mark_read(slt, _incident(number), flask.g.user_session)
            with time_machine.travel(made + timedelta(minutes=minutes), tick=False):
                mark_read(dsl, _incident(number), flask.g.user_session)
        # Closed after 1 to 5 days (one as "no further action").
        for number, days in zip(autumn[:5], (1, 2, 3, 4, 5), strict=True):
            made = _incident(number).created_at
            kind = "no_further_action" if days == 5 else "closed"
            with time_machine.travel(made + timedelta(days=days), tick=False):
                change_status(dsl, _incident(number), kind, "Done.")
        correct_incident(dsl, _incident(in_error), "entered_in_error", "Wrong pupil.")
        db.session.commit()
    return school


def test_governors_figures_are_exact(app, school_year):
    with app.test_request_context():
        report = governors_module.governors_report(term("autumn", 2025))
    rows = {row.name: (row.now.shown, row.before.shown, row.trend) for row in report.rows}
    assert rows["Behaviour"] == ("7", "fewer than 5", "")
    assert rows["Bullying"] == ("fewer than 5", "5", "")
    assert rows["Safeguarding"] == ("fewer than 5", "0", "")
    assert rows["Attendance"] == ("0", "0", "same")
    assert (report.total_now.shown, report.total_before.shown, report.total_trend) == (
        "10",
        "8",
        "up",
    )
    assert [(label, count.shown) for label, count in report.months] == [
        ("Sep 2025", "6"),
        ("Oct 2025", "fewer than 5"),
        ("Nov 2025", "fewer than 5"),
        ("Dec 2025", "0"),
    ]
    now = report.timeliness_now
    assert (now.incidents.value, now.read_by_dsl.value, now.read_within_target.value) == (10, 5, 2)
    assert now.median_to_dsl_read == timedelta(minutes=20)
    assert (now.closed.value, now.median_to_close) == (5, timedelta(days=3))
    before = report.timeliness_before
    assert (before.read_by_dsl.value, before.median_to_dsl_read, before.median_to_close) == (
        0,
        None,
        None,
    )


def test_governors_page_pdf_and_csv(client, sign_in, step_up, school_year, app):
    sign_in(school_year.slt)
    step_up()
    args = {"period": "term", "term": "autumn", "year": "2025"}
    page = client.get("/reports/governors", query_string=args).get_data(as_text=True)
    assert "Autumn term 2025" in page and "Summer term 2025" in page
    assert page.count('<svg class="chart"') == 2 and "<rect" in page
    assert "Ada" not in page and "Quill" not in page  # no names, not even the only pupil's
    csv_text = client.post("/reports/governors", data=args | {"format": "csv"}).data.decode(
        "utf-8-sig"
    )
    assert "Behaviour,7,fewer than 5,\r\n" in csv_text
    assert "All incidents,10,8,up" in csv_text
    text = _pdf_text(client.post("/reports/governors", data=args | {"format": "pdf"}).data)
    assert "Governors’ report" in text and "fewer than 5" in text and "20 minutes" in text
    assert "Ada" not in text
    rows = _audits(app, "report.exported")
    assert [(r.object_type, r.object_id) for r in rows] == [("report", "governors")] * 2


def test_governors_period_must_be_readable(client, sign_in, step_up, school):
    sign_in(school.dsl)
    step_up()
    for args in ({"period": "decade"}, {"term": "winter"}, {"year": "20x5"}, {"period": "dates"}):
        assert client.get("/reports/governors", query_string=args).status_code == 400


# --- The inspection report ----------------------------------------------------------------


def test_inspection_lists_referrals_with_status_and_outcome(
    client, sign_in, step_up, school, record_incident, app, make_pupil
):
    mash = school.vocabulary["Children's social care / MASH"]
    police = school.vocabulary["Police"]
    with time_machine.travel(_at(2025, 10, 1), tick=False):
        first = record_incident(
            school.teacher, school.ada, agency_ids=[mash], account="Ada and Ben Marsh fought."
        )
        second = record_incident(
            school.staff,
            school.ben,
            agency_ids=[police, mash],
            on_behalf={"name": "Mo Midday", "role": "Midday supervisor"},
        )
        record_incident(school.staff, school.ada)  # no agency: not a referral
    with time_machine.travel(_at(2025, 10, 3), tick=False), app.test_request_context():
        flask.g.user_session = _stepped_up()
        change_status(_user(school.dsl), _incident(first), "closed", "Strategy meeting held.")
        add_action(_user(school.dsl), _incident(second), "Police visit booked.")
        db.session.commit()
    sign_in(school.dsl)
    step_up()
    args = {"period": "dates", "from": "2025-09-01", "to": "2025-10-31", "names": "initials"}
    csv_text = client.post("/reports/inspection", data=args | {"format": "csv"}).data.decode(
        "utf-8-sig"
    )
    lines = csv_text.splitlines()
    assert lines[0] == "Number,Date,Pupil,Categories,Agencies,Raised by,Status,Outcome"
    assert lines[1:] == [
        f"#{first},2025-10-01,A.Q.,Behaviour,Children's social care / MASH,Carl Teacher,"
        "Closed,Strategy meeting held.",
        f"#{second},2025-10-01,B.M.,Behaviour,Children's social care / MASH; Police,"
        '"Mo Midday (Midday supervisor), recorded by Tess Assistant",Open,Police visit booked.',
    ]
    text = _pdf_text(client.post("/reports/inspection", data=args | {"format": "pdf"}).data)
    assert "Inspection report" in text and "Strategy meeting held." in text
    assert "Marsh" not in text and "Quill" not in text


def test_inspection_shows_a_monitored_referral_with_its_monitoring_note(
    client, sign_in, step_up, school, record_incident, app
):
    mash = school.vocabulary["Children's social care / MASH"]
    with time_machine.travel(_at(2025, 10, 1), tick=False):
        watched = record_incident(school.teacher, school.ada, agency_ids=[mash])
        stopped = record_incident(school.staff, school.ben, agency_ids=[mash])
    with time_machine.travel(_at(2025, 10, 3), tick=False), app.test_request_context():
        flask.g.user_session = _stepped_up()
        dsl = _user(school.dsl)
        change_status(dsl, _incident(watched), "monitoring", "MASH advice: monitor weekly.")
        add_action(dsl, _incident(stopped), "Strategy discussion booked.")
        change_status(dsl, _incident(stopped), "monitoring", "Watching at lunchtimes.")
        change_status(dsl, _incident(stopped), "monitoring_ended", "New disclosure: acting.")
        db.session.commit()
    sign_in(school.dsl)
    step_up()
    args = {"period": "dates", "from": "2025-09-01", "to": "2025-10-31", "names": "initials"}
    csv_text = client.post("/reports/inspection", data=args | {"format": "csv"}).data
    lines = csv_text.decode("utf-8-sig").splitlines()
    assert lines[1:] == [
        f"#{watched},2025-10-01,A.Q.,Behaviour,Children's social care / MASH,Carl Teacher,"
        "Monitoring,MASH advice: monitor weekly.",
        # Back to open: the note that ended monitoring is no outcome; the watching note is.
        f"#{stopped},2025-10-01,B.M.,Behaviour,Children's social care / MASH,"
        "Tess Assistant,Open,Watching at lunchtimes.",
    ]


def test_school_reports_are_for_reporters_only(client, sign_in, step_up, school):
    for who, expected in (("pastoral", 403), ("teacher", 403), ("slt", 200)):
        client.post("/auth/sign-out")
        sign_in(getattr(school, who))
        step_up()
        assert client.get("/reports/inspection").status_code == expected, who


# --- Query budgets: the same number of statements for a small school and a larger one ----


def _statements_while(app, work) -> int:
    count = 0

    def counter(*_args):
        nonlocal count
        count += 1

    with app.test_request_context():
        engine = db.session.get_bind()
        sa.event.listen(engine, "before_cursor_execute", counter)
        try:
            work()
        finally:
            sa.event.remove(engine, "before_cursor_execute", counter)
    return count


def test_school_reports_cost_the_same_queries_whatever_their_size(app, school, record_incident):
    from server.reports import inspection

    period = year(2025)
    mash = school.vocabulary["Children's social care / MASH"]

    def build():
        report = governors_module.governors_report(period)
        referrals = inspection.referrals(period)
        hide = NameHider("initials", db.session.scalars(sa.select(Pupil)).all())
        inspection.csv_rows(referrals, hide)
        return report

    def add(count):
        for day in range(count):
            with time_machine.travel(_at(2025, 10, 1) + timedelta(hours=day), tick=False):
                record_incident(school.staff, school.ada, agency_ids=[mash])

    add(2)
    small = _statements_while(app, build)
    add(20)
    large = _statements_while(app, build)
    assert small == large


def test_a_run_for_someone_who_lost_the_role_fails_and_says_why(app, case):
    from server.auth.models import UserRole
    from server.reports.operations import build_run

    with app.test_request_context():
        run = ReportRun(
            user_id=case.slt.id,
            kind="case_conference",
            format="pdf",
            params=json.dumps({"pupil_id": case.ada, "filters": {}, "names": "initials"}),
            created_at=utcnow(),
        )
        db.session.add(run)
        db.session.execute(sa.delete(UserRole).where(UserRole.user_id == case.slt.id))
        db.session.execute(sa.insert(UserRole).values(user_id=case.slt.id, role="staff"))
        db.session.commit()
        build_run(run.id)
        failed = db.session.get(ReportRun, run.id)
        assert (failed.status, failed.stored_name) == ("failed", None)
        assert failed.error == "You do not have permission to see this."


# --- Records imported from previous schools (server/transfer) ------------------------------

IMPORTED_ACCOUNT = "Zara Fenn and Ben Marsh took Ada's bag; Zara laughed. Bruise on the shin."


@pytest.fixture
def imported_case(app, case):
    """Ada's case, plus an incident her previous school (Hillcrest) recorded and sent: it names
    Ben (on this school's roll) and Zara Fenn (known here only as its linked pupil)."""
    from server.transfer.models import ImportedIncident, IncomingTransfer

    imported_at = datetime(2026, 9, 3, 9, 30, tzinfo=UTC)
    content = {
        "uuid": "hillcrest-1", "number": 77, "occurred_at": "2026-06-10T11:00:00+00:00",
        "recorded_by": "Hal Teacher", "recorded_on_behalf_of": None, "location": "Playground",
        "account": IMPORTED_ACCOUNT, "categories": ["Bullying"], "sensitive": False,
        "status": "closed", "entered_in_error": False, "linked_pupils": ["Zara Fenn"],
        "agencies": ["Early Help"], "files": [],
        "body_marks": [{"number": 1, "side": "front", "x": 0.4, "y": 0.8, "kind": "bruise",
                        "note": "Zara kicked"}],
        "actions": [{"text": "Spoke to Zara Fenn's mum.",
                     "recorded_at": "2026-06-11T09:00:00+00:00", "recorded_by": "Hal Teacher",
                     "recorded_on_behalf_of": None, "assigned_to": None, "due_on": None}],
        "events": [],
    }  # fmt: skip
    with app.test_request_context():
        row = IncomingTransfer(
            package_id="hillcrest-package-1", package_sha256="0" * 64,
            sender_name="Hillcrest Primary", sender_fingerprint="HILL", package_created_at="",
            received_at=imported_at, received_via="upload", stored_name="hillcrest-stored-1",
            status="imported", pupil_id=case.ada, imported_at=imported_at,
        )  # fmt: skip
        db.session.add(row)
        db.session.flush()
        db.session.add(
            ImportedIncident(
                incoming_transfer_id=row.id, pupil_id=case.ada, source_uuid="hillcrest-1",
                source_number=77, occurred_at=datetime(2026, 6, 10, 11, tzinfo=UTC),
                sensitive=False, content=json.dumps(content), imported_at=imported_at,
            )
        )  # fmt: skip
        db.session.commit()
    return case


def test_imported_records_join_the_chronology_marked_and_with_names_hidden(app, imported_case):
    from server.reports.documents import build_document

    with app.test_request_context():
        dsl = _user(imported_case.dsl)
        doc = build_document(
            "case_conference", dsl, {"pupil_id": imported_case.ada, "names": "initials"}, None,
            review=True,
        )  # fmt: skip
        timeline = doc.context["chronology"].timeline
        imported = [entry for entry in timeline if getattr(entry, "imported", False)]
        assert [entry.incident.label for entry in imported] == ["Hillcrest Primary #77"]
        assert timeline.index(imported[0]) == 0  # June, before this school's entries
        summary = doc.context["summary"]
        assert [(school, count) for school, count, _ in summary.imported_from] == [
            ("Hillcrest Primary", 1)
        ]
        assert summary.imported_agencies == ["Early Help"]
        assert [incident.label for incident, _ in doc.context["body_maps"]][0] == (
            "Hillcrest Primary #77"
        )
        row = next(row for row in doc.csv if "Hillcrest Primary #77" in row[2])
        assert row[1] == "Imported 2026-09-03"
        assert row[5] == "Z.F. and B.M. took Ada's bag; Z.F. laughed. Bruise on the shin."
        hide = doc.context["hide"]
        assert hide("Zara Fenn") == "Z.F." and hide("Ada Quill") == "Ada Quill"
        shown = build_document(
            "chronology", dsl, {"pupil_id": imported_case.ada, "names": "shown"}, None,
            review=True,
        )  # fmt: skip
        assert any(row[5] == IMPORTED_ACCOUNT for row in shown.csv[1:])


@pytest.mark.parametrize("kind", ["chronology", "case-conference"])
def test_the_pdfs_show_imported_records_with_other_pupils_names_hidden(
    client, sign_in, step_up, imported_case, kind
):
    sign_in(imported_case.dsl)
    step_up()
    response = client.post(
        f"/reports/pupils/{imported_case.ada}/{kind}", data={"format": "pdf", "names": "letters"}
    )
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    text = _pdf_text(response.data)
    assert "From Hillcrest Primary, imported 3 Sep 2026" in text
    assert "Hillcrest Primary #77" in text and "took Ada's bag" in text
    assert not re.search(r"\b(Zara|Fenn|Ben|Benjamin|Marsh|Cara|Caroline|Lin)\b", text), text
    assert re.search(r"Pupil [A-Z] and Pupil [A-Z] took Ada's bag", text), text
    if kind == "case-conference":
        assert "1 incident from Hillcrest Primary, imported 3 Sep 2026" in text
        assert "Early Help" in text
    shown = _pdf_text(
        client.post(
            f"/reports/pupils/{imported_case.ada}/{kind}", data={"format": "pdf", "names": "shown"}
        ).data
    )
    assert "Zara Fenn and Ben Marsh took Ada's bag" in shown
