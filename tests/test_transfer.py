"""Transfer of a pupil's file between two Havens (issue 13, SPEC §8).

Two schools in one test, each with its own database, instance directory and key pair: the
sender (Larkfield) and the receiver (Brookside). Packages go by file (downloaded, uploaded) and
by endpoint (the sender's requests reach the receiver's app through a requests adapter). Every
package and receipt produced is validated against docs/transfer-package.schema.json.
"""

import base64
import io
import json
import uuid
from datetime import UTC, date, datetime
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import urlsplit

import jsonschema
import pytest
import requests
import sqlalchemy as sa
from flask import g
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict

from server.audit.models import AuditEvent
from server.auth.models import User, UserSession
from server.auth.roles import Role
from server.auth.sessions import SESSION_TOKEN_KEY, token_digest
from server.clock import utcnow
from server.extensions import db
from server.incidents.files import Upload
from server.incidents.models import Category
from server.incidents.operations import (
    add_action,
    change_status,
    correct_incident,
    incident_by_number,
)
from server.incidents.submission import submit_incident
from server.pupils.models import Pupil
from server.pupils.upn import check_letter
from server.push.models import PushDelivery
from server.transfer import operations
from server.transfer.keys import PublicSchoolKey, own_school_key, transfer_keys
from server.transfer.models import (
    ImportedFile,
    ImportedIncident,
    IncomingTransfer,
    OutgoingTransfer,
    TransferReminder,
)
from server.transfer.package import PackageRefused, canonical, open_package, seal, verify_package
from tests.conftest import DEFAULT_PASSWORD, HavenClient
from tests.own_database import fresh_school

SCHEMA = json.loads(
    (Path(__file__).resolve().parent.parent / "docs" / "transfer-package.schema.json").read_text()
)
FILE_NOTE = b"Notes from the meeting with mum, typed up by the DSL.\n"
ACCOUNT = "Said: “Dad shouted and threw the remote.” Bruise on the left forearm."


def _valid_upn(body: str) -> str:
    return check_letter(body) + body


def validate(document: dict, definition: str | None = None) -> None:
    """Against the schema's top level (a package) or one of its $defs."""
    schema = SCHEMA
    if definition is not None:
        schema = {"$schema": SCHEMA["$schema"], "$defs": SCHEMA["$defs"],
                  "$ref": f"#/$defs/{definition}"}  # fmt: skip
    jsonschema.Draft202012Validator(schema).validate(document)


# --- Two schools ---------------------------------------------------------------------------


class AppAdapter(BaseAdapter):
    """requests → a Haven app's test client, by host name: one Haven posting to another."""

    def __init__(self, apps: dict):
        super().__init__()
        self.apps = apps
        self.sent: list[str] = []

    def send(self, request, **kwargs):
        url = urlsplit(request.url)
        app = self.apps.get(url.hostname)
        if app is None:
            raise requests.ConnectionError(f"no such host {url.hostname}")
        self.sent.append(request.url)
        answer = app.test_client().open(
            url.path,
            method=request.method,
            data=request.body,
            headers={"Content-Type": request.headers.get("Content-Type", "")},
        )
        response = requests.Response()
        response.status_code = answer.status_code
        response._content = answer.get_data()
        response.headers = CaseInsensitiveDict(dict(answer.headers))
        response.url, response.request = request.url, request
        return response

    def close(self):
        pass


def _session_factory(adapter: AppAdapter):
    def factory():
        session = requests.Session()
        session.mount("http://", adapter)
        return session

    return factory


@pytest.fixture(scope="module")
def larkfield(tmp_path_factory):
    yield from fresh_school(
        tmp_path_factory,
        "larkfield",
        SCHOOL_NAME="Larkfield Primary",
        SCHOOL_URN="100001",
        SERVER_BASE_URL="http://larkfield.test",
    )


@pytest.fixture(scope="module")
def brookside(tmp_path_factory):
    yield from fresh_school(
        tmp_path_factory,
        "brookside",
        SCHOOL_NAME="Brookside Academy",
        SCHOOL_URN="200002",
        SERVER_BASE_URL="http://brookside.test",
    )


