"""Retention (SPEC §8, issue 13): review at the 25th birthday, legal holds, two-person disposal
that blanks content and destroys the files' keys, tombstones; the database still refuses every
other change."""

import importlib
from datetime import date, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
import time_machine
from flask import Flask

from server.approvals.models import AccessRequest
from server.audit.models import AuditEvent
from server.audit.operations import verify_all
from server.auth.models import User
from server.auth.roles import Role
from server.extensions import db
from server.incidents import files
from server.incidents.files import FileKeyDestroyed, Upload
from server.incidents.models import IncidentFile
from server.incidents.operations import add_action, incident_by_number
from server.pupils.models import Pupil
from server.retention import operations
from server.retention.blanking import BLANKS, DISPOSED_TEXT
from server.retention.models import DisposalTombstone
from server.retention.operations import RetentionRefused
from tests.conftest import HavenClient

BORN = date(2010, 3, 4)
AFTER_25 = datetime(2035, 3, 5, 12).astimezone()
BEFORE_25 = datetime(2035, 3, 3, 12).astimezone()
ACCOUNT = "Kit said “Uncle Rob hurt me at the weekend.” Bruise on the left arm."
NOTE = b"Letter from the GP about the bruising.\n"


class Aged:
    """A pupil born in 2010 with two incidents (one with a file, a body mark, an action), a
    classmate with an incident of her own that links to him, and two DSLs."""


@pytest.fixture
def aged(app, school, make_pupil, make_user, record_incident):
    people = Aged()
    people.app = app
    people.school = school
    people.dsl = school.dsl
    people.dsl2 = make_user(Role.DSL, full_name="Dara Deputy")
    people.kit = make_pupil("Kit", "Fenwick", date_of_birth=BORN)
    people.young = make_pupil("Lou", "Marsh", date_of_birth=date(2016, 5, 1))
    people.numbers = [
        record_incident(
            school.staff,
            people.kit,
            account=ACCOUNT,
            files=[Upload("gp-letter.txt", NOTE)],
            body_marks=[
                {"side": "front", "x": 0.3, "y": 0.4, "kind": "bruise", "note": "Left arm"}
            ],
            on_behalf={"name": "Mo Brook", "role": "Midday supervisor"},
        ),
        record_incident(school.staff, people.kit, account="Late again; said the bus was late."),
    ]
    people.other = record_incident(
        school.staff, school.ada, account="Ada and Kit argued.", linked_pupil_ids=[people.kit]
    )
    people.young_number = record_incident(school.staff, people.young)
    with app.test_request_context():
        add_action(
            db.session.get(User, people.dsl.id),
            incident_by_number(people.numbers[0]),
            "Referred to MASH; strategy meeting booked.",
        )
        db.session.commit()
    return people


def _user(person) -> User:
    return db.session.get(User, person.id)


def _pupil(pupil_id) -> Pupil:
    return db.session.get(Pupil, pupil_id)


def _stored_file(app, number) -> IncidentFile:
    with app.test_request_context():
        attached = incident_by_number(number).files[0]
        db.session.expunge(attached)
        return attached


# --- Review ---------------------------------------------------------------------------------


def test_records_fall_due_on_the_25th_birthday_and_not_before(app, aged):
    with app.test_request_context():
        with time_machine.travel(BEFORE_25, tick=False):
            assert aged.kit not in [item.pupil.id for item in operations.due_for_review()]
        with time_machine.travel(AFTER_25, tick=False):
            due = [item.pupil.id for item in operations.due_for_review()]
            assert aged.kit in due
            assert aged.young not in due  # born 2016: not 25 until 2041
            assert operations.review_date(_pupil(aged.kit)) == date(2035, 3, 4)


def test_the_retention_age_is_configurable(app, aged):
    before = app.config["RETENTION_YEARS"]
    app.config["RETENTION_YEARS"] = 30
    try:
        with app.test_request_context(), time_machine.travel(AFTER_25, tick=False):
            assert aged.kit not in [item.pupil.id for item in operations.due_for_review()]
            assert operations.review_date(_pupil(aged.kit)) == date(2040, 3, 4)
    finally:
        app.config["RETENTION_YEARS"] = before


def test_a_leap_day_birthday_falls_due_on_1_march(app, make_pupil):
    leap = make_pupil("Leap", "Day", date_of_birth=date(2012, 2, 29))
    with app.test_request_context():
        assert operations.review_date(_pupil(leap)) == date(2037, 3, 1)


def test_the_review_page_lists_them_for_dsl_and_slt_only(app, client, sign_in, step_up, aged):
    for person, allowed in [
        (aged.dsl, True),
        (aged.school.slt, True),
        (aged.school.pastoral, False),
        (aged.school.teacher, False),
        (aged.school.staff, False),
        (aged.school.admin, False),
    ]:
        with time_machine.travel(AFTER_25, tick=False):
            sign_in(person)
            step_up()
            page = client.get("/retention/")
        assert page.status_code == (200 if allowed else 403), person.full_name
        if allowed:
            assert "Kit Fenwick" in page.get_data(as_text=True)
            assert "Lou Marsh" not in page.get_data(as_text=True)
        client.post("/auth/sign-out")


