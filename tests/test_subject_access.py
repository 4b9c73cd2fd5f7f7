"""Subject access (SPEC §8, issue 13): an export of a pupil's records with other pupils' names,
and by choice staff names and third parties' words, redacted; every redaction listed for the
DSL to adjust before release; PDF and JSON; DSL only, fresh step-up, audited."""

import io
import json

import pytest
import sqlalchemy as sa
from pypdf import PdfReader

from server.audit.models import AuditEvent
from server.auth.models import User
from server.auth.roles import Role
from server.extensions import db
from server.pupils.models import Pupil
from server.subject_access import operations, redaction
from server.subject_access.models import SubjectAccessExport
from server.subject_access.operations import SubjectAccessRefused

ACCOUNT = (
    "During lunch Ada Quill and Ben's older cousin argued with Kit; ben pushed him. "
    "Carl Teacher separated them. Kit said “they always pick on me”."
)


@pytest.fixture
def subject(app, school, make_pupil, record_incident):
    """Kit, whose incident names two other pupils (Ada in full; Ben, linked, by first name and
    as "Ben's") and a member of staff (Carl Teacher), with a quotation."""
    kit = make_pupil("Kit", "Fenwick")
    number = record_incident(
        school.staff, kit, account=ACCOUNT, linked_pupil_ids=[school.ben], location="Hall"
    )
    return kit, number


def _user(person) -> User:
    return db.session.get(User, person.id)


def _start(app, school, kit, *, staff=True, third_parties=False) -> int:
    with app.test_request_context():
        export = operations.start_export(
            db.session.get(Pupil, kit), by=_user(school.dsl), staff=staff,
            third_parties=third_parties,
        )  # fmt: skip
        db.session.commit()
        return export.id


def _account_redactions(export: SubjectAccessExport) -> list[dict]:
    return [r for r in export.redactions if r["key"].endswith(":account")]


def _released(app, school, export_id: int, fmt: str):
    with app.test_request_context():
        export = db.session.get(SubjectAccessExport, export_id)
        _name, _type, content = operations.release(export, fmt, by=_user(school.dsl))
        db.session.commit()
        return content


def _pdf_text(content: bytes) -> str:
    return " ".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)


def test_other_pupils_and_staff_are_listed_and_removed(app, school, subject):
    kit, number = subject
    export_id = _start(app, school, kit)
    with app.test_request_context():
        export = db.session.get(SubjectAccessExport, export_id)
        found = {(r["kind"], ACCOUNT[r["start"] : r["end"]]) for r in _account_redactions(export)}
        assert found == {
            ("pupil", "Ada Quill"),
            ("pupil", "Ben"),  # "Ben's": the possessive
            ("pupil", "ben"),
            ("staff", "Carl Teacher"),
            ("words", "“they always pick on me”"),
        }
        pupils = {r["ref"] for r in export.redactions if r["kind"] == "pupil"}
        assert pupils == {school.ada, school.ben}
        on = {(r["kind"], r["on"]) for r in _account_redactions(export)}
        assert ("words", False) in on  # third parties' words were not chosen
    doc = json.loads(_released(app, school, export_id, "json"))
    account = doc["incidents"][0]["account"]
    for name in ("Ada", "Quill", "Ben", "ben ", "Carl", "Teacher"):
        assert name not in account
    assert account.count("[another pupil]") == 3
    assert "[member of staff]" in account
    assert "they always pick on me" in account
    assert doc["incidents"][0]["recorded_by"] == "[member of staff]"
    assert doc["incidents"][0]["number"] == number
    assert doc["pupil"]["name"] == "Kit Fenwick"


def test_the_pdf_leaves_them_out_too(app, school, subject):
    kit, _ = subject
    text = _pdf_text(_released(app, school, _start(app, school, kit), "pdf"))
    assert "Kit Fenwick" in text
    assert "separated them" in text
    for name in ("Ada", "Quill", "Ben", "Carl Teacher", "Tess Assistant"):
        assert name not in text
    assert "another pupil" in text


def test_the_dsl_unredacts_one_and_adds_another(app, school, subject):
    kit, _ = subject
    export_id = _start(app, school, kit, third_parties=True)
    with app.test_request_context():
        export = db.session.get(SubjectAccessExport, export_id)
        ben = {r["id"] for r in export.redactions if r["ref"] == school.ben}
        keep_on = {r["id"] for r in export.redactions if r["on"]} - ben
        operations.set_redactions(export, keep_on, by=_user(school.dsl))
        assert operations.add_phrase(export, "lunch", by=_user(school.dsl)) == 1
        with pytest.raises(SubjectAccessRefused, match="does not appear"):
            operations.add_phrase(export, "swimming", by=_user(school.dsl))
        with pytest.raises(SubjectAccessRefused):
            operations.set_redactions(export, {9999}, by=_user(school.dsl))
        db.session.commit()
    account = json.loads(_released(app, school, export_id, "json"))["incidents"][0]["account"]
    assert "Ben's older cousin" in account and "ben pushed" in account
    assert "Ada" not in account
    assert "lunch" not in account and "During [removed]" in account
    assert "pick on me" not in account
    assert "[third party’s words removed]" in account


