"""Routes of the installable app: the service worker, the manifest, the offline app shell,
device enrolment and the outbox a device replays into."""

from flask import (
    abort,
    flash,
    jsonify,
    make_response,
    redirect,
    render_template,
    request,
    send_from_directory,
    url_for,
)
from flask_login import AnonymousUserMixin, current_user

from server.auth.access import public_background, requires
from server.auth.models import User
from server.auth.roles import Permission
from server.extensions import csrf, db
from server.incidents.errors import IncidentRefused
from server.incidents.files import MAX_FILE_BYTES, MAX_FILES
from server.incidents.page import request_json
from server.offline import app_shell, bp, devices, outbox
from server.offline.errors import OfflineRefused
from server.offline.sealing import sealing_key


def _me() -> User:
    return current_user._get_current_object()


@bp.errorhandler(OfflineRefused)
def refused(error: OfflineRefused):
    db.session.rollback()
    if request.path.startswith("/api/"):
        return jsonify(error.to_json()), error.status
    return render_template(
        "errors/error.html", status=error.status, title="Not done", message=error.message
    ), error.status


@bp.errorhandler(IncidentRefused)
def incident_refused(error: IncidentRefused):
    """The device's incident was read but not accepted: it will not be, however often sent."""
    db.session.rollback()
    return jsonify({**error.to_json(), "retry": False}), error.status


# --- The installable app --------------------------------------------------------------------


@bp.get("/service-worker.js")
@public_background
def service_worker():
    body = app_shell.service_worker_source()
    response = make_response(body)
    response.mimetype = "text/javascript"
    # Never cached by HTTP (server/security.py), so an update is seen at the next navigation.
    response.headers["Service-Worker-Allowed"] = "/"
    return response


@bp.get("/sw/<path:filename>")
@public_background
def service_worker_module(filename: str):
    return send_from_directory(app_shell.SERVICE_WORKER_DIR, filename, max_age=0)


@bp.get("/manifest.webmanifest")
@public_background
def manifest():
    response = jsonify(app_shell.manifest())
    response.mimetype = "application/manifest+json"
    return response


@bp.get("/offline/incident")
@public_background
def incident_shell():
    """The Add Incident form with nothing personal in it, for the service worker to keep."""
    return render_template("incidents/new.html", app_shell=True, user=AnonymousUserMixin())


@bp.get("/offline")
@public_background
def offline_page():
    return render_template("offline/offline.html", app_shell=True, user=AnonymousUserMixin())


@bp.get("/api/offline/sealing-key")
@public_background
def sealing_public_key():
    return jsonify(sealing_key().public_json())


# --- Devices --------------------------------------------------------------------------------


@bp.post("/api/devices")
@requires(Permission.RECORD_INCIDENTS)
def enrol():
    body = request_json()
    if not isinstance(body, dict):
        raise OfflineRefused("Send the device as JSON.", "malformed", 400)
    device = devices.enrol_device(_me(), body.get("name"), body.get("public_key"))
    db.session.commit()
    return jsonify(_device_json(device)), 201


@bp.get("/api/devices/<int:device_id>/secret")
@requires(Permission.RECORD_INCIDENTS)
def device_secret(device_id: int):
    device = devices.own_active_device(_me(), device_id)
    return jsonify({**_device_json(device), "secret": devices.device_secret(device)})


def _device_json(device) -> dict:
    return {"id": device.id, "name": device.name, "user_id": device.user_id}


@bp.get("/devices")
@requires(Permission.RECORD_INCIDENTS)
def own_devices():
    return render_template("offline/devices.html", devices=devices.devices_of(_me()), owner=None)


@bp.post("/devices/<int:device_id>/revoke")
@requires(Permission.RECORD_INCIDENTS)
def revoke_own(device_id: int):
    device = devices.find_device(device_id)
    if device is None or device.user_id != _me().id:
        abort(404)
    devices.revoke_device(_me(), device)
    db.session.commit()
    flash(
        f"“{device.name}” removed. Anything waiting to send on it will not be accepted.", "success"
    )
    return redirect(url_for("offline.own_devices"))


@bp.get("/users/<int:user_id>/devices")
@requires(Permission.MANAGE_USERS, step_up=True)
def user_devices(user_id: int):
    owner = db.get_or_404(User, user_id)
    return render_template("offline/devices.html", devices=devices.devices_of(owner), owner=owner)


@bp.post("/users/<int:user_id>/devices/<int:device_id>/revoke")
@requires(Permission.MANAGE_USERS, step_up=True)
def revoke_for_user(user_id: int, device_id: int):
    device = devices.find_device(device_id)
    if device is None or device.user_id != user_id:
        abort(404)
    devices.revoke_device(_me(), device)
    db.session.commit()
    flash(
        f"“{device.name}” removed. Anything waiting to send on it will not be accepted.", "success"
    )
    return redirect(url_for("offline.user_devices", user_id=user_id))


# --- The outbox -----------------------------------------------------------------------------


def _sealed_parts() -> tuple[str | None, bytes]:
    """The envelope and the sealed bytes of a multipart body, reading no more than allowed.

    Only a form may be as large as an incident with its files; anything else keeps the
    application's limit, so an oversize body of another kind is refused (413) unread."""
    if request.mimetype != "multipart/form-data":
        request.get_data()  # under the default limit: too large is 413, as everywhere
        raise OfflineRefused("Send the outbox entry as a form.", "malformed", 400)
    request.max_content_length = MAX_FILES * MAX_FILE_BYTES + 2 * 1024 * 1024
    request.max_form_memory_size = 64 * 1024
    sealed = request.files.get("sealed")
    return request.form.get("envelope"), sealed.stream.read() if sealed else b""


@bp.post("/api/outbox")
@csrf.exempt  # authenticated by the device's signature, not by a session
@public_background
def receive():
    envelope, sealed = _sealed_parts()
    receipt = outbox.receive(envelope, sealed)
    db.session.commit()
    return jsonify(receipt.to_json()), 201 if receipt.created else 200


@bp.post("/api/outbox/open")
@requires(Permission.RECORD_INCIDENTS)
def open_refused_entry():
    envelope, sealed = _sealed_parts()
    return jsonify(outbox.open_for_owner(_me(), envelope, sealed))