# --- Legal hold -----------------------------------------------------------------------------


def test_a_hold_blocks_disposal_until_lifted_with_a_reason(app, aged):
    with app.test_request_context(), time_machine.travel(AFTER_25, tick=False):
        kit = _pupil(aged.kit)
        operations.set_hold(
            kit, "Civil claim notified by the family's solicitor.", by=_user(aged.dsl)
        )
        with pytest.raises(RetentionRefused, match="legal hold"):
            operations.propose_disposal(kit, "Past retention.", by=_user(aged.dsl))
        with pytest.raises(RetentionRefused, match="reason"):
            operations.lift_hold(kit, "  ", by=_user(aged.dsl))
        operations.lift_hold(kit, "Claim settled.", by=_user(aged.dsl))
        proposal = operations.propose_disposal(kit, "Past retention.", by=_user(aged.dsl))
        # A hold set after the proposal still blocks the approval.
        operations.set_hold(kit, "Police asked us to keep them.", by=_user(aged.dsl))
        with pytest.raises(RetentionRefused, match="legal hold"):
            operations.approve_disposal(proposal, by=_user(aged.dsl2))
        assert _content_intact(aged)


def test_only_a_dsl_sets_a_hold(app, aged):
    with app.test_request_context():
        for person in (
            aged.school.slt,
            aged.school.pastoral,
            aged.school.teacher,
            aged.school.admin,
        ):
            with pytest.raises(RetentionRefused):
                operations.set_hold(_pupil(aged.kit), "Because.", by=_user(person))


def test_the_database_refuses_blanking_while_a_hold_is_in_force(app, aged):
    """Approved, then held: the trigger itself checks the hold, not only the code."""
    with app.test_request_context(), time_machine.travel(AFTER_25, tick=False):
        proposal = operations.propose_disposal(_pupil(aged.kit), "Past.", by=_user(aged.dsl))
        from server.approvals.operations import decide

        decide(proposal, True, by=_user(aged.dsl2))
        operations.set_hold(_pupil(aged.kit), "Inquiry.", by=_user(aged.dsl))
        db.session.flush()
        _refused_raw(_blanking_sql(aged.kit))
        operations.lift_hold(_pupil(aged.kit), "Inquiry over.", by=_user(aged.dsl))
        db.session.flush()
        with db.session.begin_nested() as nested:
            db.session.execute(sa.text(_blanking_sql(aged.kit)))
            nested.rollback()


# --- Two people -----------------------------------------------------------------------------


def test_nobody_disposes_alone(app, aged):
    with app.test_request_context(), time_machine.travel(AFTER_25, tick=False):
        proposal = operations.propose_disposal(
            _pupil(aged.kit), "Past retention.", by=_user(aged.dsl)
        )
        with pytest.raises(RetentionRefused, match="two people"):
            operations.approve_disposal(proposal, by=_user(aged.dsl))
        for person in (
            aged.school.pastoral,
            aged.school.teacher,
            aged.school.staff,
            aged.school.admin,
        ):
            with pytest.raises(RetentionRefused):
                operations.approve_disposal(proposal, by=_user(person))
        for person in (aged.school.slt, aged.school.pastoral, aged.school.staff, aged.school.admin):
            with pytest.raises(RetentionRefused):
                operations.propose_disposal(_pupil(aged.kit), "Past.", by=_user(person))
        assert _content_intact(aged)


def test_records_not_yet_due_cannot_be_proposed(app, aged):
    with (
        app.test_request_context(),
        time_machine.travel(BEFORE_25, tick=False),
        pytest.raises(RetentionRefused, match="kept until 4 March 2035"),
    ):
        operations.propose_disposal(_pupil(aged.kit), "Early.", by=_user(aged.dsl))


def test_the_database_refuses_blanking_without_a_second_persons_approval(app, aged):
    """A proposal alone, or one "approved" by its own proposer (written past the code), does
    not open the guard."""
    with app.test_request_context(), time_machine.travel(AFTER_25, tick=False):
        proposal = operations.propose_disposal(_pupil(aged.kit), "Past.", by=_user(aged.dsl))
        db.session.flush()
        _refused_raw(_blanking_sql(aged.kit))
        from server.approvals.models import AccessDecision

        db.session.add(
            AccessDecision(request_id=proposal.id, approved=True, decided_by_id=aged.dsl.id)
        )
        db.session.flush()
        _refused_raw(_blanking_sql(aged.kit))


# --- Disposal -------------------------------------------------------------------------------