def test_staff_names_stay_when_not_chosen(app, school, subject):
    kit, _ = subject
    export_id = _start(app, school, kit, staff=False)
    doc = json.loads(_released(app, school, export_id, "json"))
    assert "Carl Teacher separated them" in doc["incidents"][0]["account"]
    assert doc["incidents"][0]["recorded_by"] == "Tess Assistant"
    assert "Ada" not in doc["incidents"][0]["account"]


def test_an_account_recorded_for_someone_is_their_words(app, school, make_pupil, record_incident):
    kit = make_pupil("Kit", "Fenwick")
    record_incident(
        school.dsl, kit, account="Saw Kit crying by the gate.",
        on_behalf={"name": "Mo Brook", "role": "Crossing patrol"},
    )  # fmt: skip
    export_id = _start(app, school, kit, third_parties=True)
    doc = json.loads(_released(app, school, export_id, "json"))
    assert doc["incidents"][0]["recorded_for"] == "[third party]"
    assert doc["incidents"][0]["account"] == "[third party’s words removed]"


def test_the_release_is_audited_with_counts_not_text(app, school, subject):
    kit, _ = subject
    export_id = _start(app, school, kit)
    _released(app, school, export_id, "pdf")
    with app.test_request_context():
        event = db.session.scalar(
            sa.select(AuditEvent).where(AuditEvent.action == "subject_access.released")
        )
        details = json.loads(event.details)
        assert details["format"] == "pdf" and details["export_id"] == export_id
        assert details["redacted"]["pupil"] == 3
        assert details["redacted"]["staff"] >= 2  # in the account, and who recorded it
        assert details["not_redacted"] == {"words": 1}
        logged = " ".join(db.session.scalars(sa.select(AuditEvent.details)))
        assert "Ada Quill" not in logged and "pick on me" not in logged


@pytest.mark.parametrize("role", ["staff", "teacher", "pastoral", "slt", "admin"])
def test_only_a_dsl_builds_one(app, school, subject, role):
    kit, _ = subject
    person = getattr(school, role)
    with app.test_request_context(), pytest.raises(SubjectAccessRefused):
        operations.start_export(
            db.session.get(Pupil, kit), by=_user(person), staff=True, third_parties=True
        )
    export_id = _start(app, school, kit)
    with app.test_request_context(), pytest.raises(SubjectAccessRefused):
        operations.release(db.session.get(SubjectAccessExport, export_id), "json", by=_user(person))


@pytest.mark.parametrize("role", ["staff", "teacher", "pastoral", "slt", "admin"])
def test_other_roles_are_refused_over_http(app, client, sign_in, step_up, school, subject, role):
    kit, _ = subject
    export_id = _start(app, school, kit)
    sign_in(getattr(school, role))
    step_up()
    assert client.get(f"/subject-access/pupils/{kit}").status_code == 403
    assert client.post(f"/subject-access/pupils/{kit}", data={"staff": "y"}).status_code == 403
    assert client.get(f"/subject-access/{export_id}").status_code == 403
    released = client.post(f"/subject-access/{export_id}/release", data={"format": "json"})
    assert released.status_code == 403


def test_over_http_with_step_up_review_adjust_and_release(
    app, client, sign_in, step_up, school, subject
):
    kit, _ = subject
    sign_in(school.dsl)
    # No step-up: sent to the passkey, nothing built.
    assert "/passkeys/step-up" in client.get(f"/subject-access/pupils/{kit}").location
    refused = client.post(f"/subject-access/pupils/{kit}", data={"staff": "y"})
    assert "/passkeys/step-up" in refused.location
    with app.test_request_context():
        assert db.session.scalar(sa.select(sa.func.count(SubjectAccessExport.id))) == 0
    step_up()
    built = client.post(f"/subject-access/pupils/{kit}", data={"staff": "y"})
    assert built.status_code == 303
    export_id = int(built.location.rstrip("/").rsplit("/", 1)[1])
    page = client.get(f"/subject-access/{export_id}").get_data(as_text=True)
    assert "Ada Quill" in page  # the DSL sees what is redacted, to judge it
    assert page.count('name="on"') == len(_export_redactions(app, export_id))
    with app.test_request_context():
        ids = [
            r["id"]
            for r in db.session.get(SubjectAccessExport, export_id).redactions
            if r["on"] and r["ref"] != school.ada
        ]
    client.post(f"/subject-access/{export_id}/redactions", data={"on": [str(i) for i in ids]})
    client.post(f"/subject-access/{export_id}/redactions/add", data={"phrase": "Hall"})
    released = client.post(f"/subject-access/{export_id}/release", data={"format": "json"})
    assert released.status_code == 200
    assert released.headers["Content-Disposition"].startswith("attachment")
    doc = json.loads(released.data)
    assert "Ada Quill" in doc["incidents"][0]["account"]
    assert "Ben" not in doc["incidents"][0]["account"]
    assert doc["incidents"][0]["location"] == "[removed]"
    pdf = client.post(f"/subject-access/{export_id}/release", data={"format": "pdf"})
    assert pdf.headers["Content-Type"] == "application/pdf"
    assert "Ada Quill" in _pdf_text(pdf.data) and "Ben" not in _pdf_text(pdf.data)
    bad = client.post(f"/subject-access/{export_id}/release", data={"format": "docx"})
    assert bad.status_code == 303
    nonsense = client.post(f"/subject-access/{export_id}/redactions", data={"on": ["x"]})
    assert nonsense.status_code == 303
    with app.test_request_context():
        actions = list(db.session.scalars(sa.select(AuditEvent.action)))
    assert actions.count("subject_access.released") == 2
    assert "subject_access.reviewed" in actions and "subject_access.started" in actions


