"""Offline capture on the server (SPEC §5): devices, the sealed outbox, the app shell.

The software device in tests/offline_device.py seals and signs exactly as the browser does;
each refusal is checked to write nothing.
"""

import io
import json
import uuid

import pytest
import sqlalchemy as sa

from server.audit.models import AuditEvent
from server.auth.roles import Role
from server.clock import utcnow
from server.extensions import db
from server.incidents.models import Incident, IncidentFile
from server.offline import outbox
from server.offline.devices import revoke_device
from server.offline.errors import OfflineRefused
from server.offline.models import Device
from server.offline.sealing import sealing_key
from tests.offline_device import SoftwareDevice, b64url, pack
from tests.test_incident_api import PDF, counts, payload


@pytest.fixture
def server_key(app) -> dict:
    with app.test_request_context():
        return sealing_key().public_json()


def post_sealed(client, envelope, sealed, **kwargs):
    data = {
        "envelope": envelope if isinstance(envelope, str) else json.dumps(envelope),
        "sealed": (io.BytesIO(sealed), "sealed"),
    }
    return client.post(
        "/api/outbox", data=data, content_type="multipart/form-data", csrf=False, **kwargs
    )


def audit_actions(app, action: str) -> list[AuditEvent]:
    with app.app_context():
        return list(db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == action)))


# --- Enrolling devices -------------------------------------------------------------------------


def test_a_signed_in_recorder_enrols_a_device(app, client, make_user, sign_in):
    teacher = make_user(Role.STAFF)
    sign_in(teacher)
    device = SoftwareDevice()
    response = client.post(
        "/api/devices", json={"name": "Year 4 iPad", "public_key": device.public_key}
    )
    assert response.status_code == 201
    body = response.get_json()
    assert body["name"] == "Year 4 iPad" and body["user_id"] == teacher.id
    enrolled = audit_actions(app, "device.enrolled")
    assert [row.object_id for row in enrolled] == [str(body["id"])]


@pytest.mark.parametrize(
    "body",
    [
        {"name": "iPad", "public_key": "not base64 !"},
        {"name": "iPad", "public_key": b64url(b"\x30\x03\x02\x01\x00")},
        {"name": "", "public_key": SoftwareDevice().public_key},
        {"name": "x" * 61, "public_key": SoftwareDevice().public_key},
        {"name": "iPad\x07", "public_key": SoftwareDevice().public_key},
        {"name": ["iPad"], "public_key": SoftwareDevice().public_key},
        ["not", "an", "object"],
    ],
)
def test_a_device_that_cannot_be_read_is_refused(app, client, make_user, sign_in, body):
    sign_in(make_user(Role.STAFF))
    response = client.post("/api/devices", json=body)
    assert response.status_code in {400, 422}
    assert response.get_json()["message"]
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(Device.id))) == 0


def test_a_p384_key_is_refused(client, make_user, sign_in):
    from cryptography.hazmat.primitives.asymmetric import ec

    sign_in(make_user(Role.STAFF))
    other_curve = SoftwareDevice(private_key=ec.generate_private_key(ec.SECP384R1()))
    response = client.post(
        "/api/devices", json={"name": "iPad", "public_key": other_curve.public_key}
    )
    assert response.status_code == 422


def test_the_office_enrols_no_device(client, make_user, sign_in):
    sign_in(make_user(Role.ADMIN))
    response = client.post(
        "/api/devices", json={"name": "Office PC", "public_key": SoftwareDevice().public_key}
    )
    assert response.status_code == 403


def test_the_device_secret_is_the_owners_alone_and_stable(client, make_user, make_device, sign_in):
    owner, other = make_user(Role.STAFF), make_user(Role.STAFF)
    device = make_device(owner)
    sign_in(owner)
    first = client.get(f"/api/devices/{device.device_id}/secret").get_json()["secret"]
    assert first == client.get(f"/api/devices/{device.device_id}/secret").get_json()["secret"]
    assert len(first) == 43  # 32 bytes, base64url
    other_device = make_device(other)
    assert client.get(f"/api/devices/{other_device.device_id}/secret").status_code == 404
    assert (
        first
        != client.get(f"/api/devices/{make_device(owner).device_id}/secret").get_json()["secret"]
    )