def _dispose(app, aged, approver=None):
    with app.test_request_context(), time_machine.travel(AFTER_25, tick=False):
        proposal = operations.propose_disposal(
            _pupil(aged.kit), "Past the retention period; no hold.", by=_user(aged.dsl)
        )
        removed = operations.approve_disposal(proposal, by=_user(approver or aged.dsl2))
        db.session.commit()
        operations.remove_files(removed)
        return proposal.id


def test_disposal_removes_content_and_files_and_leaves_a_tombstone(app, aged):
    attached = _stored_file(app, aged.numbers[0])
    path = Path(app.config["UPLOAD_DIR"]) / attached.stored_name
    copy = path.read_bytes()  # as a backup would hold it
    with app.test_request_context():
        assert files.decrypt(attached.stored_name, copy) == NOTE

    _dispose(app, aged, approver=aged.school.slt)

    assert not path.exists()
    with app.test_request_context():
        with pytest.raises(FileKeyDestroyed):
            files.decrypt(attached.stored_name, copy)
        for number in aged.numbers:
            incident = incident_by_number(number)
            assert incident.account == DISPOSED_TEXT
            assert incident.location is None
            assert incident.recorded_on_behalf_name is None
            assert all(mark.note is None for mark in incident.body_marks)
            assert all(action.text == DISPOSED_TEXT for action in incident.actions)
            assert all(f.original_name == "disposed" for f in incident.files)
        stones = operations.tombstones(aged.kit)
        assert sorted(stone.incident_number for stone in stones) == sorted(aged.numbers)
        first = next(stone for stone in stones if stone.incident_number == aged.numbers[0])
        assert first.category_names == ["Behaviour"]
        assert (first.proposed_by_id, first.approved_by_id) == (aged.dsl.id, aged.school.slt.id)
        assert first.actions == 1 and first.files == 1
        # Another pupil's record that links to him is hers, and kept whole.
        assert incident_by_number(aged.other).account == "Ada and Kit argued."
        assert operations.due_for_review() == [] or aged.kit not in [
            item.pupil.id for item in operations.due_for_review()
        ]


def test_after_disposal_the_audit_chain_verifies_and_holds_no_content(app, aged):
    _dispose(app, aged)
    with app.test_request_context():
        report = verify_all()
        assert report.first_bad_id is None
        assert report.problems == []
        details = " ".join(db.session.scalars(sa.select(AuditEvent.details)))
        assert "Uncle Rob" not in details
        assert "strategy meeting" not in details
        assert "retention.disposed" in set(db.session.scalars(sa.select(AuditEvent.action)))


def test_a_blanked_record_changed_again_is_still_caught_by_verify(app, aged):
    """The disposal's seals replace the originals; they are checked like any other."""
    _dispose(app, aged)
    with app.test_request_context():
        incident_id = incident_by_number(aged.numbers[0]).id
        with db.session.begin_nested() as nested:
            for trigger in ("incidents_no_update", "incidents_no_change"):
                _drop_trigger_quietly(trigger)
            db.session.execute(
                sa.text("UPDATE incidents SET location = 'Somewhere' WHERE id = :id"),
                {"id": incident_id},
            )
            problems = verify_all().problems
            nested.rollback()
        assert any(f"#{aged.numbers[0]}" in problem for problem in problems)


def _drop_trigger_quietly(name: str) -> None:
    if db.session.get_bind().dialect.name == "sqlite":
        db.session.execute(sa.text(f"DROP TRIGGER IF EXISTS {name}"))
    else:
        db.session.execute(sa.text(f"DROP TRIGGER IF EXISTS {name} ON incidents"))


def test_after_disposal_raw_delete_and_other_updates_are_still_refused(app, aged):
    _dispose(app, aged)
    with app.test_request_context():
        incident_id = incident_by_number(aged.numbers[0]).id
        for statement in (
            f"DELETE FROM incidents WHERE id = {incident_id}",
            f"DELETE FROM actions WHERE incident_id = {incident_id}",
            f"DELETE FROM incident_files WHERE incident_id = {incident_id}",
            f"DELETE FROM disposal_tombstones WHERE incident_id = {incident_id}",
            f"UPDATE incidents SET account = 'Rewritten' WHERE id = {incident_id}",
            f"UPDATE incidents SET occurred_at = created_at WHERE id = {incident_id}",
            f"UPDATE actions SET text = 'Rewritten' WHERE incident_id = {incident_id}",
            f"UPDATE incident_body_marks SET x = 0.9 WHERE incident_id = {incident_id}",
            f"UPDATE disposal_tombstones SET categories = '' WHERE incident_id = {incident_id}",
        ):
            _refused_raw(statement)
        # The other pupils' records: no approval of theirs, so not even blanking.
        _refused_raw(_blanking_sql(aged.young))


