"""Transfer out, receipts and transfer in (SPEC §8). Views call these; each checks permission
(only those who may transfer records: the DSL, SPEC §1) and audits what it did.

Trust: a school's key is trusted once a DSL here has checked its fingerprint with the other
school (by phone) and said so, on sending to it or on importing from it (trust on first use,
confirmed by a person). A package from a school not yet trusted waits, verified but not
imported, until a DSL checks the fingerprint shown. Its signature is checked on arrival
against the key it names, and that key must be the trusted one, fingerprint for fingerprint.
"""

import logging
import uuid
from dataclasses import dataclass

import requests
from flask import abort, current_app
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from server.audit.operations import record as audit
from server.auth import throttling
from server.auth.models import User, UserSession
from server.auth.roles import Permission
from server.auth.step_up import review_unlocked
from server.clock import to_local, utcnow
from server.errors import Refused
from server.extensions import db
from server.ids import parse_id, row_by_id
from server.incidents import files as stored_files
from server.jobs import enqueue, job
from server.pupils.models import Pupil
from server.pupils.upn import normalise_upn, upn_problem
from server.transfer import imported
from server.transfer.keys import PublicSchoolKey, b64, own_school_key, transfer_keys, unb64
from server.transfer.models import IncomingTransfer, OutgoingTransfer, TrustedSchool
from server.transfer.package import (
    PACKAGE_FORMAT,
    RECEIPT_FORMAT,
    PackageRefused,
    canonical,
    open_package,
    parse_json,
    seal,
    sign_receipt,
    verify_package,
    verify_receipt,
)
from server.transfer.record import build_record
from server.transfer.schooldays import add_school_days

log = logging.getLogger(__name__)
PACKAGE_MEDIA_TYPE = "application/vnd.haven.transfer+json"


class TransferRefused(Refused):
    """A transfer step that cannot be taken, with the reason; nothing changed."""


def require_transferrer(user: User) -> None:
    if user is None or not user.is_authenticated or not user.active:
        abort(403)
    if not user.can(Permission.TRANSFER_RECORDS):
        abort(403)


# --- Schools' keys ---------------------------------------------------------------------------


def trusted_schools() -> list[TrustedSchool]:
    return list(db.session.scalars(select(TrustedSchool).order_by(TrustedSchool.school_name)))


def trusted_key(school: TrustedSchool) -> PublicSchoolKey:
    return PublicSchoolKey(
        school.school_name,
        school.urn,
        unb64(school.signing_key, "key"),
        unb64(school.encryption_key, "key"),
        school.endpoint,
    )


def trust(user: User, key: PublicSchoolKey) -> TrustedSchool:
    """Record that `user` checked this key's fingerprint with its school (audited)."""
    require_transferrer(user)
    if key.fingerprint == own_school_key().fingerprint:
        raise TransferRefused("That is this school's own key.")
    school = db.session.scalar(
        select(TrustedSchool).where(TrustedSchool.fingerprint == key.fingerprint)
    )
    if school is None:
        school = TrustedSchool(
            fingerprint=key.fingerprint,
            signing_key=b64(key.signing_public),
            encryption_key=b64(key.encryption_public),
            trusted_by_id=user.id,
            trusted_at=utcnow(),
        )
        db.session.add(school)
    school.school_name, school.urn = key.school_name, key.urn
    school.endpoint = key.endpoint or school.endpoint or ""
    db.session.flush()
    audit(
        "transfer.key_trusted",
        object_type="transfer_school",
        object_id=school.id,
        actor=user,
        details={"school": key.school_name, "urn": key.urn, "fingerprint": key.fingerprint},
    )
    return school


def is_trusted(fingerprint: str) -> bool:
    return (
        db.session.scalar(select(TrustedSchool.id).where(TrustedSchool.fingerprint == fingerprint))
        is not None
    )


# --- Transfer out ------------------------------------------------------------------------------


def _pupil(pupil_id) -> Pupil:
    pupil = row_by_id(Pupil, pupil_id)
    if pupil is None:
        raise TransferRefused("Choose the pupil whose file is to be sent.", 404)
    return pupil