def test_a_revoked_device_gets_no_secret(app, client, make_user, make_device, sign_in):
    owner = make_user(Role.STAFF)
    device = make_device(owner)
    sign_in(owner)
    assert client.post(f"/devices/{device.device_id}/revoke").status_code == 302
    response = client.get(f"/api/devices/{device.device_id}/secret")
    assert response.status_code == 403
    assert response.get_json()["error"] == "device_revoked"


# --- Listing and revoking devices ------------------------------------------------------------


def test_owner_lists_and_revokes_their_device(app, client, make_user, make_device, sign_in):
    owner = make_user(Role.STAFF)
    device = make_device(owner, name="Year 4 iPad")
    sign_in(owner)
    page = client.get("/devices").get_data(as_text=True)
    assert "Year 4 iPad" in page and "In use" in page
    client.post(f"/devices/{device.device_id}/revoke")
    assert "Removed" in client.get("/devices").get_data(as_text=True)
    (row,) = audit_actions(app, "device.revoked")
    assert row.actor_user_id == owner.id


def test_nobody_revokes_someone_elses_device_from_their_own_page(
    app, client, make_user, make_device, sign_in
):
    owner, other = make_user(Role.STAFF), make_user(Role.SLT)
    device = make_device(owner)
    sign_in(other)
    assert client.post(f"/devices/{device.device_id}/revoke").status_code == 404
    with app.app_context():
        assert db.session.get(Device, device.device_id).revoked_at is None


@pytest.mark.parametrize("role", [Role.ADMIN, Role.DSL])
def test_the_office_or_the_dsl_revokes_a_lost_ipad_in_one_step(
    app, client, make_user, make_device, sign_in, step_up, role
):
    owner, manager = make_user(Role.STAFF), make_user(role)
    device = make_device(owner, name="Lost trip iPad")
    sign_in(manager)
    step_up()
    assert "Lost trip iPad" in client.get(f"/users/{owner.id}/devices").get_data(as_text=True)
    response = client.post(f"/users/{owner.id}/devices/{device.device_id}/revoke")
    assert response.status_code == 302
    with app.app_context():
        stored = db.session.get(Device, device.device_id)
        assert stored.revoked_at is not None and stored.revoked_by_id == manager.id
    (row,) = audit_actions(app, "device.revoked")
    assert row.actor_user_id == manager.id


def test_revoking_someone_elses_device_needs_managing_accounts(app, make_user, make_device):
    owner, slt = make_user(Role.STAFF), make_user(Role.SLT)
    device = make_device(owner)
    with app.test_request_context():
        stored = db.session.get(Device, device.device_id)
        with pytest.raises(OfflineRefused):
            revoke_device(db.session.get(type(slt), slt.id), stored)


# --- The outbox: what arrives is recorded once ---------------------------------------------------


def test_a_sealed_incident_is_recorded_without_a_session(
    app, client, school, make_device, server_key
):
    device = make_device(school.staff)
    body = payload(school)
    envelope, sealed = device.seal(server_key, body, [("letter.pdf", "application/pdf", PDF)])
    response = post_sealed(client, envelope, sealed)
    assert response.status_code == 201, response.get_json()
    receipt = response.get_json()
    assert receipt["uuid"] == body["uuid"] and receipt["number"] >= 1001
    with app.app_context():
        incident = db.session.scalar(sa.select(Incident).where(Incident.uuid == body["uuid"]))
        assert incident.author_id == school.staff.id
        assert incident.account == body["account"]
        assert db.session.scalar(sa.select(sa.func.count(IncidentFile.id))) == 1
        stored = db.session.get(Device, device.device_id)
        assert stored.last_used_at is not None
    (created,) = audit_actions(app, "incident.created")
    assert json.loads(created.details)["device_id"] == device.device_id


def test_replays_record_it_once(app, client, school, make_device, server_key):
    device = make_device(school.staff)
    body = payload(school)
    envelope, sealed = device.seal(server_key, body)
    first = post_sealed(client, envelope, sealed).get_json()
    # The same entry again (the reply was lost), and the same incident sealed afresh.
    again = post_sealed(client, envelope, sealed)
    resealed = post_sealed(client, *device.seal(server_key, body))
    assert again.status_code == resealed.status_code == 200
    assert again.get_json()["number"] == resealed.get_json()["number"] == first["number"]
    assert counts(app)["incidents"] == 1


