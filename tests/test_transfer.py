"""Transfer of a pupil's file between two Havens (issue 13, SPEC §8).

Two schools in one test, each with its own database, instance directory and key pair: the
sender (Larkfield) and the receiver (Brookside). Packages go by file (downloaded, uploaded) and
by endpoint (the sender's requests reach the receiver's app through a requests adapter). Every
package and receipt produced is validated against docs/transfer-package.schema.json.
"""

import base64
import hashlib
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
from pypdf import PdfReader
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

    # No network: the receipt job could not deliver it; the DSL is told, and downloads it.
    run_receipt_jobs(brookside)
    page = receiver.get(incoming_path).get_data(as_text=True)
    assert 'data-receipt="not-delivered"' in page and "Could not reach" in page
    # The receipt goes back as a file, which the sender uploads.
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
    # A package of its own, imported here, so the rows exist whatever ran before.
    pupil_id, _ = pupil_with_a_file(larkfield, "Ivy", "201202066666")
    package = _package_for(larkfield, _brookside_key(brookside), pupil_id)
    assert _post_inbox(brookside, package)[0] == 201
    with brookside.app.test_request_context():
        dsl = db.session.get(User, brookside.people.dsl.id)
        incoming = db.session.scalar(
            sa.select(IncomingTransfer.id).where(
                IncomingTransfer.package_id == package["header"]["package_id"]
            )
        )
        operations.import_package(dsl, incoming, pupil_choice="new", fingerprint_checked=True)
        db.session.commit()
    assert count(brookside, "imported_incidents") > 0 and count(brookside, "imported_files") > 0
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
    run_receipt_jobs(brookside)  # the receipt goes by a background job
    assert network.sent[-1] == "http://larkfield.test/transfers/inbox"
    assert records_count(brookside) == (before[0] + 1, before[1] + 2, before[2] + 2)
    row = outgoing_row(larkfield, transfer_id)
    assert row.status == "confirmed"
    assert row.sent_at <= row.received_at <= row.confirmed_at
    validate(json.loads(row.receipt), "receipt")
    assert row.stored_name is None  # the sender's copy of the package is gone once confirmed
    page = receiver.get(response.headers["Location"]).get_data(as_text=True)
    assert page.count("From Larkfield Primary") == 2
    page = receiver.get(f"/transfers/in/{incoming_id}").get_data(as_text=True)
    assert 'data-receipt="sent"' in page


def run_receipt_jobs(school) -> None:
    """With Redis the receipt job waits in the queue: run it as a worker would. Without, it
    ran in-process when the import committed."""
    if school.app.config["REDIS_URL"]:
        from tests.conftest import run_queued_jobs

        run_queued_jobs(school.app)


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


# --- The public inbox: throttled, capped, refusals audited -----------------------------------