def create_transfer(
    user: User, pupil_id, receiver: PublicSchoolKey, *, fingerprint_checked: bool
) -> OutgoingTransfer:
    """Build, encrypt and sign the package for `receiver`; kept (encrypted) until confirmed."""
    require_transferrer(user)
    pupil = _pupil(pupil_id)
    if not is_trusted(receiver.fingerprint):
        if not fingerprint_checked:
            raise TransferRefused(
                f"Check the fingerprint {receiver.fingerprint} with {receiver.school_name}'s "
                "DSL (by phone) and tick the box to say you have, before sending."
            )
        trust(user, receiver)
    package_id = str(uuid.uuid4())
    now = utcnow()
    record, incidents = build_record(user, pupil)
    package = seal(
        record,
        transfer_keys(),
        own_school_key(),
        receiver,
        package_id=package_id,
        created_at=now.isoformat(),
    )
    data = canonical(package)
    transfer = OutgoingTransfer(
        package_id=package_id,
        pupil_id=pupil.id,
        created_by_id=user.id,
        created_at=now,
        recipient_name=receiver.school_name,
        recipient_urn=receiver.urn,
        recipient_fingerprint=receiver.fingerprint,
        recipient_signing_key=b64(receiver.signing_public),
        recipient_encryption_key=b64(receiver.encryption_public),
        recipient_endpoint=receiver.endpoint,
        incidents=len(incidents),
        files=sum(len(incident.files) for incident in incidents),
        package_sha256=_sha256(data),
        stored_name=stored_files.store(data),
    )
    db.session.add(transfer)
    db.session.flush()
    audit(
        "transfer.created",
        object_type="pupil",
        object_id=pupil.id,
        actor=user,
        details={
            "package_id": package_id,
            "to": receiver.school_name,
            "fingerprint": receiver.fingerprint,
            "incidents": transfer.incidents,
            "files": transfer.files,
        },
    )
    return transfer