def test_a_locked_or_ended_session_does_not_stand_in_the_way(
    app, client, school, make_device, sign_in, server_key
):
    device = make_device(school.staff)
    sign_in(school.staff)
    client.post("/auth/blank")
    response = post_sealed(client, *device.seal(server_key, payload(school)))
    assert response.status_code == 201
    client.post("/auth/sign-out")
    response = post_sealed(client, *device.seal(server_key, payload(school)))
    assert response.status_code == 201
    assert counts(app)["incidents"] == 2


def _refused(app, response, status, code, retry=False):
    assert response.status_code == status, response.get_json()
    body = response.get_json()
    assert body["error"] == code and body["retry"] is retry and body["message"]
    assert counts(app)["incidents"] == 0
    assert counts(app)["audit"] == 0


def test_a_bad_signature_is_refused(app, client, school, make_device, server_key):
    device = make_device(school.staff)
    envelope, sealed = device.seal(server_key, payload(school))
    envelope["signature"] = b64url(bytes(64))
    _refused(app, post_sealed(client, envelope, sealed), 403, "bad_signature")


def test_a_signature_replayed_with_another_body_is_refused(
    app, client, school, make_device, server_key
):
    device = make_device(school.staff)
    envelope, sealed = device.seal(server_key, payload(school))
    _other_envelope, other_sealed = device.seal(
        server_key, payload(school, account="Another account")
    )
    _refused(app, post_sealed(client, envelope, other_sealed), 403, "bad_signature")


def test_a_changed_envelope_field_breaks_the_signature(
    app, client, school, make_device, server_key
):
    device = make_device(school.staff)
    envelope, sealed = device.seal(server_key, payload(school))
    envelope["uuid"] = str(uuid.uuid4())
    _refused(app, post_sealed(client, envelope, sealed), 403, "bad_signature")


def test_a_revoked_device_is_refused_for_good(app, client, school, make_device, server_key):
    device = make_device(school.staff)
    envelope, sealed = device.seal(server_key, payload(school))
    with app.test_request_context():
        revoke_device(db.session.merge(school.staff), db.session.get(Device, device.device_id))
        db.session.commit()
    _refused(app, post_sealed(client, envelope, sealed), 403, "device_revoked")


def test_another_users_device_cannot_send_as_its_owner(
    app, client, school, make_device, server_key
):
    mine, theirs = make_device(school.staff), make_device(school.teacher)
    # Signed with my key but naming the teacher's device: the teacher's key does not verify it.
    envelope, sealed = mine.seal(server_key, payload(school), device_id=theirs.device_id)
    _refused(app, post_sealed(client, envelope, sealed), 403, "bad_signature")


def test_an_unknown_device_is_refused(app, client, school, server_key):
    stranger = SoftwareDevice(device_id=424242)
    _refused(
        app, post_sealed(client, *stranger.seal(server_key, payload(school))), 403, "device_unknown"
    )


def test_a_disabled_author_is_refused(app, client, school, make_device, server_key):
    device = make_device(school.staff)
    envelope, sealed = device.seal(server_key, payload(school))
    with app.app_context():
        db.session.merge(school.staff).active = False
        db.session.commit()
    _refused(app, post_sealed(client, envelope, sealed), 403, "author_disabled")


def test_tampered_ciphertext_does_not_open(app, client, school, make_device, server_key):
    device = make_device(school.staff)
    envelope, sealed = device.seal(server_key, payload(school))
    changed = bytearray(sealed)
    changed[10] ^= 0x01
    # Even re-signed by the device itself, the AES-GCM tag refuses it.
    envelope["sealed_sha256"] = b64url(__import__("hashlib").sha256(bytes(changed)).digest())
    device.resign(envelope)
    _refused(app, post_sealed(client, envelope, bytes(changed)), 422, "cannot_open")


