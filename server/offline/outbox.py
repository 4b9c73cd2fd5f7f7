"""Receiving what a device's outbox sends: a sealed, signed incident (SPEC §5).

The envelope is authenticated by the device's signature, not by a session cookie or a CSRF
token, so an incident written offline still arrives after the session has ended. It is
checked in this order, each step refusing with a code the device acts on: the envelope's shape,
the device (enrolled, not revoked, its user still active), the signature, the seal. Then the
incident is recorded by `submit_incident`, exactly as an online one, keyed by its UUID: any
number of replays record it once.

What is signed (UTF-8, lines joined by "\\n"): "haven-outbox-v1", the device id, the UUID, the
moment it was sealed (ISO 8601), the sealing key id, the wrapped key, the IV and the SHA-256 of
the sealed bytes (each binary value base64url). The signature is ECDSA P-256 with SHA-256, raw
r||s as WebCrypto makes it.
"""

import hashlib
import hmac
import json
import uuid as uuid_module
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from server.auth.roles import Permission
from server.clock import utcnow
from server.incidents.files import Upload
from server.incidents.submission import Receipt, submit_incident
from server.offline.devices import b64url_decode, b64url_encode, find_device
from server.offline.errors import OfflineRefused
from server.offline.models import Device
from server.offline.sealing import associated_data, open_sealed, sealing_key

ENVELOPE_VERSION = 1
SIGNATURE_LABEL = "haven-outbox-v1"
MAX_ENVELOPE_CHARS = 4096
# A device's clock may run ahead a little; an envelope from further ahead was not made by it.
CLOCK_TOLERANCE = timedelta(minutes=5)


@dataclass(frozen=True)
class Envelope:
    device_id: int
    uuid: str
    signed_at: str
    key_id: str
    wrapped_key: bytes
    iv: bytes
    sealed_sha256: bytes
    signature: bytes

    def signed_message(self) -> bytes:
        return "\n".join(
            [
                SIGNATURE_LABEL,
                str(self.device_id),
                self.uuid,
                self.signed_at,
                self.key_id,
                b64url_encode(self.wrapped_key),
                b64url_encode(self.iv),
                b64url_encode(self.sealed_sha256),
            ]
        ).encode()


def receive(envelope_text: Any, sealed: bytes) -> Receipt:
    """Record the incident in a sealed envelope, or raise OfflineRefused / IncidentRefused
    having written nothing."""
    envelope = parse_envelope(envelope_text)
    device = _sending_device(envelope)
    verify_signature(device, envelope, sealed)
    payload, uploads = open_envelope(envelope, sealed)
    receipt = submit_incident(device.user, payload, uploads, via_device=device)
    device.last_used_at = utcnow()
    return receipt


def open_for_owner(user, envelope_text: Any, sealed: bytes) -> dict:
    """The incident in an envelope, for its author on a device still theirs: what "Copy the
    account" shows when the server refused the entry for its content."""
    envelope = parse_envelope(envelope_text)
    device = _sending_device(envelope)
    if device.user_id != user.id:
        raise OfflineRefused("This incident was written by someone else.", "forbidden", 403)
    verify_signature(device, envelope, sealed)
    payload, _uploads = open_envelope(envelope, sealed)
    return payload


def parse_envelope(text: Any) -> Envelope:
    malformed = OfflineRefused("The outbox entry could not be read.", "malformed", 400)
    if not isinstance(text, str) or len(text) > MAX_ENVELOPE_CHARS:
        raise malformed
    try:
        data = json.loads(text)
    except ValueError:
        raise malformed from None
    if not isinstance(data, dict) or data.get("v") != ENVELOPE_VERSION:
        raise malformed
    try:
        envelope = Envelope(
            device_id=_positive_int(data.get("device_id")),
            uuid=str(uuid_module.UUID(_text(data.get("uuid"), 36))),
            signed_at=_text(data.get("signed_at"), 40),
            key_id=_text(data.get("key_id"), 64),
            wrapped_key=b64url_decode(_text(data.get("wrapped_key"), 1024)),
            iv=b64url_decode(_text(data.get("iv"), 32)),
            sealed_sha256=b64url_decode(_text(data.get("sealed_sha256"), 64)),
            signature=b64url_decode(_text(data.get("signature"), 128)),
        )
    except (ValueError, TypeError, AttributeError):
        raise malformed from None
    if len(envelope.iv) != 12 or len(envelope.sealed_sha256) != 32 or len(envelope.signature) != 64:
        raise malformed
    return envelope


def _positive_int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 2**31:
        raise ValueError("not an id")
    return value


def _text(value: Any, limit: int) -> str:
    if not isinstance(value, str) or not 0 < len(value) <= limit:
        raise ValueError("not a short text")
    return value


def _sending_device(envelope: Envelope) -> Device:
    device = find_device(envelope.device_id)
    if device is None:
        raise OfflineRefused(
            "This device is not known to Haven, so the incident cannot be sent from it.",
            "device_unknown",
            403,
        )
    if not device.active:
        raise OfflineRefused(
            "This device has been removed from Haven (for example, reported lost), so incidents "
            "waiting on it cannot be sent.",
            "device_revoked",
            403,
        )
    if not device.user.active or not device.user.can(Permission.RECORD_INCIDENTS):
        raise OfflineRefused(
            "The account this incident was written under can no longer record incidents.",
            "author_disabled",
            403,
        )
    return device


def verify_signature(device: Device, envelope: Envelope, sealed: bytes) -> None:
    refused = OfflineRefused(
        "The device's signature on this incident is not valid, so it was not accepted.",
        "bad_signature",
        403,
    )
    if not hmac.compare_digest(hashlib.sha256(sealed).digest(), envelope.sealed_sha256):
        raise refused
    key = serialization.load_der_public_key(device.public_key)
    r = int.from_bytes(envelope.signature[:32], "big")
    s = int.from_bytes(envelope.signature[32:], "big")
    try:
        key.verify(encode_dss_signature(r, s), envelope.signed_message(), ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        raise refused from None
    _check_moment(envelope.signed_at)


def _check_moment(signed_at: str) -> None:
    try:
        moment = datetime.fromisoformat(signed_at.replace("Z", "+00:00"))
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None or moment > utcnow() + CLOCK_TOLERANCE:
        raise OfflineRefused(
            "This device's clock is wrong, so the incident was not accepted. Set the date and "
            "time on the device, then send it again.",
            "clock",
            422,
            retry=True,
        )


def open_envelope(envelope: Envelope, sealed: bytes) -> tuple[dict, list[Upload]]:
    key = sealing_key()
    if envelope.key_id != key.key_id:
        raise OfflineRefused(
            "This incident was sealed to a key this Haven no longer has.", "unknown_key"
        )
    payload, uploads = open_sealed(
        key,
        envelope.wrapped_key,
        envelope.iv,
        sealed,
        associated_data(envelope.uuid, envelope.device_id),
    )
    try:
        matches = str(uuid_module.UUID(str(payload.get("uuid")))) == envelope.uuid
    except ValueError:
        matches = False
    if not matches:
        raise OfflineRefused("The outbox entry does not match its content.", "mismatch")
    return payload, uploads