def test_raw_delete_of_a_due_pupils_records_is_refused_even_when_approved(app, aged):
    with app.test_request_context(), time_machine.travel(AFTER_25, tick=False):
        proposal = operations.propose_disposal(_pupil(aged.kit), "Past.", by=_user(aged.dsl))
        from server.approvals.operations import decide

        decide(proposal, True, by=_user(aged.dsl2))
        db.session.flush()
        for table in ("incidents", "actions", "incident_files", "incident_body_marks"):
            key = "pupil_id" if table == "incidents" else "incident_id"
            target = (
                str(aged.kit)
                if table == "incidents"
                else f"(SELECT id FROM incidents WHERE pupil_id = {aged.kit})"
            )
            _refused_raw(f"DELETE FROM {table} WHERE {key} IN ({target})")  # noqa: S608


def test_the_blanks_match_the_migrations_guard():
    migration = importlib.import_module("migrations.versions.0012_retention")
    assert migration.DISPOSED_TEXT == DISPOSED_TEXT
    from server.database import BLANKED_ON_DISPOSAL

    # Every table the guard lets blank is one the application blanks and may ask to update.
    assert set(migration.BLANKABLE) == set(BLANKS) == BLANKED_ON_DISPOSAL
    for table, (_pupil_sql, _kept, blanks) in migration.BLANKABLE.items():
        expected = {
            column: None if value is None else f"'{value}'"
            for column, value in BLANKS[table].items()
        }
        assert blanks == expected, table


def test_the_disposed_incident_page_shows_the_blanks_not_the_content(
    app, client, sign_in, step_up, aged
):
    attached = _stored_file(app, aged.numbers[0])
    _dispose(app, aged)
    sign_in(aged.dsl)
    step_up()
    page = client.get(f"/incidents/{aged.numbers[0]}")
    assert page.status_code == 200
    assert "Uncle Rob" not in page.get_data(as_text=True)
    assert DISPOSED_TEXT in page.get_data(as_text=True)
    download = client.get(f"/incidents/{aged.numbers[0]}/files/{attached.id}")
    assert download.status_code == 410
    assert "disposed of" in download.get_data(as_text=True)


def test_subject_access_leaves_disposed_records_out(app, aged):
    from server.subject_access import operations as subject_access
    from server.subject_access.models import SubjectAccessExport

    with app.test_request_context():
        subject_access.start_export(
            _pupil(aged.kit), by=_user(aged.dsl), staff=True, third_parties=True
        )
        db.session.commit()
    _dispose(app, aged)
    with app.test_request_context():
        # The export being reviewed went with the records.
        assert db.session.scalar(sa.select(sa.func.count(SubjectAccessExport.id))) == 0
        export = subject_access.start_export(
            _pupil(aged.kit), by=_user(aged.dsl), staff=True, third_parties=True
        )
        doc = subject_access.document(export)
        assert [item["number"] for item in doc["incidents"]] == [aged.other]


# --- Through HTTP ---------------------------------------------------------------------------


def _client(app: Flask) -> HavenClient:
    app.test_client_class = HavenClient
    return app.test_client()


def test_disposal_over_http_needs_two_people_with_fresh_passkeys(
    app, client, sign_in, step_up, aged
):
    second = _client(app)
    with time_machine.travel(AFTER_25, tick=False):
        sign_in(aged.dsl)
        sign_in(aged.dsl2, test_client=second)
        # Without a fresh passkey check: sent to step up, nothing proposed.
        refused = client.post(
            f"/retention/pupils/{aged.kit}/propose", data={"propose-reason": "Past."}
        )
        assert refused.status_code == 302 and "/passkeys/step-up" in refused.location
        step_up()
        step_up(second)
        proposed = client.post(
            f"/retention/pupils/{aged.kit}/propose", data={"propose-reason": "Past retention."}
        )
        assert proposed.status_code == 303
        with app.test_request_context():
            proposal = operations.pending_proposal(aged.kit)
            assert proposal is not None
            proposal_id = proposal.id
        # The proposer cannot approve, whatever the page shows.
        own = client.post(f"/retention/disposals/{proposal_id}/approve")
        assert own.status_code == 303
        assert _content_intact(aged)
        page = client.get(f"/retention/pupils/{aged.kit}")
        assert "Someone else must approve" in page.get_data(as_text=True)
        approved = second.post(f"/retention/disposals/{proposal_id}/approve")
        assert approved.status_code == 303
        shown = second.get(f"/retention/pupils/{aged.kit}").get_data(as_text=True)
    assert not _content_intact(aged)
    assert f"#{aged.numbers[0]}" in shown and "Dara Deputy" in shown and "Dee Lead" in shown
    assert "Uncle Rob" not in shown