def test_content_moved_to_another_uuid_does_not_open(app, client, school, make_device, server_key):
    device = make_device(school.staff)
    body = payload(school)
    envelope, sealed = device.seal(server_key, body)
    envelope["uuid"] = str(uuid.uuid4())  # the associated data no longer matches
    device.resign(envelope)
    _refused(app, post_sealed(client, envelope, sealed), 422, "cannot_open")


def test_sealed_to_the_wrong_key_is_refused(app, client, school, make_device):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    device = make_device(school.staff)
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
    spki = other.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    wrong_key = {"key_id": "0" * 32, "spki": b64url(spki)}
    _refused(app, post_sealed(client, *device.seal(wrong_key, payload(school))), 422, "unknown_key")


def test_wrong_key_under_the_right_key_id_does_not_open(
    app, client, school, make_device, server_key
):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    device = make_device(school.staff)
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
    spki = other.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    disguised = {"key_id": server_key["key_id"], "spki": b64url(spki)}
    _refused(app, post_sealed(client, *device.seal(disguised, payload(school))), 422, "cannot_open")


@pytest.mark.parametrize(
    "envelope",
    [
        "",
        "null",
        "[]",
        "{",
        json.dumps({"v": 2}),
        "x" * 5000,
        json.dumps({"v": 1, "device_id": True}),
    ],
)
def test_malformed_envelopes_are_refused(app, client, envelope):
    response = post_sealed(client, envelope, b"sealed")
    assert response.status_code == 400
    assert response.get_json()["error"] == "malformed"
    assert counts(app)["incidents"] == 0


def test_not_a_form_is_refused(app, client):
    response = client.post("/api/outbox", json={"v": 1}, csrf=False)
    assert response.status_code == 400


def test_an_oversized_body_is_refused_before_it_is_read(
    app, client, school, make_device, server_key
):
    device = make_device(school.staff)
    envelope, _sealed = device.seal(server_key, payload(school))
    huge = b"\0" * (10 * 20 * 1024 * 1024 + 3 * 1024 * 1024)
    response = post_sealed(client, envelope, huge)
    assert response.status_code == 413
    assert counts(app)["incidents"] == 0


def test_a_container_that_lies_about_its_files_is_refused(
    app, client, school, make_device, server_key
):
    device = make_device(school.staff)
    body = payload(school)
    header = json.dumps(
        {"incident": body, "files": [{"name": "a.pdf", "type": "", "size": 9999}]}
    ).encode()
    lying = len(header).to_bytes(4, "big") + header + b"short"
    _refused(
        app, post_sealed(client, *device.seal(server_key, body, plain=lying)), 422, "cannot_open"
    )


def test_content_that_does_not_match_its_envelope_is_refused(
    app, client, school, make_device, server_key
):
    device = make_device(school.staff)
    body = payload(school)
    inner = dict(body, uuid=str(uuid.uuid4()))
    envelope, sealed = device.seal(server_key, body, plain=pack(inner))
    _refused(app, post_sealed(client, envelope, sealed), 422, "mismatch")


def test_the_same_uuid_with_different_content_is_refused_for_good(
    app, client, school, make_device, server_key
):
    device = make_device(school.staff)
    body = payload(school)
    assert post_sealed(client, *device.seal(server_key, body)).status_code == 201
    response = post_sealed(
        client, *device.seal(server_key, dict(body, account="Changed afterwards"))
    )
    assert response.status_code == 422
    assert response.get_json()["retry"] is False
    assert counts(app)["incidents"] == 1


def test_invalid_content_is_refused_for_good_with_its_reasons(
    app, client, school, make_device, server_key
):
    device = make_device(school.staff)
    response = post_sealed(
        client, *device.seal(server_key, payload(school, account="", category_ids=[]))
    )
    assert response.status_code == 422
    body = response.get_json()
    assert body["retry"] is False and set(body["fields"]) == {"account", "category_ids"}
    assert counts(app)["incidents"] == 0


def test_a_clock_far_ahead_is_refused_but_may_be_sent_again(
    app, client, school, make_device, server_key
):
    device = make_device(school.staff)
    ahead = "2999-01-01T00:00:00Z"
    response = post_sealed(client, *device.seal(server_key, payload(school), signed_at=ahead))
    assert response.status_code == 422
    assert response.get_json() == {**response.get_json(), "error": "clock", "retry": True}
    assert counts(app)["incidents"] == 0