@pytest.fixture
def network(larkfield, brookside):
    """Each school's outgoing HTTP reaches the other's app; anything else fails to connect."""
    adapter = AppAdapter({"larkfield.test": larkfield.app, "brookside.test": brookside.app})
    for school in (larkfield, brookside):
        school.app.config["TRANSFER_HTTP_SESSION"] = _session_factory(adapter)
    yield adapter
    for school in (larkfield, brookside):
        school.app.config.pop("TRANSFER_HTTP_SESSION", None)


@pytest.fixture
def offline(larkfield, brookside):
    """No network: receipts go back by file."""
    adapter = AppAdapter({})
    for school in (larkfield, brookside):
        school.app.config["TRANSFER_HTTP_SESSION"] = _session_factory(adapter)
    yield adapter
    for school in (larkfield, brookside):
        school.app.config.pop("TRANSFER_HTTP_SESSION", None)


def signed_in_dsl(school) -> HavenClient:
    """A DSL of `school` signed in and just stepped up with a passkey (the ceremony itself is
    tested in tests/test_passkeys.py)."""
    school.app.test_client_class = HavenClient
    client = school.app.test_client()
    response = client.post(
        "/auth/sign-in", data={"email": "dsl@school.example", "password": DEFAULT_PASSWORD}
    )
    assert response.status_code == 302
    with client.session_transaction() as cookie:
        token = cookie[SESSION_TOKEN_KEY]
    with school.app.app_context():
        row = db.session.scalar(
            sa.select(UserSession).where(UserSession.token_hash == token_digest(token))
        )
        row.stepped_up_at = row.last_assertion_at = row.review_active_at = utcnow()
        db.session.commit()
    return client


def _stub_session():
    return SimpleNamespace(last_assertion_at=utcnow(), stepped_up_at=None, review_active_at=None)


def pupil_with_a_file(school, first: str, body: str) -> tuple[int, list[int]]:
    """A pupil (valid UPN) with two incidents: one with a body map, a file, an action, a
    re-categorisation and a closure; one marked entered in error."""
    with school.app.test_request_context():
        pupil = Pupil(
            upn=_valid_upn(body),
            legal_first_name=first,
            legal_last_name="Thorne",
            preferred_first_name=f"{first[:3]}",
            date_of_birth=date(2016, 5, 17),
            year_group="5",
            on_roll=True,
        )
        db.session.add(pupil)
        db.session.commit()
        pupil_id = pupil.id
        neglect = db.session.scalar(sa.select(Category.id).where(Category.name == "Neglect"))
    numbers = []
    for account, files in ((ACCOUNT, [Upload("meeting-notes.txt", FILE_NOTE)]), ("Mistake.", [])):
        with school.app.test_request_context():
            receipt = submit_incident(
                db.session.get(User, school.people.staff.id),
                {
                    "uuid": str(uuid.uuid4()),
                    "pupil_id": pupil_id,
                    "occurred_at": utcnow().replace(microsecond=0).isoformat(),
                    "location": "Classroom",
                    "account": account,
                    "parents_contacted": "yes",
                    "medical_attention": "not_needed",
                    "category_ids": [school.category_id],
                    "body_marks": [
                        {"side": "front", "x": 0.3, "y": 0.4, "kind": "bruise", "note": "Forearm"}
                    ],
                },
                files,
            )
            db.session.commit()
            numbers.append(receipt.number)
    with school.app.test_request_context():
        g.user_session = _stub_session()
        dsl = db.session.get(User, school.people.dsl.id)
        first_incident = incident_by_number(numbers[0])
        add_action(dsl, first_incident, "Phoned mum; she will come in tomorrow.")
        correct_incident(dsl, first_incident, "recategorised", "It is neglect.", [neglect])
        change_status(dsl, first_incident, "closed", "Referred on; closed here.")
        correct_incident(dsl, incident_by_number(numbers[1]), "entered_in_error", "Wrong child.")
        db.session.commit()
    return pupil_id, numbers


def school_key_file(school) -> bytes:
    response = signed_in_dsl(school).get("/transfers/school-key.json")
    assert response.status_code == 200
    validate(json.loads(response.data), "school_key")
    return response.data