@pytest.mark.parametrize("role", ["staff", "teacher", "pastoral", "admin"])
def test_other_roles_can_neither_propose_nor_approve(app, client, sign_in, step_up, aged, role):
    with app.test_request_context(), time_machine.travel(AFTER_25, tick=False):
        proposal = operations.propose_disposal(_pupil(aged.kit), "Past.", by=_user(aged.dsl))
        db.session.commit()
        proposal_id = proposal.id
    person = getattr(aged.school, role)
    with time_machine.travel(AFTER_25, tick=False):
        sign_in(person)
        step_up()
        for url, data in [
            (f"/retention/disposals/{proposal_id}/approve", {}),
            (f"/retention/disposals/{proposal_id}/decline", {}),
            (f"/retention/pupils/{aged.kit}/propose", {"propose-reason": "x"}),
            (f"/retention/pupils/{aged.kit}/hold", {"hold-reason": "x"}),
        ]:
            assert client.post(url, data=data).status_code == 403, url
        assert client.get(f"/retention/pupils/{aged.kit}").status_code == 403
    assert _content_intact(aged)


def test_slt_may_approve_but_not_propose_or_hold_over_http(app, client, sign_in, step_up, aged):
    with time_machine.travel(AFTER_25, tick=False):
        sign_in(aged.school.slt)
        step_up()
        assert (
            client.post(
                f"/retention/pupils/{aged.kit}/propose", data={"propose-reason": "x"}
            ).status_code
            == 403
        )
        assert (
            client.post(f"/retention/pupils/{aged.kit}/hold", data={"hold-reason": "x"}).status_code
            == 403
        )
        assert client.get(f"/retention/pupils/{aged.kit}").status_code == 200


def test_hold_over_http_is_audited_and_blocks_the_proposal(app, client, sign_in, step_up, aged):
    with time_machine.travel(AFTER_25, tick=False):
        sign_in(aged.dsl)
        step_up()
        client.post(f"/retention/pupils/{aged.kit}/hold", data={"hold-reason": "Claim pending."})
        client.post(f"/retention/pupils/{aged.kit}/propose", data={"propose-reason": "Past."})
        page = client.get(f"/retention/pupils/{aged.kit}").get_data(as_text=True)
        empty = client.post(f"/retention/pupils/{aged.kit}/hold/lift", data={"hold-reason": ""})
        assert empty.status_code == 303
    assert "Claim pending." in page
    with app.test_request_context():
        assert operations.pending_proposal(aged.kit) is None
        assert operations.hold_in_force(aged.kit) is not None
        actions = list(db.session.scalars(sa.select(AuditEvent.action)))
        assert "retention.hold_set" in actions


def test_a_declined_disposal_changes_nothing(app, aged):
    with app.test_request_context(), time_machine.travel(AFTER_25, tick=False):
        proposal = operations.propose_disposal(_pupil(aged.kit), "Past.", by=_user(aged.dsl))
        operations.decline_disposal(proposal, by=_user(aged.dsl2))
        db.session.commit()
        with pytest.raises(RetentionRefused, match="already been decided"):
            operations.find_proposal(proposal.id)
        db.session.flush()
        _refused_raw(_blanking_sql(aged.kit))
    assert _content_intact(aged)


def test_disposal_proposals_stay_off_the_access_approvals_page(app, client, sign_in, step_up, aged):
    with app.test_request_context(), time_machine.travel(AFTER_25, tick=False):
        proposal = operations.propose_disposal(_pupil(aged.kit), "Past.", by=_user(aged.dsl))
        db.session.commit()
        proposal_id = proposal.id
    sign_in(aged.dsl2)
    step_up()
    assert "Kit Fenwick" not in client.get("/approvals/").get_data(as_text=True)
    assert client.post(f"/approvals/{proposal_id}/approve").status_code == 404
    with app.test_request_context():
        assert db.session.get(AccessRequest, proposal_id).pending


# --- Files ----------------------------------------------------------------------------------


def test_files_written_before_per_file_keys_still_read(app):
    """A file in the old format (under the master key) is read as before."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    with app.test_request_context():
        name = "0" * 31 + "1"
        nonce = b"\x01" * 12
        sealed = AESGCM(files._file_key()).encrypt(nonce, b"old file", name.encode())
        assert files.decrypt(name, b"HVF1" + nonce + sealed) == b"old file"


# --- Helpers --------------------------------------------------------------------------------


def _blanking_sql(pupil_id: int) -> str:
    return (
        f"UPDATE incidents SET account = '{DISPOSED_TEXT}', content_hash = '{'0' * 64}', "
        "location = NULL, parents_reason = NULL, recorded_on_behalf_name = NULL, "
        f"recorded_on_behalf_role = NULL WHERE pupil_id = {pupil_id}"
    )


def _refused_raw(statement: str) -> None:
    with pytest.raises(sa.exc.DBAPIError) as refused, db.session.begin_nested():
        db.session.execute(sa.text(statement))
    assert "append-only" in str(refused.value), statement


def _content_intact(aged) -> bool:
    with aged.app.test_request_context():
        incident = incident_by_number(aged.numbers[0])
        return incident.account == ACCOUNT and not db.session.scalar(
            sa.select(sa.func.count(DisposalTombstone.id))
        )


def test_rekey_gives_old_files_keys_of_their_own(app, runner, aged):
    """A file written under the master key (before 0012) gets a key of its own, so disposing
    of it later makes every copy taken after the rekey unreadable."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    attached = _stored_file(app, aged.numbers[0])
    path = Path(app.config["UPLOAD_DIR"]) / attached.stored_name
    with app.test_request_context():
        nonce = b"\x02" * 12
        sealed = AESGCM(files._file_key()).encrypt(nonce, NOTE, attached.stored_name.encode())
        path.write_bytes(b"HVF1" + nonce + sealed)
        files.destroy([attached.stored_name])
        db.session.commit()
        assert files.load(attached.stored_name) == NOTE  # the old format needs no key row
    result = runner.invoke(args=["files", "rekey"])
    assert result.exit_code == 0, result.output
    assert "1 files given keys of their own" in result.output
    assert path.read_bytes().startswith(b"HVF2")
    copy = path.read_bytes()
    _dispose(app, aged)
    with app.test_request_context(), pytest.raises(FileKeyDestroyed):
        files.decrypt(attached.stored_name, copy)


