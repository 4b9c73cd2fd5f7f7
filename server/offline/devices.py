"""Enrolling, listing and revoking devices, and the secret that unlocks a device's drafts.

A device keeps its drafts under a data key that is stored only wrapped. One wrapping uses a
secret that this server hands to the signed-in user of that device (`device_secret`): it is
derived, never stored, so neither the database nor the device alone can open a draft.
"""

import base64
import hashlib
import hmac

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from flask import current_app
from sqlalchemy import func, select

from server.audit.operations import record
from server.auth.models import User
from server.auth.roles import Permission
from server.clock import utcnow
from server.extensions import db
from server.offline.errors import OfflineRefused
from server.offline.models import Device
from server.push.subscriptions import remove_device_subscriptions

MAX_ACTIVE_DEVICES = 20
MAX_NAME_CHARS = 60


def enrol_device(user: User, name: object, public_key: object) -> Device:
    """Register the public half of a key pair the device made and keeps non-extractable."""
    if not user.can(Permission.RECORD_INCIDENTS):
        raise OfflineRefused("Only staff who record incidents enrol devices.", "forbidden", 403)
    clean_name = _device_name(name)
    key = _public_key(public_key)
    if _active_count(user) >= MAX_ACTIVE_DEVICES:
        raise OfflineRefused(
            f"You already have {MAX_ACTIVE_DEVICES} devices set up. Remove one you no longer use "
            "under “Your devices”, then try again.",
            "too_many_devices",
        )
    device = Device(user=user, name=clean_name, public_key=key, created_at=utcnow())
    db.session.add(device)
    db.session.flush()
    record(
        "device.enrolled",
        object_type="device",
        object_id=device.id,
        actor=user,
        details={"user_id": user.id, "name": clean_name},
    )
    return device


def _device_name(name: object) -> str:
    if not isinstance(name, str) or not name.strip():
        raise OfflineRefused("Give this device a name, such as “Year 4 iPad”.", "invalid_name")
    clean = " ".join(name.split())
    if len(clean) > MAX_NAME_CHARS or not clean.isprintable():
        raise OfflineRefused(
            f"The device name must be {MAX_NAME_CHARS} characters or fewer.", "invalid_name"
        )
    return clean


def _public_key(value: object) -> bytes:
    """DER SubjectPublicKeyInfo of a P-256 key, sent base64url; anything else is refused."""
    refusal = OfflineRefused("The device's key could not be read.", "invalid_key")
    if not isinstance(value, str) or len(value) > 400:
        raise refusal
    try:
        der = b64url_decode(value)
        key = serialization.load_der_public_key(der)
    except ValueError:
        raise refusal from None
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp256r1":
        raise refusal
    return der


def _active_count(user: User) -> int:
    return db.session.scalar(
        select(func.count(Device.id)).where(Device.user_id == user.id, Device.revoked_at.is_(None))
    )


def devices_of(user: User) -> list[Device]:
    return list(
        db.session.scalars(
            select(Device).where(Device.user_id == user.id).order_by(Device.created_at.desc())
        )
    )


def find_device(device_id: int | None) -> Device | None:
    return db.session.get(Device, device_id) if device_id is not None else None


def own_active_device(user: User, device_id: int) -> Device:
    """The user's own device, still enrolled; anything else is answered as not found."""
    device = find_device(device_id)
    if device is None or device.user_id != user.id:
        raise OfflineRefused("There is no such device.", "device_unknown", 404)
    if not device.active:
        raise OfflineRefused(
            "This device has been removed from your account. Sign in again to set it up anew.",
            "device_revoked",
            403,
        )
    return device


def may_revoke(actor: User, device: Device) -> bool:
    """The owner, or those who manage accounts (the office and the DSL) — for a lost iPad."""
    return device.user_id == actor.id or actor.can(Permission.MANAGE_USERS)


def revoke_device(actor: User | None, device: Device) -> None:
    """Stop the device for good. `actor` None is the server's operator (`flask devices`)."""
    if actor is not None and not may_revoke(actor, device):
        raise OfflineRefused("You cannot remove this device.", "forbidden", 403)
    if not device.active:
        return
    device.revoked_at = utcnow()
    device.revoked_by_id = actor.id if actor is not None else None
    remove_device_subscriptions(device.id)  # a lost iPad stops receiving notifications too
    record(
        "device.revoked",
        object_type="device",
        object_id=device.id,
        actor=actor,
        details={"user_id": device.user_id, "name": device.name},
    )


def device_secret(device: Device) -> str:
    """The per-user-per-device secret a signed-in device wraps its data key under (base64url)."""
    material = current_app.config["DEVICE_KEY"] or current_app.config["SECRET_KEY"]
    message = f"haven-device-secret-v1:{device.id}:{device.user_id}:{device.public_key.hex()}"
    digest = hmac.new(material.encode(), message.encode(), hashlib.sha256).digest()
    return b64url_encode(digest)


def b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    """Strict: only the base64url alphabet, no padding games."""
    if not text or any(c not in _B64URL for c in text):
        raise ValueError("not base64url")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (ValueError, TypeError) as error:
        raise ValueError("not base64url") from error


_B64URL = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