def create_by_page(sender, receiver, pupil_id: int) -> tuple[HavenClient, int]:
    client = signed_in_dsl(sender)
    response = client.post(
        "/transfers/new",
        data={
            "pupil_id": str(pupil_id),
            "fingerprint_checked": "yes",
            "key_file": (io.BytesIO(school_key_file(receiver)), "brookside-key.json"),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    transfer_id = int(response.headers["Location"].rstrip("/").split("/")[-1])
    return client, transfer_id


def opened(school, package: dict) -> dict:
    with school.app.app_context():
        keys = transfer_keys()
        return open_package(verify_package(canonical(package), keys.fingerprint), keys)


def count(school, table: str) -> int:
    return school.count(table)


def outgoing_row(school, transfer_id: int) -> OutgoingTransfer:
    with school.app.app_context():
        row = db.session.get(OutgoingTransfer, transfer_id)
        db.session.expunge(row)
        return row


def records_count(school) -> tuple[int, int, int]:
    return tuple(
        count(school, table)
        for table in ("incoming_transfers", "imported_incidents", "imported_files")
    )


# --- By file -----------------------------------------------------------------------------------


@pytest.mark.own_database
def test_a_pupils_file_goes_by_file_and_the_receipt_comes_back(larkfield, brookside, offline):
    pupil_id, numbers = pupil_with_a_file(larkfield, "Mia", "201202012345")
    sender, transfer_id = create_by_page(larkfield, brookside, pupil_id)
    assert outgoing_row(larkfield, transfer_id).status == "prepared"

    response = sender.get(f"/transfers/out/{transfer_id}/package")
    assert response.status_code == 200
    assert response.headers["Content-Disposition"].startswith("attachment")
    package_bytes = response.data
    package = json.loads(package_bytes)
    validate(package)
    record = opened(brookside, package)
    validate(record, "record")
    assert [i["number"] for i in record["incidents"]] == numbers
    first, second = record["incidents"]
    assert first["account"] == ACCOUNT and first["categories"] == ["Safeguarding – Neglect"]
    assert first["status"] == "closed" and second["entered_in_error"] is True
    assert [e["kind"] for e in first["events"]] == ["recategorised", "closed"]
    assert first["actions"][0]["text"] == "Phoned mum; she will come in tomorrow."
    assert first["body_marks"][0]["kind"] == "bruise"
    assert base64.b64decode(first["files"][0]["data"]) == FILE_NOTE
    assert base64.b64decode(record["chronology_pdf"]["data"]).startswith(b"%PDF-")
    assert outgoing_row(larkfield, transfer_id).status == "sent"

    # The receiver checks the package; nothing is imported until its DSL confirms.
    before = records_count(brookside)
    receiver = signed_in_dsl(brookside)
    response = receiver.post(
        "/transfers/in/upload",
        data={"package_file": (io.BytesIO(package_bytes), "package.json")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    incoming_path = response.headers["Location"]
    assert records_count(brookside) == (before[0] + 1, before[1], before[2])
    page = receiver.get(incoming_path).get_data(as_text=True)
    with larkfield.app.app_context():
        assert own_school_key().fingerprint in page  # read over the phone before importing
    assert "Not yet checked" in page

    # Without the fingerprint check, nothing is imported.
    refused = receiver.post(incoming_path + "/import", data={"pupil": "new"})
    assert refused.status_code == 303
    assert records_count(brookside) == (before[0] + 1, before[1], before[2])

    response = receiver.post(
        incoming_path + "/import", data={"pupil": "new", "fingerprint_checked": "yes"}
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    assert records_count(brookside) == (before[0] + 1, before[1] + 2, before[2] + 2)
    chronology_url = response.headers["Location"]
    page = receiver.get(chronology_url).get_data(as_text=True)
    assert "From Larkfield Primary" in page and "read-only" in page
    assert "Dad shouted and threw the remote." in page
    assert "Phoned mum; she will come in tomorrow." in page
    assert "Body map: 1. bruise (front): Forearm" in page
    assert "Entered in error" in page
    with brookside.app.app_context():
        pupil = db.session.scalar(sa.select(Pupil).where(Pupil.upn == record["pupil"]["upn"]))
        assert pupil.legal_first_name == "Mia" and pupil.date_of_birth == date(2016, 5, 17)
        imported = db.session.scalars(
            sa.select(ImportedIncident).where(ImportedIncident.pupil_id == pupil.id)
        ).all()
        assert sorted(i.source_number for i in imported) == numbers
        attachment = db.session.scalar(
            sa.select(ImportedFile).where(
                ImportedFile.kind == "attachment",
                ImportedFile.imported_incident_id.in_([i.id for i in imported]),
            )
        )
        imported_id, file_id = imported[0].id, attachment.id
        viewed = db.session.scalar(
            sa.select(AuditEvent)
            .where(AuditEvent.action == "pupil.viewed")
            .order_by(AuditEvent.id.desc())
        )
        assert sorted(json.loads(viewed.details)["imported"]) == sorted(i.id for i in imported)

    # Opening one, and its file, is audited like an incident.
    assert receiver.get(f"/transfers/imported/{imported_id}").status_code == 200
    download = receiver.get(f"/transfers/imported/files/{file_id}")
    assert download.data == FILE_NOTE
    with brookside.app.app_context():
        actions = db.session.scalars(
            sa.select(AuditEvent.action).where(AuditEvent.object_id == str(pupil.id))
        ).all()
    assert {"transfer.imported", "imported_incident.viewed", "imported_file.downloaded"} <= set(
        actions
    )

    # No network: the receipt goes back as a file, which the sender uploads.
    response = receiver.get(incoming_path + "/receipt")
    assert response.status_code == 200
    receipt = json.loads(response.data)
    validate(receipt, "receipt")
    assert receipt["receipt"]["status"] == "confirmed"
    response = sender.post(
        "/transfers/receipts",
        data={"receipt_file": (io.BytesIO(response.data), "receipt.json")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    row = outgoing_row(larkfield, transfer_id)
    assert row.status == "confirmed" and row.received_at and row.confirmed_at
    page = sender.get(f"/transfers/out/{transfer_id}").get_data(as_text=True)
    assert 'data-status="confirmed"' in page and "Not yet" not in page


@pytest.mark.own_database
def test_imported_records_cannot_be_changed_or_deleted(larkfield, brookside):
    if count(brookside, "imported_incidents") == 0:
        pytest.skip("needs the file transfer above")
    for table in ("imported_incidents", "imported_files"):
        for statement in (f"UPDATE {table} SET imported_at = imported_at", f"DELETE FROM {table}"):
            with brookside.app.app_context(), pytest.raises(sa.exc.DatabaseError):
                db.session.execute(sa.text(statement))
                db.session.commit()


# --- By endpoint -------------------------------------------------------------------------------


@pytest.mark.own_database
def test_a_pupils_file_goes_by_endpoint_and_the_receipt_comes_back_by_itself(
    larkfield, brookside, network
):
    pupil_id, numbers = pupil_with_a_file(larkfield, "Noah", "201202054321")
    sender, transfer_id = create_by_page(larkfield, brookside, pupil_id)
    before = records_count(brookside)

    response = sender.post(f"/transfers/out/{transfer_id}/send", data={})
    assert response.status_code == 302
    assert network.sent == ["http://brookside.test/transfers/inbox"]
    row = outgoing_row(larkfield, transfer_id)
    assert row.delivery_error == ""
    assert row.status == "received" and row.sent_by == "endpoint" and row.confirmed_at is None
    assert records_count(brookside) == (before[0] + 1, before[1], before[2])

    receiver = signed_in_dsl(brookside)
    with brookside.app.app_context():
        incoming_id = db.session.scalar(
            sa.select(IncomingTransfer.id).where(IncomingTransfer.package_id == row.package_id)
        )
    # Brookside trusted Larkfield's key on the first import: no fingerprint box this time.
    response = receiver.post(f"/transfers/in/{incoming_id}/import", data={"pupil": "new"})
    assert response.status_code == 302, response.get_data(as_text=True)
    assert network.sent[-1] == "http://larkfield.test/transfers/inbox"
    assert records_count(brookside) == (before[0] + 1, before[1] + 2, before[2] + 2)
    row = outgoing_row(larkfield, transfer_id)
    assert row.status == "confirmed"
    assert row.sent_at <= row.received_at <= row.confirmed_at
    validate(json.loads(row.receipt), "receipt")
    assert row.stored_name is None  # the sender's copy of the package is gone once confirmed
    page = receiver.get(response.headers["Location"]).get_data(as_text=True)
    assert page.count("From Larkfield Primary") == 2


# --- Refusals ----------------------------------------------------------------------------------


def _package_for(sender, receiver_key: PublicSchoolKey, pupil_id: int, package_id=None) -> dict:
    from server.transfer.record import build_record

    with sender.app.test_request_context():
        dsl = db.session.get(User, sender.people.dsl.id)
        record, _ = build_record(dsl, db.session.get(Pupil, pupil_id))
        return seal(
            record, transfer_keys(), own_school_key(), receiver_key,
            package_id=package_id or str(uuid.uuid4()), created_at=utcnow().isoformat(),
        )  # fmt: skip


def _post_inbox(school, document) -> tuple[int, dict]:
    data = document if isinstance(document, bytes) else canonical(document)
    response = school.app.test_client().post(
        "/transfers/inbox", data=data, content_type=operations.PACKAGE_MEDIA_TYPE
    )
    return response.status_code, response.get_json()


def _brookside_key(brookside) -> PublicSchoolKey:
    with brookside.app.app_context():
        return own_school_key()


@pytest.mark.own_database
def test_tampered_misaddressed_and_replayed_packages_are_refused_and_nothing_imported(
    larkfield, brookside
):
    pupil_id, _ = pupil_with_a_file(larkfield, "Ola", "201202011111")
    package = _package_for(larkfield, _brookside_key(brookside), pupil_id)
    validate(package)
    before = records_count(brookside)

    # A changed header (re-addressed, a new sender name) or ciphertext breaks the signature.
    renamed = json.loads(canonical(package))
    renamed["header"]["sender"]["school_name"] = "Someone Else"
    changed = json.loads(canonical(package))
    raw = bytearray(base64.b64decode(changed["ciphertext"]))
    raw[len(raw) // 2] ^= 1
    changed["ciphertext"] = base64.b64encode(bytes(raw)).decode()
    for bad in (renamed, changed):
        status, body = _post_inbox(brookside, bad)
        assert (status, body["error"]) == (422, "bad_signature")
    # A package for another school's key is refused here.
    their_key = _brookside_key(brookside).encryption_public
    stranger = PublicSchoolKey("Elsewhere", "", bytes(32), their_key)
    for_elsewhere = _package_for(larkfield, stranger, pupil_id)
    status, body = _post_inbox(brookside, for_elsewhere)
    assert (status, body["error"]) == (422, "wrong_recipient")
    # Signed by a key other than the one it names.
    forged = json.loads(canonical(package))
    forged["signature"] = json.loads(canonical(for_elsewhere))["signature"]
    assert _post_inbox(brookside, forged)[1]["error"] == "bad_signature"
    # Not a package at all.
    assert _post_inbox(brookside, b"\xffnot json")[0] == 422
    assert records_count(brookside) == before

    # The real one arrives; the same package again changes nothing.
    status, receipt = _post_inbox(brookside, package)
    assert status == 201
    validate(receipt, "receipt")
    assert receipt["receipt"]["status"] == "received"
    assert _post_inbox(brookside, package)[0] == 200
    assert records_count(brookside) == (before[0] + 1, before[1], before[2])
    # A different package under the same package id is refused.
    replayed = _package_for(
        larkfield, _brookside_key(brookside), pupil_id, package["header"]["package_id"]
    )
    status, body = _post_inbox(brookside, replayed)
    assert (status, body["error"]) == (409, "replayed")

    # Imported once; importing (or receiving) it again adds nothing.
    with brookside.app.test_request_context():
        dsl = db.session.get(User, brookside.people.dsl.id)
        incoming_id = db.session.scalar(
            sa.select(IncomingTransfer.id).where(
                IncomingTransfer.package_id == package["header"]["package_id"]
            )
        )
        operations.import_package(dsl, incoming_id, pupil_choice="new", fingerprint_checked=True)
        db.session.commit()
        after = records_count(brookside)
        operations.import_package(dsl, incoming_id, pupil_choice="new", fingerprint_checked=True)
        db.session.commit()
    assert _post_inbox(brookside, package)[0] == 200
    assert records_count(brookside) == after == (before[0] + 1, before[1] + 2, before[2] + 2)


@pytest.mark.own_database
def test_a_receipt_from_another_key_or_for_an_unknown_package_is_refused(larkfield, brookside):
    with brookside.app.app_context():
        dsl_id = brookside.people.dsl.id
    pupil_id, _ = pupil_with_a_file(larkfield, "Pia", "201202022222")
    with larkfield.app.test_request_context():
        dsl = db.session.get(User, larkfield.people.dsl.id)
        transfer = operations.create_transfer(
            dsl, pupil_id, _brookside_key(brookside), fingerprint_checked=True
        )
        db.session.commit()
        package_id = transfer.package_id
    # Larkfield signs a "receipt" for its own package: not the receiving school's key.
    with larkfield.app.test_request_context():
        fake = SimpleNamespace(
            package_id=package_id, status="imported", received_at=utcnow(), imported_at=utcnow()
        )
        forged = operations.receipt_for(fake)
    status, body = _post_inbox(larkfield, forged)
    assert (status, body["error"]) == (422, "wrong_receiver")
    with brookside.app.test_request_context():
        fake.package_id = "no-such-package-id"
        unknown = operations.receipt_for(fake)
    assert _post_inbox(larkfield, unknown)[0] == 404
    assert dsl_id and outgoing_row(larkfield, transfer.id).status == "prepared"


# --- Who may transfer (server-side, per role) ------------------------------------------------


def _receiver_key() -> PublicSchoolKey:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

    return PublicSchoolKey(
        "Riverside School", "300003",
        Ed25519PrivateKey.generate().public_key().public_bytes_raw(),
        X25519PrivateKey.generate().public_key().public_bytes_raw(),
    )  # fmt: skip


@pytest.mark.parametrize(
    "role", [Role.STAFF, Role.CLASS_TEACHER, Role.PASTORAL, Role.SLT, Role.ADMIN]
)
def test_only_a_dsl_may_transfer_or_import(app, client, make_user, sign_in, step_up, school, role):
    user = make_user(role)
    sign_in(user)
    step_up()
    for method, path in (
        ("GET", "/transfers/"),
        ("GET", "/transfers/new"),
        ("POST", "/transfers/new"),
        ("GET", "/transfers/school-key.json"),
        ("POST", "/transfers/in/upload"),
        ("POST", "/transfers/receipts"),
        ("POST", "/transfers/schools"),
        ("GET", "/transfers/out/1/package"),
        ("POST", "/transfers/in/1/import"),
    ):
        assert client.open(path, method=method, data={"pupil_id": school.ada}).status_code == 403
    with app.test_request_context():
        me = db.session.get(User, user.id)
        with pytest.raises(Exception) as refused:
            operations.create_transfer(me, school.ada, _receiver_key(), fingerprint_checked=True)
        assert getattr(refused.value, "code", None) == 403
        assert db.session.scalar(sa.select(sa.func.count(OutgoingTransfer.id))) == 0


def test_a_dsl_needs_a_fresh_passkey_check_to_send(app, client, sign_in, school):
    sign_in(school.dsl)
    response = client.post("/transfers/new", data={"pupil_id": school.ada})
    assert response.status_code == 302 and "/passkeys/step-up" in response.headers["Location"]
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(OutgoingTransfer.id))) == 0


def test_a_dsl_must_check_a_new_schools_fingerprint(app, school):
    with app.test_request_context():
        dsl = db.session.get(User, school.dsl.id)
        with pytest.raises(operations.TransferRefused, match="fingerprint"):
            operations.create_transfer(dsl, school.ada, _receiver_key(), fingerprint_checked=False)
        assert db.session.scalar(sa.select(sa.func.count(OutgoingTransfer.id))) == 0


def test_only_whole_school_reviewers_read_imported_records(app, school):
    unlocked = SimpleNamespace(stepped_up_at=utcnow(), review_active_at=utcnow())
    with app.test_request_context():
        for person, allowed in (
            (school.dsl, True), (school.slt, True), (school.pastoral, True),
            (school.teacher, False), (school.staff, False), (school.admin, False),
        ):  # fmt: skip
            user = db.session.get(User, person.id)
            assert operations.can_read_imported(user, unlocked) is allowed
            assert operations.can_read_imported(user, None) is False


# --- The five-school-day clock -------------------------------------------------------------


def test_the_reminder_fires_on_the_sixth_school_day_and_stops_once_confirmed(
    app, school, subscribed, local_push, deliver_jobs, time_machine, client, sign_in, step_up
):
    monday = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)  # Monday 2 November 2026
    time_machine.move_to(monday, tick=False)
    device = subscribed(school.dsl)
    receiver = _receiver_key()
    with app.test_request_context():
        dsl = db.session.get(User, school.dsl.id)
        transfer = operations.create_transfer(dsl, school.ada, receiver, fingerprint_checked=True)
        db.session.commit()
        transfer_id = transfer.id
        assert operations.due_by(transfer) == date(2026, 11, 9)

    def sweep_on(day: date) -> int:
        time_machine.move_to(datetime(day.year, day.month, day.day, 9, 0, tzinfo=UTC), tick=False)
        with app.app_context():
            from server.push.delivery import sweep

            reminded = sweep()["reminded"]
        deliver_jobs()
        return reminded

    # School days 1-5 (Tue 3 to Mon 9), and the weekend: no reminder.
    for day in (3, 4, 5, 6, 7, 8, 9):
        assert sweep_on(date(2026, 11, day)) == 0
    # The sixth school day: the DSL is reminded, once that day, in the app and by push.
    assert sweep_on(date(2026, 11, 10)) == 1
    assert sweep_on(date(2026, 11, 10)) == 0
    messages = local_push.received(device)
    assert len(messages) == 1
    assert messages[0]["title"] == "A transfer has no confirmed receipt"
    assert "Ada" not in json.dumps(messages[0]) and "Riverside" not in json.dumps(messages[0])
    sign_in(school.dsl)
    step_up()
    home = client.get("/").get_data(as_text=True)
    assert 'id="transfers-overdue"' in home and "1 overdue" in home
    # ...and every school day after, until the receipt is confirmed.
    assert sweep_on(date(2026, 11, 11)) == 1

    with app.test_request_context():
        row = db.session.get(OutgoingTransfer, transfer_id)
        row.received_at = row.confirmed_at = utcnow()
        db.session.commit()
    assert sweep_on(date(2026, 11, 12)) == 0
    assert sweep_on(date(2026, 11, 13)) == 0
    with app.app_context():
        days = db.session.scalars(sa.select(TransferReminder.school_day)).all()
        pushes = db.session.scalar(
            sa.select(sa.func.count(PushDelivery.id)).where(
                PushDelivery.transfer_reminder_id.is_not(None)
            )
        )
    assert days == [date(2026, 11, 10), date(2026, 11, 11)] and pushes == 2
    assert 'id="transfers-overdue"' not in client.get("/").get_data(as_text=True)


def test_closed_days_do_not_count(app):
    from server.transfer.schooldays import add_school_days

    with app.app_context():
        app.config["SCHOOL_CLOSED_DAYS"] = "2026-12-21..2027-01-01"
        try:
            # Friday 18 December: five school days later is Friday 8 January.
            assert add_school_days(date(2026, 12, 18), 5) == date(2027, 1, 8)
        finally:
            app.config["SCHOOL_CLOSED_DAYS"] = ""
        assert add_school_days(date(2026, 12, 18), 5) == date(2026, 12, 25)


# --- Keys --------------------------------------------------------------------------------------


def test_the_keys_command_makes_a_key_pair_and_prints_the_fingerprint(app, runner):
    result = runner.invoke(args=["transfer", "keys"])
    assert result.exit_code == 0
    with app.app_context():
        fingerprint = own_school_key().fingerprint
    assert f"Fingerprint: {fingerprint}" in result.output
    assert len(fingerprint) == 39 and fingerprint.count("-") == 7
    result = runner.invoke(args=["transfer", "school-key"])
    document = json.loads(result.output)
    validate(document, "school_key")
    assert document["fingerprint"] == fingerprint


def test_a_changed_school_key_is_refused(app):
    from server.transfer.keys import KeyRefused, parse_school_key

    with app.app_context():
        document = own_school_key().as_json()
    document["school_name"] = "Larkfield"
    document["signing_key"] = base64.b64encode(bytes(32)).decode()
    with pytest.raises(KeyRefused, match="fingerprint"):
        parse_school_key(json.dumps(document).encode())
    for bad in (b"", b"[]", b'{"format": "haven-school-key", "version": 9}'):
        with pytest.raises(KeyRefused):
            parse_school_key(bad)


def test_the_inbox_refuses_what_is_not_a_package(client):
    for body in (b"", b"{}", b'{"format": "haven-transfer-package", "version": 1}', b"[1]"):
        response = client.post(
            "/transfers/inbox", data=body, content_type=operations.PACKAGE_MEDIA_TYPE
        )
        assert response.status_code == 422, body
        assert response.get_json()["message"]


def test_a_package_answer_is_refused_when_the_receiver_is_unreachable(app, school):
    with app.test_request_context():
        dsl = db.session.get(User, school.dsl.id)
        transfer = operations.create_transfer(
            dsl, school.ada, _receiver_key(), fingerprint_checked=True
        )
        app.config["TRANSFER_HTTP_SESSION"] = _session_factory(AppAdapter({}))
        try:
            operations.send_to_endpoint(dsl, transfer.id, "http://nowhere.test/transfers/inbox")
        finally:
            app.config.pop("TRANSFER_HTTP_SESSION")
        assert "Could not reach" in transfer.delivery_error
        assert transfer.status == "prepared"
        with pytest.raises(PackageRefused):
            verify_package(b"{}", own_school_key().fingerprint)


@pytest.mark.own_database
def test_the_pupil_is_matched_by_upn_or_chosen_by_the_dsl(larkfield, brookside):
    body = "201202033333"
    pupil_id, numbers = pupil_with_a_file(larkfield, "Zoe", body)
    with brookside.app.test_request_context():
        here = Pupil(
            upn=_valid_upn(body), legal_first_name="Zoe", legal_last_name="Thorne",
            date_of_birth=date(2016, 5, 17), year_group="5", on_roll=True,
        )  # fmt: skip
        other = Pupil(
            upn=_valid_upn("201202044444"), legal_first_name="Zed", legal_last_name="Other",
            date_of_birth=date(2016, 1, 1), year_group="5", on_roll=True,
        )  # fmt: skip
        db.session.add_all([here, other])
        db.session.commit()
        here_id, other_id = here.id, other.id
    key = _brookside_key(brookside)
    by_upn, by_choice = (_package_for(larkfield, key, pupil_id) for _ in range(2))
    for package in (by_upn, by_choice):
        assert _post_inbox(brookside, package)[0] == 201
    with brookside.app.test_request_context():
        dsl = db.session.get(User, brookside.people.dsl.id)

        def incoming_id(package):
            return db.session.scalar(
                sa.select(IncomingTransfer.id).where(
                    IncomingTransfer.package_id == package["header"]["package_id"]
                )
            )

        view = operations.view_incoming(dsl, incoming_id(by_upn))
        assert view.match.id == here_id
        # A new pupil cannot take a UPN a pupil here already has.
        with pytest.raises(operations.TransferRefused, match="already has this UPN"):
            operations.import_package(
                dsl, incoming_id(by_upn), pupil_choice="new", fingerprint_checked=True
            )
        db.session.rollback()
        operations.import_package(
            dsl, incoming_id(by_upn), pupil_choice="upn", fingerprint_checked=True
        )
        operations.import_package(
            dsl, incoming_id(by_choice), pupil_choice=str(other_id), fingerprint_checked=True
        )
        db.session.commit()
        numbers_for = {
            who: sorted(
                db.session.scalars(
                    sa.select(ImportedIncident.source_number).where(
                        ImportedIncident.pupil_id == who
                    )
                )
            )
            for who in (here_id, other_id)
        }
    assert numbers_for == {here_id: numbers, other_id: numbers}


def test_a_bad_closed_days_setting_never_holds_up_alerts(app):
    from server.push.delivery import sweep

    app.config["SCHOOL_CLOSED_DAYS"] = "not-a-date"
    try:
        with app.app_context():
            assert sweep()["reminded"] == 0
    finally:
        app.config["SCHOOL_CLOSED_DAYS"] = ""