def test_the_domain_function_records_through_submit_incident(app, school, make_device, server_key):
    device = make_device(school.staff)
    body = payload(school)
    envelope, sealed = device.seal(server_key, body)
    with app.test_request_context():
        receipt = outbox.receive(json.dumps(envelope), sealed)
        db.session.commit()
        assert receipt.created and receipt.uuid == body["uuid"]
        again = outbox.receive(json.dumps(envelope), sealed)
        assert not again.created and again.number == receipt.number


# --- "Copy the account": the author opens a refused entry -------------------------------------


def test_the_author_opens_a_refused_entry_to_copy_the_account(
    client, school, make_device, sign_in, server_key
):
    device = make_device(school.staff)
    envelope, sealed = device.seal(server_key, payload(school, category_ids=[]))
    sign_in(school.staff)
    data = {"envelope": json.dumps(envelope), "sealed": (io.BytesIO(sealed), "sealed")}
    response = client.post("/api/outbox/open", data=data, content_type="multipart/form-data")
    assert response.status_code == 200
    assert response.get_json()["account"].startswith("Ada said")


def test_nobody_else_opens_it(client, school, make_device, sign_in, server_key):
    device = make_device(school.staff)
    envelope, sealed = device.seal(server_key, payload(school))
    sign_in(school.dsl)
    data = {"envelope": json.dumps(envelope), "sealed": (io.BytesIO(sealed), "sealed")}
    response = client.post("/api/outbox/open", data=data, content_type="multipart/form-data")
    assert response.status_code == 403
    assert "account" not in response.get_json()


# --- The installable app: manifest, service worker, app shell ------------------------------------


def test_the_manifest_makes_haven_installable(client):
    response = client.get("/manifest.webmanifest")
    assert response.status_code == 200 and response.mimetype == "application/manifest+json"
    manifest = response.get_json()
    assert manifest["display"] == "standalone" and manifest["start_url"].startswith("/")
    sizes = {(icon["sizes"], icon.get("purpose", "any")) for icon in manifest["icons"]}
    assert {("192x192", "any"), ("512x512", "any"), ("512x512", "maskable")} <= sizes
    for icon in manifest["icons"]:
        assert client.get(icon["src"]).status_code == 200


def test_the_service_worker_is_served_from_the_root_with_its_build(client):
    response = client.get("/service-worker.js")
    assert response.status_code == 200
    assert response.mimetype == "text/javascript"
    assert response.headers["Service-Worker-Allowed"] == "/"
    assert response.headers["Cache-Control"] == "no-store"  # an update is seen at once
    source = response.get_data(as_text=True)
    assert "__HAVEN_BUILD__" not in source
    build = json.loads(source.split("const BUILD = ", 1)[1].split(";\n", 1)[0])
    assert len(build["version"]) == 16
    outbox = f"/static/{build['version']}/js/outbox.js"  # one build: the static URLs' prefix
    assert "/offline/incident" in build["precache"] and outbox in build["precache"]
    assert f"import {{ replayOutbox }} from '{outbox}';" in source


def test_only_public_pages_are_precached_and_none_redirects(client, school, sign_in):
    source = client.get("/service-worker.js").get_data(as_text=True)
    build = json.loads(source.split("const BUILD = ", 1)[1].split(";\n", 1)[0])
    assert not any(
        url.startswith(("/api/", "/incidents/", "/alerts", "/auth", "/admin")) or url == "/"
        for url in build["precache"]
    )
    for url in build["precache"]:  # as the service worker fetches them: no cookie
        response = client.get(url)
        assert response.status_code == 200, url
        assert "Set-Cookie" not in response.headers, url
    sign_in(school.staff)  # a signed-in browser gets the same, anonymous shell
    for url in build["precache"]:
        response = client.get(url)
        assert response.status_code == 200, url
        text = response.get_data()
        assert b"Tess Assistant" not in text and b"Ada" not in text, url
        assert b'<meta name="csrf-token"' not in text, url


def test_the_version_changes_with_a_precached_file(app, tmp_path, monkeypatch):
    from server.offline import app_shell

    with app.test_request_context():
        before = app_shell.build_version()
        css = tmp_path / "css"
        css.mkdir()
        (css / "extra.css").write_text("body{}")
        monkeypatch.setattr(app_shell, "STATIC_DIR", tmp_path)
        assert app_shell.build_version() != before