# --- Records imported from another school (server.transfer) ---------------------------------

OLD_SCHOOL = "Brookside Academy"
OLD_ACCOUNT = "Kit told Mr Hale that Uncle Rob shouted at him all weekend."
OLD_NOTE = b"Brookside's note of the call to children's social care.\n"
OLD_PDF = b"%PDF-1.4\nBrookside chronology of Kit Fenwick: Uncle Rob shouted.\n"


def _file_item(name: str, content_type: str, data: bytes) -> dict:
    import base64
    import hashlib

    return {
        "name": name,
        "content_type": content_type,
        "data": base64.b64encode(data).decode(),
        "sha256": hashlib.sha256(data).hexdigest(),
    }


def _import_for(
    app, pupil_id: int, number: int = 41, account: str = OLD_ACCOUNT, linked=(), origin=None
) -> int:
    """Kit's file from Brookside, imported through the transfer's own storing of records;
    returns the incoming transfer's id."""
    from server.transfer import imported
    from server.transfer.models import IncomingTransfer

    record = {
        "format": "haven-pupil-record",
        "version": 1,
        "pupil": {"legal_first_name": "Kit", "legal_last_name": "Fenwick", "upn": None,
                  "date_of_birth": BORN.isoformat()},
        "incidents": [
            {
                "uuid": f"brookside-{number}",
                "number": number,
                "occurred_at": "2019-05-01T10:00:00+00:00",
                "account": account,
                "recorded_by": "Pat Hale",
                "linked_pupils": list(linked),
                **({"origin_school": origin} if origin else {}),
                "categories": ["Safeguarding / Emotional abuse"],
                "actions": [{"text": "Called social care about Uncle Rob.",
                             "recorded_at": "2019-05-01T11:00:00+00:00",
                             "recorded_by": "Pat Hale"}],
                "events": [],
                "body_marks": [],
                "files": [_file_item("call-note.txt", "text/plain", OLD_NOTE)],
            }
        ],
        "chronology_pdf": _file_item("chronology.pdf", "application/pdf", OLD_PDF),
    }  # fmt: skip
    with app.test_request_context():
        row = IncomingTransfer(
            package_id=f"package-{number}",
            package_sha256="1" * 64,
            sender_name=OLD_SCHOOL,
            sender_urn="123456",
            sender_fingerprint="F" * 40,
            package_created_at="2026-11-30T09:00:00+00:00",
            received_via="upload",
            stored_name=files.store(b"the package as it arrived: " + OLD_ACCOUNT.encode()),
            status="imported",
            pupil_id=pupil_id,
        )
        db.session.add(row)
        db.session.flush()
        imported.store_records(row, _pupil(pupil_id), record)
        db.session.commit()
        return row.id


def _imported_rows(app, transfer_id: int):
    from server.transfer.models import ImportedFile, ImportedIncident, IncomingTransfer

    with app.test_request_context():
        row = db.session.get(IncomingTransfer, transfer_id)
        incidents = list(
            db.session.scalars(
                sa.select(ImportedIncident).where(ImportedIncident.incoming_transfer_id == row.id)
            )
        )
        stored = list(
            db.session.scalars(
                sa.select(ImportedFile).where(ImportedFile.incoming_transfer_id == row.id)
            )
        )
        for item in [row, *incidents, *stored]:
            db.session.expunge(item)
        return row, incidents, stored