def test_release_needs_a_fresh_passkey(app, client, sign_in, step_up, school, subject):
    import time_machine

    from server.clock import utcnow

    kit, _ = subject
    export_id = _start(app, school, kit)
    sign_in(school.dsl)
    step_up()
    from datetime import timedelta

    with time_machine.travel(utcnow() + timedelta(minutes=6), tick=False):
        assert client.get(f"/subject-access/{export_id}").status_code == 200
        stale = client.post(f"/subject-access/{export_id}/release", data={"format": "json"})
    assert stale.status_code == 302 and "/passkeys/step-up" in stale.location


def test_redaction_segments_merge_overlaps():
    text = "Ada said “Ada Quill hit me”"
    spans = [
        {"id": 1, "start": 0, "end": 3, "kind": "pupil", "on": True},
        {"id": 2, "start": 10, "end": 19, "kind": "pupil", "on": True},
        {"id": 3, "start": 9, "end": 27, "kind": "words", "on": True},
    ]
    assert redaction.redacted(text, spans) == "[another pupil] said [third party’s words removed]"
    spans[2]["on"] = False
    assert redaction.redacted(text, spans) == "[another pupil] said “[another pupil] hit me”"


def test_a_second_dsl_role_is_not_needed(app, school, make_user, subject):
    """Any DSL may continue an export another DSL built."""
    kit, _ = subject
    export_id = _start(app, school, kit)
    other = make_user(Role.DSL, full_name="Dara Deputy")
    with app.test_request_context():
        export = operations.find_export(export_id, by=_user(other))
        assert operations.release(export, "json", by=_user(other))[1] == "application/json"


def _export_redactions(app, export_id):
    with app.test_request_context():
        return db.session.get(SubjectAccessExport, export_id).redactions


IMPORTED_ACCOUNT = "At Brookside Ada Quill and Jo Pike teased Kit; Carl Teacher saw it."


def test_imported_records_come_out_marked_and_redacted_alike(
    app, client, sign_in, step_up, school, subject
):
    from tests.test_retention import OLD_SCHOOL, _import_for

    kit, _ = subject
    _import_for(app, kit, number=77, account=IMPORTED_ACCOUNT, linked=["Jo Pike"])
    export_id = _start(app, school, kit, staff=True)
    doc = json.loads(_released(app, school, export_id, "json"))
    [item] = doc["imported_incidents"]
    assert (item["from_school"], item["their_number"]) == (OLD_SCHOOL, 77)
    assert item["account"] == (
        "At Brookside [another pupil] and [another pupil] teased Kit; [member of staff] saw it."
    )
    assert item["recorded_by"] == "[member of staff]"  # the other school's staff, by choice
    assert "Called social care" in item["actions"][0]["text"]
    text = _pdf_text(_released(app, school, export_id, "pdf"))
    assert f"from {OLD_SCHOOL}" in text
    for name in ("Ada Quill", "Jo Pike", "Carl Teacher", "Pat Hale"):
        assert name not in text and name not in json.dumps(doc)
    with app.test_request_context():
        export = db.session.get(SubjectAccessExport, export_id)
        imported = [r for r in export.redactions if r["key"] == f"imported:{_id(kit)}:account"]
        assert sorted(r["kind"] for r in imported) == ["pupil", "pupil", "staff"]
    # The DSL reviews them on the page, marked with the school they came from.
    sign_in(school.dsl)
    step_up()
    page = client.get(f"/subject-access/{export_id}").get_data(as_text=True)
    assert f"(imported from {OLD_SCHOOL})" in page and "Jo Pike" in page


def _id(kit) -> int:
    from server.transfer.models import ImportedIncident

    return db.session.scalar(sa.select(ImportedIncident.id).where(ImportedIncident.pupil_id == kit))
