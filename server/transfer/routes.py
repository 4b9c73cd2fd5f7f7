"""Transfer pages (DSL only, step-up; sending and importing need a fresh passkey check), the
school key download, and the inbox other Havens post packages and receipts to."""

import io
from functools import wraps

from flask import (
    current_app,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_login import current_user
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import RequestEntityTooLarge

from server.audit.operations import client_address
from server.auth.access import public, requires
from server.auth.models import User
from server.auth.roles import Permission
from server.chronology.operations import find_pupils
from server.clock import school_today
from server.errors import Refused
from server.extensions import csrf, db
from server.ids import parse_id, row_by_id
from server.pupils.models import Pupil
from server.request_guards import reads_its_own_body, refuse_bad_json_body
from server.transfer import bp, imported, operations
from server.transfer.keys import KeyRefused, own_school_key, parse_school_key
from server.transfer.models import IncomingTransfer
from server.transfer.package import PackageRefused, canonical
from server.transfer.reminders import awaiting

TRANSFER = Permission.TRANSFER_RECORDS
MAX_KEY_FILE_BYTES = 64 * 1024


def _me() -> User:
    return current_user._get_current_object()


def _download(data: bytes, filename: str, mimetype: str):
    return send_file(
        io.BytesIO(data), mimetype=mimetype, as_attachment=True, download_name=filename,
        conditional=False, etag=False, max_age=0,
    )  # fmt: skip


def _uploaded(field: str, limit: int) -> bytes | None:
    upload = request.files.get(field)
    if upload is None or not upload.filename:
        return None
    data = upload.read(limit + 1)
    if len(data) > limit:
        raise RequestEntityTooLarge()
    return data


def _allow_large_upload() -> None:
    """A package holds every file about a pupil: raise the limit before the body is read, for
    the one kind of body that may carry one. Any other body over the usual limit is refused
    (413) before anything else, whoever sends it."""
    if request.mimetype in ("multipart/form-data", operations.PACKAGE_MEDIA_TYPE):
        request.max_content_length = current_app.config["TRANSFER_MAX_BYTES"]
    if (request.content_length or 0) > (request.max_content_length or 0):
        raise RequestEntityTooLarge()


def large_upload(view):
    """Outermost on a view that takes a package: the size is judged before sign-in is."""

    @wraps(view)
    def checked(*args, **kwargs):
        _allow_large_upload()
        return view(*args, **kwargs)

    return checked


# --- The DSL's pages ----------------------------------------------------------------------


@bp.get("/")
@requires(TRANSFER, step_up=True)
def index():
    me = _me()
    return render_template(
        "transfer/index.html",
        school=own_school_key(),
        schools=operations.trusted_schools(),
        outgoing=awaiting(me),
        all_outgoing=operations.outgoing_transfers(me),
        incoming=operations.incoming_transfers(me),
        due_by=operations.due_by,
        today=school_today(),
    )


@bp.get("/school-key.json")
@requires(TRANSFER, step_up=True)
def school_key_file():
    school = own_school_key()
    return _download(canonical(school.as_json()), "haven-school-key.json", "application/json")


@bp.post("/schools")
@requires(TRANSFER, fresh_assertion=True)
def add_school():
    try:
        data = _uploaded("key_file", MAX_KEY_FILE_BYTES)
        if data is None:
            raise KeyRefused("Choose the school key file the other school gave you.")
        key = parse_school_key(data)
        if request.form.get("fingerprint_checked") != "yes":
            raise KeyRefused(
                f"Check the fingerprint {key.fingerprint} with {key.school_name}'s DSL (by "
                "phone) and tick the box to say you have."
            )
        operations.trust(_me(), key)
    except (KeyRefused, operations.TransferRefused) as refusal:
        db.session.rollback()
        flash(refusal.message, "error")
        return redirect(url_for(".index")), 303
    db.session.commit()
    flash(f"{key.school_name}'s key is trusted.", "success")
    return redirect(url_for(".index"))


@bp.route("/new", methods=["GET", "POST"])
@requires(TRANSFER, step_up=True, fresh_assertion_for=("POST",))
def new():
    if request.method == "POST":
        return _create()
    pupil = row_by_id(Pupil, request.args.get("pupil_id"))
    text = request.args.get("q", "")[:200]
    pupils = find_pupils(_me(), text) if text.strip() and pupil is None else []
    return render_template(
        "transfer/new.html", pupil=pupil, text=text, pupils=pupils,
        schools=operations.trusted_schools(),
    )  # fmt: skip


def _create():
    form = request.form
    try:
        receiver = _receiver(form)
        transfer = operations.create_transfer(
            _me(), form.get("pupil_id"), receiver,
            fingerprint_checked=form.get("fingerprint_checked") == "yes",
        )  # fmt: skip
    except (KeyRefused, operations.TransferRefused) as refusal:
        db.session.rollback()
        flash(refusal.message, "error")
        return redirect(url_for(".new", pupil_id=parse_id(form.get("pupil_id")))), 303
    db.session.commit()
    flash("The package is ready: download it or send it to the receiving Haven.", "success")
    return redirect(url_for(".outgoing", transfer_id=transfer.id))


def _receiver(form):
    data = _uploaded("key_file", MAX_KEY_FILE_BYTES)
    if data is not None:
        return parse_school_key(data)
    school_id = parse_id(form.get("school_id"))
    school = None
    if school_id is not None:
        from server.transfer.models import TrustedSchool

        school = db.session.get(TrustedSchool, school_id)
    if school is None:
        raise KeyRefused("Choose the receiving school, or upload its school key file.")
    return operations.trusted_key(school)


@bp.get("/out/<int:transfer_id>")
@requires(TRANSFER, step_up=True)
def outgoing(transfer_id: int):
    transfer = operations.outgoing(_me(), transfer_id)
    return render_template(
        "transfer/outgoing.html", transfer=transfer, due_by=operations.due_by(transfer),
        today=school_today(),
    )  # fmt: skip


@bp.get("/out/<int:transfer_id>/package")
@requires(TRANSFER, fresh_assertion=True)
def download_package(transfer_id: int):
    try:
        transfer, data = operations.download_package(_me(), transfer_id)
    except operations.TransferRefused as refusal:
        db.session.rollback()
        flash(refusal.message, "error")
        return redirect(url_for(".outgoing", transfer_id=transfer_id))
    db.session.commit()
    return _download(
        data, f"haven-transfer-{transfer.package_id}.json", operations.PACKAGE_MEDIA_TYPE
    )


@bp.post("/out/<int:transfer_id>/send")
@requires(TRANSFER, fresh_assertion=True)
def send(transfer_id: int):
    try:
        transfer = operations.send_to_endpoint(
            _me(), transfer_id, request.form.get("endpoint", "")[:600]
        )
    except operations.TransferRefused as refusal:
        db.session.rollback()
        flash(refusal.message, "error")
        return redirect(url_for(".outgoing", transfer_id=transfer_id)), 303
    db.session.commit()
    if transfer.delivery_error:
        flash(transfer.delivery_error, "error")
    else:
        flash(f"Sent: {transfer.recipient_name}'s Haven has received it.", "success")
    return redirect(url_for(".outgoing", transfer_id=transfer.id))


@bp.post("/receipts")
@requires(TRANSFER, step_up=True)
def upload_receipt():
    try:
        data = _uploaded("receipt_file", MAX_KEY_FILE_BYTES)
        if data is None:
            raise PackageRefused("Choose the receipt file the receiving school sent you.")
        transfer = operations.record_receipt(data, via="upload", user=_me())
    except PackageRefused as refusal:
        db.session.rollback()
        flash(refusal.message, "error")
        return redirect(url_for(".index")), 303
    db.session.commit()
    flash(f"Receipt recorded: {transfer.status}.", "success")
    return redirect(url_for(".outgoing", transfer_id=transfer.id))


@bp.post("/in/upload")
@csrf.exempt
@large_upload
@requires(TRANSFER, fresh_assertion=True)
def upload_package():
    csrf.protect()
    try:
        data = _uploaded("package_file", current_app.config["TRANSFER_MAX_BYTES"])
        if data is None:
            raise PackageRefused("Choose the package file the other school sent you.")
        arrival = operations.receive_package(data, via="upload", user=_me())
    except PackageRefused as refusal:
        db.session.rollback()
        flash(refusal.message, "error")
        return redirect(url_for(".index")), 303
    db.session.commit()
    if not arrival.created:
        flash("This package was received before: nothing has changed.", "info")
    return redirect(url_for(".incoming", incoming_id=arrival.incoming.id))


@bp.get("/in/<int:incoming_id>")
@requires(TRANSFER, step_up=True)
def incoming(incoming_id: int):
    view = operations.view_incoming(_me(), incoming_id)
    db.session.commit()
    return render_template("transfer/incoming.html", view=view, pupil=view.record["pupil"])


@bp.post("/in/<int:incoming_id>/import")
@requires(TRANSFER, fresh_assertion=True)
def import_package(incoming_id: int):
    try:
        choice = request.form.get("pupil_other") or request.form.get("pupil", "")
        row = operations.import_package(
            _me(), incoming_id, pupil_choice=choice[:40],
            fingerprint_checked=request.form.get("fingerprint_checked") == "yes",
        )  # fmt: skip
    except (operations.TransferRefused, PackageRefused) as refusal:
        db.session.rollback()
        flash(refusal.message, "error")
        return redirect(url_for(".incoming", incoming_id=incoming_id)), 303
    db.session.commit()
    incoming_id = row.id
    operations.enqueue_receipt(row)
    row = db.session.get(IncomingTransfer, incoming_id)
    db.session.refresh(row)  # without Redis the job has already run
    if row.receipt_sent_at is not None:
        flash("Imported, and the receipt sent.", "success")
    elif row.sender_endpoint:
        flash(
            "Imported. The receipt is not yet delivered to their Haven: download it from the "
            "transfer's page and send it to their DSL.",
            "info",
        )
    else:
        flash("Imported. Download the receipt and send it to their DSL.", "info")
    return redirect(url_for("chronology.pupil_record", pupil_id=row.pupil_id))


@bp.get("/in/<int:incoming_id>/receipt")
@requires(TRANSFER, step_up=True)
def receipt(incoming_id: int):
    row = operations.incoming(_me(), incoming_id)
    if row.receipt is None:
        flash("There is a receipt once the package is imported.", "info")
        return redirect(url_for(".incoming", incoming_id=row.id))
    return _download(
        row.receipt.encode(), f"haven-receipt-{row.package_id}.json", "application/json"
    )


@bp.get("/imported/<int:imported_id>")
@requires(Permission.REVIEW_ALL, step_up=True)  # who exactly: operations.can_read_imported
def imported_incident(imported_id: int):
    incident = imported.open_imported(_me(), imported_id, g.get("user_session"))
    db.session.commit()
    return render_template("transfer/imported.html", incident=incident, data=incident.data)


@bp.get("/imported/files/<int:file_id>")
@requires(Permission.REVIEW_ALL, step_up=True)  # who exactly: operations.can_read_imported
def imported_file(file_id: int):
    file, data = imported.open_imported_file(_me(), file_id, g.get("user_session"))
    db.session.commit()
    return _download(data, file.original_name, file.content_type)


# --- What other Havens post -----------------------------------------------------------------


@bp.post("/inbox")
@csrf.exempt  # another Haven posts here, not a browser: a package is its own credential
@public
@reads_its_own_body
def inbox():
    address = client_address() or "unknown"
    declared = request.content_length
    try:
        limit = _inbox_limit()
        operations.admit_to_inbox(address, declared, limit)
        db.session.commit()  # the post counts against its address whatever follows
        data = _read_body(limit)
        refuse_bad_json_body(data)
        body, status = operations.inbox(data)
    except Refused as refusal:
        db.session.rollback()
        reason = getattr(refusal, "reason", "invalid")
        _audit_refusal(reason, refusal.status, declared)
        return jsonify(error=reason, message=refusal.message), refusal.status
    db.session.commit()
    return jsonify(body), status


def _inbox_limit() -> int:
    """A package may be large; any other body is held to the usual upload limit."""
    if request.mimetype == operations.PACKAGE_MEDIA_TYPE:
        return current_app.config["TRANSFER_MAX_BYTES"]
    return current_app.config["MAX_CONTENT_LENGTH"]


def _read_body(limit: int) -> bytes:
    """The body, read in chunks and refused as soon as it passes the limit: a chunked body
    declares no length, so the declared size alone is not enough."""
    # One byte over the limit, so that the check below (not the stream's) sees a body of
    # exactly the limit through.
    request.max_content_length = limit + 1
    chunks, size = [], 0
    try:
        while chunk := request.stream.read(1024 * 1024):
            size += len(chunk)
            if size > limit:
                raise operations.too_large(limit)
            chunks.append(chunk)
    except RequestEntityTooLarge:
        raise operations.too_large(limit) from None
    return b"".join(chunks)


def _audit_refusal(reason: str, status: int, declared: int | None) -> None:
    try:
        operations.audit_inbox_refusal(reason, status, declared)
        db.session.commit()
    except SQLAlchemyError:
        db.session.rollback()
        current_app.logger.exception("could not audit a refused transfer inbox post")