def _sha256(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()


def outgoing(user: User, transfer_id) -> OutgoingTransfer:
    require_transferrer(user)
    transfer = row_by_id(OutgoingTransfer, transfer_id)
    if transfer is None:
        abort(404)
    return transfer


def outgoing_transfers(user: User) -> list[OutgoingTransfer]:
    require_transferrer(user)
    return list(
        db.session.scalars(select(OutgoingTransfer).order_by(OutgoingTransfer.created_at.desc()))
    )


def package_bytes(transfer: OutgoingTransfer) -> bytes:
    if transfer.stored_name is None:
        raise TransferRefused("This package is no longer kept: its receipt was confirmed.", 410)
    return stored_files.load(transfer.stored_name)


def download_package(user: User, transfer_id) -> tuple[OutgoingTransfer, bytes]:
    """The package, for secure transfer by hand; the first download starts it as sent."""
    transfer = outgoing(user, transfer_id)
    data = package_bytes(transfer)
    if transfer.sent_at is None:
        transfer.sent_at, transfer.sent_by = utcnow(), "download"
    audit(
        "transfer.downloaded",
        object_type="pupil",
        object_id=transfer.pupil_id,
        actor=user,
        details={"package_id": transfer.package_id, "to": transfer.recipient_name},
    )
    return transfer, data


def recipient_key(transfer: OutgoingTransfer) -> PublicSchoolKey:
    return PublicSchoolKey(
        transfer.recipient_name,
        transfer.recipient_urn,
        unb64(transfer.recipient_signing_key, "key"),
        unb64(transfer.recipient_encryption_key, "key"),
        transfer.recipient_endpoint,
    )


def send_to_endpoint(user: User, transfer_id, endpoint: str = "") -> OutgoingTransfer:
    """POST the package to the receiving Haven; its signed "received" receipt is recorded.

    On failure the transfer stays, with the reason, to be sent again or downloaded; the
    failure is committed by the caller so it is not lost either."""
    transfer = outgoing(user, transfer_id)
    if endpoint:
        transfer.recipient_endpoint = _checked_endpoint(endpoint)
    if not transfer.recipient_endpoint:
        raise TransferRefused("There is no address for the receiving Haven: download the package.")
    data = package_bytes(transfer)
    audit(
        "transfer.sent",
        object_type="pupil",
        object_id=transfer.pupil_id,
        actor=user,
        details={"package_id": transfer.package_id, "to": transfer.recipient_endpoint},
    )
    attempted_at = utcnow()
    try:
        response = http_session().post(
            transfer.recipient_endpoint,
            data=data,
            headers={"Content-Type": PACKAGE_MEDIA_TYPE, "Accept": "application/json"},
            timeout=current_app.config["TRANSFER_SEND_TIMEOUT"],
            allow_redirects=False,
        )
    except requests.RequestException as error:
        transfer.delivery_error = f"Could not reach the receiving Haven: {type(error).__name__}."
        return transfer
    if response.status_code not in (200, 201):
        transfer.delivery_error = _their_reason(response)
        return transfer
    transfer.delivery_error = ""
    if transfer.sent_at is None or transfer.sent_by != "endpoint":
        transfer.sent_at, transfer.sent_by = attempted_at, "endpoint"
    try:
        _apply_receipt(transfer, response.content, via="endpoint")
    except PackageRefused as refusal:
        transfer.delivery_error = f"Sent, but the reply was not a valid receipt: {refusal.message}"
    return transfer


def _checked_endpoint(endpoint: str) -> str:
    endpoint = endpoint.strip()
    if not endpoint.startswith(("https://", "http://")) or len(endpoint) > 500:
        raise TransferRefused("The receiving Haven's address must be a web address (https://…).")
    return endpoint


def _their_reason(response, what: str = "package", who: str = "receiving") -> str:
    try:
        message = response.json().get("message", "")
    except ValueError:
        message = ""
    text = f"The {who} Haven refused the {what} ({response.status_code})"
    return (f"{text}: {message}" if message else text + ".")[:300]


def http_session() -> requests.Session:
    """The HTTP client packages and receipts go out with (tests give it an adapter)."""
    factory = current_app.config.get("TRANSFER_HTTP_SESSION")
    return factory() if factory else requests.Session()


# --- Receipts, at the sender ---------------------------------------------------------------


def record_receipt(data: bytes, *, via: str, user: User | None = None) -> OutgoingTransfer:
    """A receipt from a receiving school, posted to the inbox or uploaded by a DSL."""
    if user is not None:
        require_transferrer(user)
    body = verify_receipt(data)
    transfer = db.session.scalar(
        select(OutgoingTransfer).where(OutgoingTransfer.package_id == body.package_id)
    )
    if transfer is None:
        raise PackageRefused(
            "This receipt is for a package this school did not send.", "unknown", 404
        )
    _apply_receipt(transfer, data, via=via, actor=user)
    return transfer


def _apply_receipt(transfer: OutgoingTransfer, data: bytes, *, via: str, actor=None) -> None:
    receipt = verify_receipt(data, expected=recipient_key(transfer))
    if receipt.package_id != transfer.package_id:
        raise PackageRefused("This receipt is for another package.", "wrong_package")
    changed = False
    if transfer.received_at is None:
        transfer.received_at, changed = _moment(receipt.received_at), True
        if transfer.sent_at is None:
            transfer.sent_at = transfer.received_at
    if receipt.status == "confirmed" and transfer.confirmed_at is None:
        transfer.confirmed_at, changed = _moment(receipt.confirmed_at), True
        transfer.receipt = data.decode()
        # The receiver has it: the copy kept for sending again is no longer needed.
        if transfer.stored_name:
            stored_files.discard([transfer.stored_name])
            transfer.stored_name = None
    elif transfer.receipt is None:
        transfer.receipt = data.decode()
    if changed:
        audit(
            f"transfer.{receipt.status}",
            object_type="pupil",
            object_id=transfer.pupil_id,
            actor=actor,
            actor_label=None if actor else "system",
            details={"package_id": transfer.package_id, "by": transfer.recipient_name, "via": via},
        )


def _moment(text: str):
    from datetime import UTC, datetime

    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise PackageRefused("The receipt's times are not valid.") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def due_by(transfer: OutgoingTransfer):
    """The last school day by which the receipt should be confirmed."""
    days = current_app.config["TRANSFER_SCHOOL_DAYS"]
    return add_school_days(to_local(transfer.created_at).date(), days)


# --- Transfer in -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Arrival:
    incoming: IncomingTransfer
    created: bool


def receive_package(data: bytes, *, via: str, user: User | None = None) -> Arrival:
    """Verify a package (addressed here, signature sound, opens with this school's key) and
    keep it for a DSL to import. The same package again changes nothing; a different package
    under a package id already seen is refused."""
    if user is not None:
        require_transferrer(user)
    keys = transfer_keys()
    package = verify_package(data, keys.fingerprint)
    existing = db.session.scalar(
        select(IncomingTransfer).where(IncomingTransfer.package_id == package.package_id)
    )
    if existing is not None:
        if existing.package_sha256 != package.sha256:
            raise PackageRefused(
                "A different package with this package id was received before: this one is "
                "refused. Nothing was imported.",
                "replayed",
                409,
            )
        return Arrival(existing, False)
    if via == "endpoint":
        refuse_if_too_many_waiting(package.sender)
    imported.check_record(open_package(package, keys))
    incoming = IncomingTransfer(
        package_id=package.package_id,
        package_sha256=package.sha256,
        sender_name=package.sender.school_name,
        sender_urn=package.sender.urn,
        sender_fingerprint=package.sender.fingerprint,
        sender_endpoint=package.sender.endpoint,
        package_created_at=package.created_at[:40],
        received_at=utcnow(),
        received_via=via,
        stored_name=stored_files.store(data),
        status="received",
    )
    db.session.add(incoming)
    db.session.flush()
    audit(
        "transfer.received",
        object_type="incoming_transfer",
        object_id=incoming.id,
        actor=user,
        actor_label=None if user else "system",
        details={
            "package_id": package.package_id,
            "from": package.sender.school_name,
            "fingerprint": package.sender.fingerprint,
            "via": via,
        },
    )
    return Arrival(incoming, True)


def receipt_for(incoming: IncomingTransfer) -> dict:
    """This school's signed receipt: "received", or "confirmed" once a DSL imported it."""
    body = {
        "package_id": incoming.package_id,
        "status": "confirmed" if incoming.status == "imported" else "received",
        "received_at": incoming.received_at.isoformat(),
        "confirmed_at": incoming.imported_at.isoformat() if incoming.imported_at else None,
        "receiver": {
            k: v for k, v in own_school_key().as_json().items() if k not in ("format", "version")
        },
    }
    return sign_receipt(body, transfer_keys())


def incoming(user: User, incoming_id) -> IncomingTransfer:
    require_transferrer(user)
    row = row_by_id(IncomingTransfer, incoming_id)
    if row is None:
        abort(404)
    return row


def incoming_transfers(user: User) -> list[IncomingTransfer]:
    require_transferrer(user)
    return list(
        db.session.scalars(select(IncomingTransfer).order_by(IncomingTransfer.received_at.desc()))
    )


def opened_record(row: IncomingTransfer) -> dict:
    keys = transfer_keys()
    if not stored_files.readable(row.stored_name):
        # Its pupil's records were disposed of (server.retention): the key is destroyed.
        raise TransferRefused("This package was disposed of with the pupil's records.", 410)
    package = verify_package(stored_files.load(row.stored_name), keys.fingerprint)
    return open_package(package, keys)


@dataclass(frozen=True)
class IncomingView:
    row: IncomingTransfer
    record: dict
    trusted: bool
    same_school_other_key: bool
    match: Pupil | None


def view_incoming(user: User, incoming_id) -> IncomingView:
    """What a DSL sees before importing: the pupil, counts, the sender's fingerprint (audited)."""
    row = incoming(user, incoming_id)
    record = opened_record(row)
    upn = normalise_upn(record["pupil"].get("upn"))
    match = db.session.scalar(select(Pupil).where(Pupil.upn == upn)) if upn else None
    other_key = db.session.scalar(
        select(TrustedSchool.id).where(
            TrustedSchool.fingerprint != row.sender_fingerprint,
            (TrustedSchool.school_name == row.sender_name)
            | ((TrustedSchool.urn == row.sender_urn) & (TrustedSchool.urn != "")),
        )
    )
    audit(
        "transfer.incoming_viewed",
        object_type="incoming_transfer",
        object_id=row.id,
        actor=user,
        details={"package_id": row.package_id},
    )
    return IncomingView(
        row, record, is_trusted(row.sender_fingerprint), other_key is not None, match
    )


def import_package(
    user: User,
    incoming_id,
    *,
    pupil_choice: str,
    fingerprint_checked: bool,
) -> IncomingTransfer:
    """Import the records for a pupil ("upn": the pupil with the package's UPN, "new": a new
    pupil from the package, or a pupil's id) and sign the "confirmed" receipt. Importing an
    imported package again changes nothing."""
    row = incoming(user, incoming_id)
    if row.status == "imported":
        return row
    if not is_trusted(row.sender_fingerprint):
        if not fingerprint_checked:
            raise TransferRefused(
                f"Check the fingerprint {row.sender_fingerprint} with {row.sender_name}'s DSL "
                "(by phone) and tick the box to say you have, before importing."
            )
        record = opened_record(row)
        sender = _sender_key(row)
        trust(user, sender)
    else:
        record = opened_record(row)
    pupil = _choose_pupil(record["pupil"], pupil_choice)
    counts = imported.store_records(row, pupil, record)
    row.status, row.pupil_id = "imported", pupil.id
    row.imported_at, row.imported_by_id = utcnow(), user.id
    row.receipt = canonical(receipt_for(row)).decode()
    audit(
        "transfer.imported",
        object_type="pupil",
        object_id=pupil.id,
        actor=user,
        details={"package_id": row.package_id, "from": row.sender_name, **counts},
    )
    return row


def _sender_key(row: IncomingTransfer) -> PublicSchoolKey:
    keys = transfer_keys()
    package = verify_package(stored_files.load(row.stored_name), keys.fingerprint)
    return package.sender


def _choose_pupil(details: dict, choice: str) -> Pupil:
    choice = (choice or "").strip()
    upn = normalise_upn(details.get("upn"))
    if choice == "upn":
        pupil = db.session.scalar(select(Pupil).where(Pupil.upn == upn)) if upn else None
        if pupil is None:
            raise TransferRefused("No pupil here has the package's UPN: choose or create one.")
        return pupil
    if choice == "new":
        if upn_problem(upn):
            raise TransferRefused(
                f"The package's UPN cannot be used for a new pupil ({upn_problem(upn)}): "
                "choose an existing pupil."
            )
        if db.session.scalar(select(Pupil.id).where(Pupil.upn == upn)) is not None:
            raise TransferRefused("A pupil here already has this UPN: import to that pupil.")
        pupil = Pupil(
            upn=upn,
            legal_first_name=details["legal_first_name"][:80],
            legal_last_name=details["legal_last_name"][:80],
            preferred_first_name=(details.get("preferred_first_name") or None),
            preferred_last_name=(details.get("preferred_last_name") or None),
            date_of_birth=imported.parse_date(details["date_of_birth"]),
            year_group=details.get("year_group") or "N",
            on_roll=True,
        )
        db.session.add(pupil)
        db.session.flush()
        return pupil
    found = parse_id(choice)
    pupil = db.session.get(Pupil, found) if found is not None else None
    if pupil is None:
        raise TransferRefused("Choose which pupil these records are about.")
    return pupil


class ReceiptNotDelivered(Exception):
    """Raised by the receipt job so that rq tries again later (the reason is on the row)."""


@job
def deliver_receipt(incoming_id: int) -> None:
    """Post the confirmed receipt to the sender's Haven, when it gave an address: a background
    job (`enqueue_receipt`), retried with back-off under rq. Each failure is kept on the row,
    where the DSL sees "not yet delivered" and can download the receipt to send by hand."""
    row = db.session.get(IncomingTransfer, incoming_id)
    if row is None or row.receipt is None or not row.sender_endpoint or row.receipt_sent_at:
        return
    try:
        response = http_session().post(
            row.sender_endpoint,
            data=row.receipt.encode(),
            headers={"Content-Type": PACKAGE_MEDIA_TYPE, "Accept": "application/json"},
            timeout=current_app.config["TRANSFER_SEND_TIMEOUT"],
            allow_redirects=False,
        )
        ok = response.status_code in (200, 201)
        row.receipt_error = "" if ok else _their_reason(response, "receipt", "sending")
    except requests.RequestException as error:
        ok, row.receipt_error = False, f"Could not reach the sending Haven: {type(error).__name__}."
    if ok:
        row.receipt_sent_at = utcnow()
    db.session.commit()
    if not ok:
        raise ReceiptNotDelivered(row.receipt_error)


def enqueue_receipt(row: IncomingTransfer) -> None:
    """After the import has committed: the receipt goes by a job, not inside the request."""
    if row.receipt is not None and row.sender_endpoint and row.receipt_sent_at is None:
        enqueue(deliver_receipt, row.id)


# --- The inbox: what other Havens post ---------------------------------------------------------

INBOX_UNAVAILABLE = "This Haven's transfer inbox is unavailable just now. Try again later."


def admit_to_inbox(address: str, declared_bytes: int | None, limit: int) -> None:
    """Before a byte of the body is read: the per-address throttle (shared with sign-in's, in
    the database, failing closed), then the size the request declares. An admitted post counts
    against its address, whatever becomes of it."""
    config = current_app.config
    try:
        decision = throttling.check_address(
            throttling.TRANSFER_INBOX, address, config["TRANSFER_INBOX_POSTS"],
            config["TRANSFER_INBOX_WINDOW"],
        )  # fmt: skip
        if decision.allowed:
            throttling.record_attempt("", address, succeeded=True, kind=throttling.TRANSFER_INBOX)
    except SQLAlchemyError:
        db.session.rollback()
        log.exception("transfer inbox throttle unavailable")
        raise PackageRefused(INBOX_UNAVAILABLE, "unavailable", 503) from None
    if not decision.allowed:
        minutes = decision.retry_after_minutes
        raise PackageRefused(
            f"Too many posts from this address: try again in {minutes} "
            f"minute{'s' if minutes > 1 else ''}.",
            "throttled",
            429,
        )
    if declared_bytes is not None and declared_bytes > limit:
        raise too_large(limit)


def too_large(limit: int) -> PackageRefused:
    return PackageRefused(
        f"This is larger than this Haven accepts ({_size(limit)}). Send the "
        "package by hand, or ask the receiving school to raise HAVEN_TRANSFER_MAX_BYTES.",
        "too_large",
        413,
    )


def _size(limit: int) -> str:
    megabytes = limit / (1024 * 1024)
    return f"{megabytes:.0f} MB" if megabytes >= 1 else f"{limit:,} bytes"


def waiting_untrusted(fingerprint: str | None = None) -> int:
    """Packages received from keys no DSL here has checked, not yet imported (from one key,
    or from all)."""
    query = select(func.count(IncomingTransfer.id)).where(
        IncomingTransfer.status == "received",
        IncomingTransfer.sender_fingerprint.not_in(select(TrustedSchool.fingerprint)),
    )
    if fingerprint is not None:
        query = query.where(IncomingTransfer.sender_fingerprint == fingerprint)
    return db.session.scalar(query) or 0


def refuse_if_too_many_waiting(sender: PublicSchoolKey) -> None:
    """Anyone can make a key and sign with it: packages from keys not yet checked are kept,
    but only so many (per key and in all), so the public inbox cannot fill the disk."""
    if is_trusted(sender.fingerprint):
        return
    config = current_app.config
    per_sender = config["TRANSFER_UNTRUSTED_PER_SENDER"]
    if waiting_untrusted(sender.fingerprint) >= per_sender:
        raise PackageRefused(
            f"This Haven already holds {per_sender} package{'s' if per_sender != 1 else ''} "
            "from your school's key waiting for its DSL to check the key's fingerprint. Ask "
            "their DSL to check it with you by phone and import them; then send again.",
            "too_many_waiting",
            429,
        )
    total = config["TRANSFER_UNTRUSTED_TOTAL"]
    if waiting_untrusted() >= total:
        raise PackageRefused(
            f"This Haven already holds {total} packages from schools whose keys its DSL has "
            "not yet checked, as many as it keeps. Ask their DSL to check your key's "
            "fingerprint by phone, or send the package by hand.",
            "too_many_waiting",
            429,
        )


def audit_inbox_refusal(reason: str, status: int, declared_bytes: int | None) -> None:
    """A refused post is audited (the address is on the event) with the reason, never with
    anything it carried. Committed by the caller after the refused work was rolled back."""
    audit(
        "transfer.inbox_refused",
        object_type="transfer_inbox",
        actor_label="(transfer inbox)",
        details={"reason": reason, "status": status, "declared_bytes": declared_bytes},
    )


def inbox(data: bytes) -> tuple[dict, int]:
    """A package (answered with a signed "received" receipt) or a receipt (recorded)."""
    document_format = _format_of(data)
    if document_format == PACKAGE_FORMAT:
        arrival = receive_package(data, via="endpoint")
        return receipt_for(arrival.incoming), 201 if arrival.created else 200
    if document_format == RECEIPT_FORMAT:
        transfer = record_receipt(data, via="endpoint")
        return {"status": transfer.status, "package_id": transfer.package_id}, 200
    raise PackageRefused("This is neither a Haven transfer package nor a receipt.")


def _format_of(data: bytes) -> str:
    document = parse_json(data, "package")
    return document.get("format") if isinstance(document.get("format"), str) else ""


def can_read_imported(user: User, session_row: UserSession | None, *, review=None) -> bool:
    """Imported records are a safeguarding file: those who review everything, Safeguarding
    included (dsl, slt, pastoral), with review unlocked."""
    unlocked = review_unlocked(session_row) if review is None else review
    return bool(
        unlocked
        and user.active
        and user.can(Permission.REVIEW_ALL)
        and user.can(Permission.SEE_SENSITIVE)
    )