def test_the_shell_is_the_add_incident_form(client):
    page = client.get("/offline/incident").get_data(as_text=True)
    assert 'id="incident-form"' in page and "data-app-shell" in page
    assert 'id="device-lock"' in page


def test_the_sealing_key_is_public(client, server_key):
    response = client.get("/api/offline/sealing-key")
    assert response.status_code == 200 and response.get_json() == server_key
    assert response.get_json()["algorithm"] == "RSA-OAEP-256+A256GCM"


def test_the_sealing_key_is_made_once_and_kept(app, server_key):
    with app.test_request_context():
        assert sealing_key().public_json() == server_key


def test_signed_in_pages_name_the_user_for_the_device_and_offer_the_app(client, school, sign_in):
    sign_in(school.staff)
    page = client.get("/incidents/new").get_data(as_text=True)
    assert f'<meta name="haven-user" content="{school.staff.id}">' in page
    assert 'rel="manifest"' in page and "apple-touch-icon" in page and "js/app.js" in page
    assert 'id="outbox-badge"' in page


def test_device_list_is_private_to_its_owner_and_managers(
    client, school, make_device, sign_in, step_up
):
    make_device(school.teacher, name="Carl's iPad")
    sign_in(school.slt)
    step_up()
    assert client.get(f"/users/{school.teacher.id}/devices").status_code == 403
    assert "Carl's iPad" not in client.get("/devices").get_data(as_text=True)


def test_revoked_at_is_not_rewound(app, school, make_device):
    device = make_device(school.staff)
    with app.test_request_context():
        stored = db.session.get(Device, device.device_id)
        revoke_device(db.session.merge(school.staff), stored)
        first = stored.revoked_at
        revoke_device(db.session.merge(school.dsl), stored)
        assert stored.revoked_at == first and stored.revoked_by_id == school.staff.id
        assert first <= utcnow()


def test_the_cli_lists_and_removes_a_lost_ipad(app, runner, make_user, make_device):
    owner = make_user(Role.STAFF, email="trip.ta@school.example")
    device = make_device(owner, name="Trip iPad")
    listed = runner.invoke(args=["devices", "list", "trip.ta@school.example"])
    assert "Trip iPad" in listed.output and "in use" in listed.output
    assert runner.invoke(args=["devices", "revoke", "trip.ta@school.example"]).exit_code == 2
    removed = runner.invoke(args=["devices", "revoke", "trip.ta@school.example", "--all"])
    assert removed.exit_code == 0 and "Removed 1 device(s)" in removed.output
    with app.app_context():
        assert db.session.get(Device, device.device_id).revoked_at is not None
    (row,) = audit_actions(app, "device.revoked")
    assert row.actor_user_id is None
    unknown = runner.invoke(args=["devices", "list", "nobody@school.example"])
    assert unknown.exit_code == 1


def test_removing_a_device_removes_its_notifications_too(
    app, client, make_user, make_device, sign_in, local_push
):
    from server.push.models import PushSubscription

    owner = make_user(Role.STAFF)
    device = make_device(owner)
    other_device = make_device(make_user(Role.STAFF))
    sign_in(owner)
    browser = local_push.device()
    sent = {**browser.subscription, "name": "Year 4 iPad", "device_id": device.device_id}
    assert client.post("/push/subscriptions", json=sent).status_code == 201
    # Someone else's device id is not taken from the body.
    stranger = local_push.device()
    body = {**stranger.subscription, "name": "x", "device_id": other_device.device_id}
    assert client.post("/push/subscriptions", json=body).status_code == 201
    with app.app_context():
        linked = db.session.scalars(sa.select(PushSubscription.device_id)).all()
        assert sorted(linked, key=str) == sorted([device.device_id, None], key=str)
    client.post(f"/devices/{device.device_id}/revoke")
    with app.app_context():
        assert (
            db.session.scalar(
                sa.select(sa.func.count(PushSubscription.id)).where(
                    PushSubscription.device_id == device.device_id
                )
            )
            == 0
        )