def _stranger_package(app, name: str = "Stranger School") -> tuple[dict, PublicSchoolKey]:
    """A well-formed package to `app`'s school, signed with a key made here and now: anyone can
    make one, so the inbox must hold what it keeps from such keys to a limit."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

    from server.transfer.keys import TransferKeys

    keys = TransferKeys(Ed25519PrivateKey.generate(), X25519PrivateKey.generate())
    sender = PublicSchoolKey(name, "", keys.signing_public, keys.encryption_public)
    pdf = b"%PDF-1.4 a stand-in chronology"
    record = {
        "format": "haven-pupil-record", "version": 1, "exported_at": utcnow().isoformat(),
        "exported_by": {"name": "Someone", "role": "Designated safeguarding lead"},
        "school": {"name": name, "urn": None},
        "pupil": {"upn": None, "legal_first_name": "Kit", "legal_last_name": "Stray",
                  "preferred_first_name": None, "preferred_last_name": None,
                  "date_of_birth": "2016-01-01", "year_group": "5"},
        "incidents": [],
        "chronology_pdf": {"name": "chronology.pdf", "content_type": "application/pdf",
                           "size": len(pdf), "sha256": hashlib.sha256(pdf).hexdigest(),
                           "data": base64.b64encode(pdf).decode()},
    }  # fmt: skip
    with app.app_context():
        package = seal(
            record, keys, sender, own_school_key(),
            package_id=str(uuid.uuid4()), created_at=utcnow().isoformat(),
        )  # fmt: skip
    return package, sender


def _inbox_post(client, data: bytes, address: str = "203.0.113.7", **kwargs):
    return client.post(
        "/transfers/inbox", data=data, content_type=operations.PACKAGE_MEDIA_TYPE,
        environ_base={"REMOTE_ADDR": address}, **kwargs,
    )  # fmt: skip


def _inbox_refusals(app) -> list[dict]:
    with app.app_context():
        rows = db.session.scalars(
            sa.select(AuditEvent).where(AuditEvent.action == "transfer.inbox_refused")
        ).all()
        return [{"ip": row.ip_address, **json.loads(row.details)} for row in rows]


@pytest.fixture
def inbox_limits(app):
    names = ("TRANSFER_INBOX_POSTS", "TRANSFER_MAX_BYTES", "TRANSFER_UNTRUSTED_PER_SENDER",
             "TRANSFER_UNTRUSTED_TOTAL")  # fmt: skip
    saved = {name: app.config[name] for name in names}
    yield app.config
    app.config.update(saved)


def test_the_inbox_counts_posts_per_address_in_the_database(app, inbox_limits):
    from server.auth import throttling

    inbox_limits["TRANSFER_INBOX_POSTS"] = 3
    with app.test_request_context(environ_base={"REMOTE_ADDR": "203.0.113.9"}):
        for _ in range(3):
            operations.admit_to_inbox("203.0.113.9", 10, 1000)
        with pytest.raises(PackageRefused) as refused:
            operations.admit_to_inbox("203.0.113.9", 10, 1000)
        assert (refused.value.reason, refused.value.status) == ("throttled", 429)
        operations.admit_to_inbox("198.51.100.1", 10, 1000)  # another address is not held up
        # The rows are the sign-in throttle's, by kind: inbox posts never count against
        # signing in from that address, nor sign-in failures against the inbox.
        assert throttling.check("someone@school.example", "203.0.113.9").allowed
        for _ in range(3):
            throttling.record_attempt("x@school.example", "198.51.100.2", succeeded=False)
        operations.admit_to_inbox("198.51.100.2", 10, 1000)


def test_the_inbox_throttles_an_address_and_audits_each_refusal(app, client, inbox_limits):
    inbox_limits["TRANSFER_INBOX_POSTS"] = 3
    for _ in range(3):
        assert _inbox_post(client, b"{}").status_code == 422
    response = _inbox_post(client, b"{}")
    assert response.status_code == 429
    assert (
        response.get_json()["error"] == "throttled"
        and "try again" in response.get_json()["message"]
    )
    # A fresh client (another web process would be the same: the count is in the database).
    assert _inbox_post(app.test_client(), b"{}").status_code == 429
    assert _inbox_post(client, b"{}", address="198.51.100.1").status_code == 422
    refusals = _inbox_refusals(app)
    assert [r["reason"] for r in refusals if r["ip"] == "203.0.113.7"] == ["invalid"] * 3 + [
        "throttled"
    ] * 2
    assert {frozenset(r) for r in refusals} == {
        frozenset({"ip", "reason", "status", "declared_bytes"})
    }


def test_the_inbox_fails_closed_when_it_cannot_count(app, client, monkeypatch):
    from server.auth import throttling

    def broken(*args, **kwargs):
        raise sa.exc.OperationalError("SELECT", {}, Exception("database is gone"))

    monkeypatch.setattr(throttling, "check_address", broken)
    package, _ = _stranger_package(app)
    response = _inbox_post(client, canonical(package))
    assert response.status_code == 503 and response.get_json()["error"] == "unavailable"
    assert count_rows(app, IncomingTransfer) == 0
    with app.test_request_context(), pytest.raises(PackageRefused) as refused:
        operations.admit_to_inbox("203.0.113.7", 10, 1000)
    assert refused.value.status == 503


class _Untouchable(io.BytesIO):
    """A request body that must never be read."""

    def read(self, *args):
        raise AssertionError("the body was read")

    readline = readinto = read


def test_an_oversize_post_is_refused_before_its_body_is_read(app, client, inbox_limits):
    assert app.config["TRANSFER_MAX_BYTES"] <= 100 * 1024 * 1024
    package, _ = _stranger_package(app)
    data = canonical(package)
    inbox_limits["TRANSFER_MAX_BYTES"] = len(data) - 1
    # Declared too large: refused on its Content-Length, the body never read.
    response = client.post(
        "/transfers/inbox", input_stream=_Untouchable(data),
        content_type=operations.PACKAGE_MEDIA_TYPE,
    )  # fmt: skip
    assert response.status_code == 413 and response.get_json()["error"] == "too_large"
    # Chunked (no length declared): refused as the stream passes the limit.
    response = client.post(
        "/transfers/inbox", input_stream=io.BytesIO(data),
        content_type=operations.PACKAGE_MEDIA_TYPE, headers={"Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},
    )  # fmt: skip
    assert response.status_code == 413 and response.get_json()["error"] == "too_large"
    assert count_rows(app, IncomingTransfer) == 0
    assert [r["reason"] for r in _inbox_refusals(app)] == ["too_large", "too_large"]
    # At the limit, chunked, it arrives.
    inbox_limits["TRANSFER_MAX_BYTES"] = len(data)
    response = client.post(
        "/transfers/inbox", input_stream=io.BytesIO(data),
        content_type=operations.PACKAGE_MEDIA_TYPE, headers={"Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},
    )  # fmt: skip
    assert response.status_code == 201, response.get_json()


def count_rows(app, model) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def test_packages_from_unchecked_keys_wait_only_up_to_a_limit(app, client, school, inbox_limits):
    inbox_limits["TRANSFER_UNTRUSTED_PER_SENDER"] = 2
    inbox_limits["TRANSFER_UNTRUSTED_TOTAL"] = 3
    first, first_key = _stranger_package(app, "First School")
    more = [_stranger_package(app, "Another School")[0]]
    same_sender = _packages_from_one_key(app, 3)
    for package in same_sender[:2]:
        assert _inbox_post(client, canonical(package)).status_code == 201
    response = _inbox_post(client, canonical(same_sender[2]))
    assert response.status_code == 429
    assert response.get_json()["error"] == "too_many_waiting"
    assert "check the key's fingerprint" in response.get_json()["message"]
    # The same package again is answered as before, not refused.
    assert _inbox_post(client, canonical(same_sender[0])).status_code == 200
    # Another key: one more is kept (three in all), then none from any new key.
    assert _inbox_post(client, canonical(first)).status_code == 201
    response = _inbox_post(client, canonical(more[0]))
    assert response.status_code == 429 and "as many as it keeps" in response.get_json()["message"]
    assert count_rows(app, IncomingTransfer) == 3
    assert [r["reason"] for r in _inbox_refusals(app)] == ["too_many_waiting"] * 2
    # A DSL uploading a package by hand is not held to it, and once a DSL has checked a key,
    # its packages no longer wait as unchecked.
    with app.test_request_context():
        dsl = db.session.get(User, school.dsl.id)
        operations.receive_package(canonical(same_sender[2]), via="upload", user=dsl)
        assert operations.waiting_untrusted() == 4
        operations.trust(dsl, verify_package(canonical(same_sender[0]),
                                             own_school_key().fingerprint).sender)  # fmt: skip
        assert operations.waiting_untrusted() == 1
        operations.refuse_if_too_many_waiting(first_key)
        db.session.commit()
    assert _inbox_post(client, canonical(more[0])).status_code == 201


def _packages_from_one_key(app, how_many: int) -> list[dict]:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

    from server.transfer.keys import TransferKeys

    template, _ = _stranger_package(app, "Same School")
    keys = TransferKeys(Ed25519PrivateKey.generate(), X25519PrivateKey.generate())
    sender = PublicSchoolKey("Same School", "", keys.signing_public, keys.encryption_public)
    with app.app_context():
        record = opened_here(template)
        return [
            seal(record, keys, sender, own_school_key(), package_id=str(uuid.uuid4()),
                 created_at=utcnow().isoformat())
            for _ in range(how_many)
        ]  # fmt: skip


def opened_here(package: dict) -> dict:
    keys = transfer_keys()
    return open_package(verify_package(canonical(package), keys.fingerprint), keys)


# --- A pupil who moves on again: the whole history goes with them ---------------------------


@pytest.fixture(scope="module")
def clearwater(tmp_path_factory):
    yield from fresh_school(
        tmp_path_factory,
        "clearwater",
        SCHOOL_NAME="Clearwater High",
        SCHOOL_URN="300003",
        SERVER_BASE_URL="http://clearwater.test",
    )


def _record_here(school, pupil_id: int, account: str) -> int:
    with school.app.test_request_context():
        receipt = submit_incident(
            db.session.get(User, school.people.staff.id),
            {
                "uuid": str(uuid.uuid4()), "pupil_id": pupil_id,
                "occurred_at": utcnow().replace(microsecond=0).isoformat(),
                "account": account, "parents_contacted": "yes",
                "medical_attention": "not_needed", "category_ids": [school.category_id],
            },
            [],
        )  # fmt: skip
        db.session.commit()
        return receipt.number


def _import_by_hand(school, package: dict) -> int:
    """Received by a DSL's upload and imported to a new pupil; returns the pupil's id."""
    with school.app.test_request_context():
        dsl = db.session.get(User, school.people.dsl.id)
        arrival = operations.receive_package(canonical(package), via="upload", user=dsl)
        row = operations.import_package(
            dsl, arrival.incoming.id, pupil_choice="new", fingerprint_checked=True
        )
        db.session.commit()
        return row.pupil_id


@pytest.mark.own_database
def test_a_pupil_who_moves_on_again_takes_the_whole_history(larkfield, brookside, clearwater):
    # A → B: Larkfield's two incidents (one with a file) arrive at Brookside.
    pupil_at_a, numbers_at_a = pupil_with_a_file(larkfield, "Ivy", "201202077777")
    pupil_at_b = _import_by_hand(
        brookside, _package_for(larkfield, _brookside_key(brookside), pupil_at_a)
    )
    number_at_b = _record_here(brookside, pupil_at_b, "Ivy settled in; quiet at lunch.")

    # B → C: Brookside's package carries its own incident and the two it imported.
    with clearwater.app.app_context():
        clearwater_key = own_school_key()
    package = _package_for(brookside, clearwater_key, pupil_at_b)
    validate(package)
    record = opened(clearwater, package)
    validate(record, "record")
    assert record["version"] == 2
    assert [i["number"] for i in record["incidents"]] == [number_at_b]
    earlier = record["imported_incidents"]
    assert [i["number"] for i in earlier] == numbers_at_a
    assert {i["origin_school"]["name"] for i in earlier} == {"Larkfield Primary"}
    assert all(i["imported_at"][:10] == utcnow().date().isoformat() for i in earlier)
    assert earlier[0]["account"] == ACCOUNT
    assert base64.b64decode(earlier[0]["files"][0]["data"]) == FILE_NOTE
    pdf_text = " ".join(
        " ".join((page.extract_text() or "").split())
        for page in PdfReader(io.BytesIO(base64.b64decode(record["chronology_pdf"]["data"]))).pages
    )
    assert "From Larkfield Primary" in pdf_text and "Dad shouted" in pdf_text

    # C imports all three, each marked with the school that recorded it.
    with clearwater.app.test_request_context():
        dsl = db.session.get(User, clearwater.people.dsl.id)
        arrival = operations.receive_package(canonical(package), via="upload", user=dsl)
        db.session.commit()
        incoming_id = arrival.incoming.id
    page = signed_in_dsl(clearwater).get(f"/transfers/in/{incoming_id}").get_data(as_text=True)
    assert "1 incident, 2 more they had imported from earlier schools," in page
    pupil_at_c = _import_by_hand(clearwater, package)
    with clearwater.app.app_context():
        rows = db.session.scalars(
            sa.select(ImportedIncident)
            .where(ImportedIncident.pupil_id == pupil_at_c)
            .order_by(ImportedIncident.id)
        ).all()
        assert [(r.label, r.came_via) for r in rows] == [
            (f"Brookside Academy #{number_at_b}", None),
            *[(f"Larkfield Primary #{n}", "Brookside Academy") for n in numbers_at_a],
        ]
        assert rows[1].imported_there is not None
        file_id = rows[1].files[0].id
    reader = signed_in_dsl(clearwater)
    page = reader.get(f"/pupils/{pupil_at_c}").get_data(as_text=True)
    assert "From Larkfield Primary (via Brookside Academy, which imported it" in page
    assert "From Brookside Academy, imported" in page
    assert "Dad shouted and threw the remote." in page and "Ivy settled in" in page
    assert reader.get(f"/transfers/imported/files/{file_id}").data == FILE_NOTE


def test_a_version_1_record_is_still_imported_and_a_version_2_one_must_name_its_origins():
    from server.transfer import imported

    pdf = b"%PDF-1.4"
    file = {"name": "c.pdf", "content_type": "application/pdf", "size": len(pdf),
            "sha256": hashlib.sha256(pdf).hexdigest(),
            "data": base64.b64encode(pdf).decode()}  # fmt: skip
    incident = {"uuid": "u1", "number": 1, "occurred_at": "2026-01-05T10:00:00+00:00",
                "account": "Text.", "categories": [], "actions": [], "events": [],
                "body_marks": [], "files": []}  # fmt: skip
    version_1 = {
        "format": "haven-pupil-record", "version": 1,
        "pupil": {"legal_first_name": "A", "legal_last_name": "B", "upn": None,
                  "date_of_birth": "2016-01-01"},
        "incidents": [incident], "chronology_pdf": file,
    }  # fmt: skip
    imported.check_record(version_1)
    assert imported.earlier_incidents(version_1 | {"imported_incidents": [incident]}) == []
    version_2 = version_1 | {"version": 2, "imported_incidents": [incident]}
    with pytest.raises(PackageRefused, match="school that recorded it"):
        imported.check_record(version_2)
    origin = {"origin_school": {"name": "Larkfield Primary", "urn": None}}
    with pytest.raises(PackageRefused, match="date and time"):
        imported.check_record(version_2 | {"imported_incidents": [incident | origin]})
    named = incident | origin | {"imported_at": "2026-09-03T09:00:00+00:00"}
    imported.check_record(version_2 | {"imported_incidents": [named]})
    with pytest.raises(PackageRefused, match="version 1 or 2"):
        imported.check_record(version_1 | {"version": 3})


# --- The confirmed receipt goes by a background job ----------------------------------------


@pytest.mark.own_database
def test_the_receipt_is_sent_by_a_job_and_kept_for_another_try_when_it_fails(
    larkfield, brookside, monkeypatch
):
    from server.transfer import routes

    pupil_id, _ = pupil_with_a_file(larkfield, "Rue", "201202088888")
    with larkfield.app.test_request_context():
        transfer = operations.create_transfer(
            db.session.get(User, larkfield.people.dsl.id), pupil_id, _brookside_key(brookside),
            fingerprint_checked=True,
        )  # fmt: skip
        db.session.commit()
        transfer_id, package = transfer.id, json.loads(operations.package_bytes(transfer))
    assert _post_inbox(brookside, package)[0] == 201
    with brookside.app.app_context():
        incoming_id = db.session.scalar(
            sa.select(IncomingTransfer.id).where(
                IncomingTransfer.package_id == package["header"]["package_id"]
            )
        )
    # The import request only queues the receipt: it never posts it itself.
    queued = []
    monkeypatch.setattr(routes.operations, "enqueue", lambda *args: queued.append(args))
    receiver = signed_in_dsl(brookside)
    response = receiver.post(
        f"/transfers/in/{incoming_id}/import", data={"pupil": "new", "fingerprint_checked": "yes"}
    )
    assert response.status_code == 302
    assert queued == [(operations.deliver_receipt, incoming_id)]
    page = receiver.get(f"/transfers/in/{incoming_id}").get_data(as_text=True)
    assert 'data-receipt="not-delivered"' in page and "Download it</a> and send it" in page
    monkeypatch.undo()

    # The job: unreachable → the reason kept and an error raised (rq retries it) ...
    unreachable = _session_factory(AppAdapter({}))
    with brookside.app.test_request_context():
        brookside.app.config["TRANSFER_HTTP_SESSION"] = unreachable
        try:
            with pytest.raises(operations.ReceiptNotDelivered, match="Could not reach"):
                operations.deliver_receipt(incoming_id)
        finally:
            brookside.app.config.pop("TRANSFER_HTTP_SESSION")
        row = db.session.get(IncomingTransfer, incoming_id)
        assert row.receipt_sent_at is None and "Could not reach" in row.receipt_error
    # ... and the next try, with the sender reachable, delivers it; once sent, never again.
    adapter = AppAdapter({"larkfield.test": larkfield.app})
    with brookside.app.test_request_context():
        brookside.app.config["TRANSFER_HTTP_SESSION"] = _session_factory(adapter)
        try:
            operations.deliver_receipt(incoming_id)
            operations.deliver_receipt(incoming_id)
        finally:
            brookside.app.config.pop("TRANSFER_HTTP_SESSION")
        row = db.session.get(IncomingTransfer, incoming_id)
        assert row.receipt_sent_at is not None and row.receipt_error == ""
    assert adapter.sent == ["http://larkfield.test/transfers/inbox"]
    assert outgoing_row(larkfield, transfer_id).status == "confirmed"
    page = receiver.get(f"/transfers/in/{incoming_id}").get_data(as_text=True)
    assert 'data-receipt="sent"' in page


def test_an_rq_job_retries_the_receipt(app, monkeypatch):
    from rq import Retry

    import server.jobs as jobs

    calls = []

    class FakeQueue:
        def enqueue(self, func, *args, retry=None):
            calls.append((func, args, retry))

    monkeypatch.setattr(jobs, "queue", lambda: FakeQueue())
    row = SimpleNamespace(id=7, receipt="{}", sender_endpoint="http://x.test", receipt_sent_at=None)
    with app.app_context():
        operations.enqueue_receipt(row)
        operations.enqueue_receipt(SimpleNamespace(**{**vars(row), "sender_endpoint": ""}))
    assert [(func, args) for func, args, _ in calls] == [(operations.deliver_receipt, (7,))]
    assert isinstance(calls[0][2], Retry) and calls[0][2].max >= 3