def test_imported_records_fall_due_and_a_hold_blocks_their_disposal(app, aged, make_pupil):
    only_imported = make_pupil("Noa", "Hale", date_of_birth=BORN)
    _import_for(app, only_imported, number=7)
    with (
        app.test_request_context(),
        time_machine.travel(BEFORE_25, tick=False),
        pytest.raises(RetentionRefused, match="kept until"),
    ):
        operations.propose_disposal(_pupil(only_imported), "Early.", by=_user(aged.dsl))
    with app.test_request_context(), time_machine.travel(AFTER_25, tick=False):
        due = {item.pupil.id: item for item in operations.due_for_review()}
        assert only_imported in due
        assert (due[only_imported].incidents, due[only_imported].imported) == (1, 1)
        operations.set_hold(_pupil(only_imported), "Claim against Brookside.", by=_user(aged.dsl))
        with pytest.raises(RetentionRefused, match="legal hold"):
            operations.propose_disposal(_pupil(only_imported), "Past.", by=_user(aged.dsl))
        operations.lift_hold(_pupil(only_imported), "Claim settled.", by=_user(aged.dsl))
        proposal = operations.propose_disposal(_pupil(only_imported), "Past.", by=_user(aged.dsl))
        assert "imported from other schools: Brookside Academy #7" in " ".join(
            proposal.summary_lines
        )
        with pytest.raises(RetentionRefused, match="two people"):
            operations.approve_disposal(proposal, by=_user(aged.dsl))
        # A hold set while the proposal waits blocks its approval too.
        operations.set_hold(_pupil(only_imported), "New claim.", by=_user(aged.dsl2))
        with pytest.raises(RetentionRefused, match="legal hold"):
            operations.approve_disposal(proposal, by=_user(aged.dsl2))


def test_disposal_blanks_imported_records_and_destroys_their_files(app, aged):
    from server.transfer.models import OutgoingTransfer

    transfer_id = _import_for(app, aged.kit)
    row, incidents, stored = _imported_rows(app, transfer_id)
    with app.test_request_context():
        # A package this school made for Kit's next school, kept until its receipt comes.
        outgoing = OutgoingTransfer(
            package_id="outgoing-1",
            pupil_id=aged.kit,
            created_by_id=aged.dsl.id,
            recipient_name="Hillcrest High",
            recipient_fingerprint="E" * 40,
            recipient_signing_key="k",
            recipient_encryption_key="k",
            package_sha256="2" * 64,
            stored_name=files.store(b"outgoing package: " + ACCOUNT.encode()),
        )
        db.session.add(outgoing)
        db.session.commit()
        outgoing_id, outgoing_name = outgoing.id, outgoing.stored_name
    upload_dir = Path(app.config["UPLOAD_DIR"])
    names = [file.stored_name for file in stored] + [row.stored_name, outgoing_name]
    copies = {name: (upload_dir / name).read_bytes() for name in names}  # as a backup holds
    with app.test_request_context():
        assert files.decrypt(stored[0].stored_name, copies[stored[0].stored_name]) in (
            OLD_NOTE,
            OLD_PDF,
        )

    _dispose(app, aged, approver=aged.school.slt)

    from server.retention.blanking import DISPOSED_IMPORTED_CONTENT

    _, incidents, stored = _imported_rows(app, transfer_id)
    assert [incident.content for incident in incidents] == [DISPOSED_IMPORTED_CONTENT]
    assert incidents[0].data["account"] == DISPOSED_TEXT
    assert {file.original_name for file in stored} == {"disposed"}
    assert {file.kind for file in stored} == {"attachment", "chronology"}
    with app.test_request_context():
        for name, copy in copies.items():
            assert not (upload_dir / name).exists()
            with pytest.raises(FileKeyDestroyed):
                files.decrypt(name, copy)
        assert db.session.get(OutgoingTransfer, outgoing_id).stored_name is None
        from server.transfer.models import IncomingTransfer
        from server.transfer.operations import TransferRefused, opened_record

        with pytest.raises(TransferRefused, match="disposed of") as refused:
            opened_record(db.session.get(IncomingTransfer, transfer_id))
        assert refused.value.status == 410
        stones = operations.imported_tombstones(aged.kit)
        assert len(stones) == 1
        stone = stones[0]
        assert (stone.origin_school, stone.origin_urn, stone.source_number) == (
            OLD_SCHOOL,
            "123456",
            41,
        )
        assert stone.occurred_at == datetime.fromisoformat("2019-05-01T10:00:00+00:00")
        assert stone.category_names == ["Safeguarding / Emotional abuse"]
        assert (stone.actions, stone.files) == (1, 1)
        assert (stone.proposed_by_id, stone.approved_by_id) == (aged.dsl.id, aged.school.slt.id)
        assert operations.status(_pupil(aged.kit)).incidents == 0
        report = verify_all()
        assert report.first_bad_id is None and report.problems == []
        details = " ".join(db.session.scalars(sa.select(AuditEvent.details)))
        assert "Uncle Rob" not in details
        for table in ("imported_incidents", "imported_files"):
            text = " ".join(
                str(value)
                for value in db.session.execute(sa.text(f"SELECT * FROM {table}"))  # noqa: S608
            )
            assert "Uncle Rob" not in text and "call-note" not in text


def test_imported_records_refuse_every_other_change_after_disposal(app, aged, make_pupil):
    transfer_id = _import_for(app, aged.kit)
    other = make_pupil("Sam", "Hale", date_of_birth=BORN)
    other_transfer = _import_for(app, other, number=9)
    _dispose(app, aged)
    _, incidents, stored = _imported_rows(app, transfer_id)
    _, kept_incidents, _ = _imported_rows(app, other_transfer)
    incident_id, file_id = incidents[0].id, stored[0].id
    from server.retention.blanking import DISPOSED_IMPORTED_CONTENT

    with app.test_request_context():
        for statement in (
            f"DELETE FROM imported_incidents WHERE id = {incident_id}",
            f"DELETE FROM imported_files WHERE id = {file_id}",
            f"DELETE FROM imported_tombstones WHERE imported_incident_id = {incident_id}",
            f"UPDATE imported_incidents SET content = 'Rewritten' WHERE id = {incident_id}",
            f"UPDATE imported_incidents SET source_number = 1 WHERE id = {incident_id}",
            f"UPDATE imported_incidents SET occurred_at = imported_at WHERE id = {incident_id}",
            f"UPDATE imported_files SET original_name = 'x.txt' WHERE id = {file_id}",
            f"UPDATE imported_files SET stored_name = 'elsewhere' WHERE id = {file_id}",
            f"UPDATE imported_tombstones SET categories = '' WHERE imported_incident_id = "
            f"{incident_id}",
            # Another pupil's imported records: no approved disposal of theirs, no blanking.
            f"UPDATE imported_incidents SET content = '{DISPOSED_IMPORTED_CONTENT}' "
            f"WHERE id = {kept_incidents[0].id}",
            f"UPDATE imported_files SET original_name = 'disposed', sha256 = '{'0' * 64}' "
            f"WHERE incoming_transfer_id = {other_transfer}",
        ):
            _refused_raw(statement)
        # Nor can another transfer be pointed at the disposed pupil to have its files blanked.
        _refused_raw(
            f"UPDATE incoming_transfers SET pupil_id = {aged.kit} WHERE id = {other_transfer}"
        )
        assert OLD_ACCOUNT in db.session.scalar(
            sa.text(f"SELECT content FROM imported_incidents WHERE id = {kept_incidents[0].id}")  # noqa: S608
        )


def test_disposal_of_imported_records_over_http(app, client, sign_in, step_up, aged):
    transfer_id = _import_for(app, aged.kit)
    _, incidents, stored = _imported_rows(app, transfer_id)
    second = _client(app)
    with time_machine.travel(AFTER_25, tick=False):
        sign_in(aged.dsl)
        sign_in(aged.dsl2, test_client=second)
        step_up()
        step_up(second)
        before = client.get(f"/transfers/imported/{incidents[0].id}").get_data(as_text=True)
        assert "Uncle Rob" in before
        page = client.get(f"/retention/pupils/{aged.kit}").get_data(as_text=True)
        assert "1 imported from other schools" in page
        proposed = client.post(
            f"/retention/pupils/{aged.kit}/propose", data={"propose-reason": "Past retention."}
        )
        assert proposed.status_code == 303
        with app.test_request_context():
            proposal_id = operations.pending_proposal(aged.kit).id
        assert second.post(f"/retention/disposals/{proposal_id}/approve").status_code == 303
        shown = second.get(f"/retention/pupils/{aged.kit}").get_data(as_text=True)
        after = client.get(f"/transfers/imported/{incidents[0].id}")
        gone = client.get(f"/transfers/imported/files/{stored[0].id}")
        chronology = client.get(f"/pupils/{aged.kit}").get_data(as_text=True)
    assert 'id="imported-tombstones"' in shown and OLD_SCHOOL in shown and "#41" in shown
    assert "Uncle Rob" not in shown
    assert after.status_code == 200 and "Uncle Rob" not in after.get_data(as_text=True)
    assert DISPOSED_TEXT in after.get_data(as_text=True)
    assert gone.status_code == 410
    assert "Uncle Rob" not in chronology


def test_a_record_passed_on_by_the_sender_is_tombstoned_with_the_school_that_recorded_it(
    app, aged
):
    """A record the sender had itself imported names its origin: that is the school kept."""
    _import_for(app, aged.kit, number=5, origin={"name": "Oakfield Primary", "urn": "100200"})
    _dispose(app, aged)
    with app.test_request_context():
        [stone] = operations.imported_tombstones(aged.kit)
        assert (stone.origin_school, stone.origin_urn, stone.source_number) == (
            "Oakfield Primary",
            "100200",
            5,
        )


def test_a_transfer_package_leaves_disposed_records_out(app, aged):
    from server.transfer.record import build_record

    _dispose(app, aged)
    with app.test_request_context():
        # A later local record about the pupil still goes; the disposed ones (their files'
        # keys destroyed) are not passed on to the next school.
        record, _ = build_record(_user(aged.dsl), _pupil(aged.kit))
        numbers = [incident["number"] for incident in record["incidents"]]
        assert not set(numbers) & set(aged.numbers)
