"""The transfer package and the receipt: their envelope, encryption and signatures.

See docs/transfer-format.md (and docs/transfer-package.schema.json) for the format itself. In
short, a package is one JSON document:

    {"format": "haven-transfer-package", "version": 1, "header": {...},
     "ciphertext": base64, "signature": base64}

The record (JSON, with every file's bytes and a PDF of the chronology) is encrypted with a
fresh AES-256-GCM content key, the header as associated data. The content key is wrapped with
AES-256-GCM under a key derived (HKDF-SHA256) from an X25519 agreement between a fresh
ephemeral key and the receiver's encryption key, so only the receiver can open it. The sender
signs, with Ed25519, `signed_bytes(header, ciphertext)`: a change to either breaks the
signature, and the header names the receiver, so a package cannot be re-addressed.
"""

import hashlib
import json
import secrets
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from server.errors import Refused
from server.transfer.keys import PublicSchoolKey, TransferKeys, b64, school_key_from_json, unb64

PACKAGE_FORMAT = "haven-transfer-package"
RECEIPT_FORMAT = "haven-transfer-receipt"
VERSION = 1
ALGORITHM = "X25519-HKDF-SHA256+A256GCM/Ed25519"
_RAW = {"encoding": serialization.Encoding.Raw, "format": serialization.PublicFormat.Raw}


class PackageRefused(Refused):
    """A package or receipt that is not accepted, with the reason; nothing was imported."""

    def __init__(self, message: str, reason: str = "invalid", status: int = 422):
        super().__init__(message, status)
        self.reason = reason


def canonical(value) -> bytes:
    """The one byte form of a JSON value that is signed: sorted keys, no spaces, UTF-8."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def signed_bytes(kind: str, header: dict, ciphertext: bytes = b"") -> bytes:
    return b"".join(
        (
            f"{kind}/v{VERSION}\n".encode(),
            canonical(header),
            b"\n",
            hashlib.sha256(ciphertext).digest(),
        )
    )


def _key_encryption_key(shared: bytes, package_id: str) -> bytes:
    return HKDF(
        algorithm=hashes.SHA256(),
        length=32,
        salt=package_id.encode(),
        info=b"haven-transfer-v1 key wrap",
    ).derive(shared)


def sender_json(key: PublicSchoolKey) -> dict:
    return {k: v for k, v in key.as_json().items() if k not in ("format", "version")}


# --- Sealing a package -----------------------------------------------------------------------


def seal(
    record: dict, keys: TransferKeys, sender: PublicSchoolKey, receiver: PublicSchoolKey,
    *, package_id: str, created_at: str,
) -> dict:  # fmt: skip
    content_key = AESGCM.generate_key(bit_length=256)
    ephemeral = X25519PrivateKey.generate()
    kek = _key_encryption_key(ephemeral.exchange(receiver.encryption_key()), package_id)
    wrap_nonce, nonce = secrets.token_bytes(12), secrets.token_bytes(12)
    header = {
        "package_id": package_id,
        "created_at": created_at,
        "sender": sender_json(sender),
        "recipient": {"school_name": receiver.school_name, "fingerprint": receiver.fingerprint},
        "encryption": {
            "algorithm": ALGORITHM,
            "ephemeral_public_key": b64(ephemeral.public_key().public_bytes(**_RAW)),
            "wrap_nonce": b64(wrap_nonce),
            "wrapped_key": b64(AESGCM(kek).encrypt(wrap_nonce, content_key, package_id.encode())),
            "nonce": b64(nonce),
        },
    }
    ciphertext = AESGCM(content_key).encrypt(nonce, canonical(record), canonical(header))
    signature = keys.signing.sign(signed_bytes(PACKAGE_FORMAT, header, ciphertext))
    return {
        "format": PACKAGE_FORMAT,
        "version": VERSION,
        "header": header,
        "ciphertext": b64(ciphertext),
        "signature": b64(signature),
    }


# --- Opening a package -------------------------------------------------------------------------


@dataclass(frozen=True)
class VerifiedPackage:
    package_id: str
    created_at: str
    sender: PublicSchoolKey
    header: dict
    ciphertext: bytes
    sha256: str


def parse_json(data: bytes, what: str) -> dict:
    try:
        document = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise PackageRefused(f"This is not a Haven transfer {what}: it is not JSON.") from None
    if not isinstance(document, dict):
        raise PackageRefused(f"This is not a Haven transfer {what}.")
    return document


def verify_package(data: bytes, own_fingerprint: str) -> VerifiedPackage:
    """Check the envelope, that it is addressed to this school and that its sender's signature
    holds; nothing is decrypted yet. PackageRefused (with a reason) otherwise."""
    document = parse_json(data, "package")
    if document.get("format") != PACKAGE_FORMAT:
        raise PackageRefused("This is not a Haven transfer package.")
    if document.get("version") != VERSION:
        raise PackageRefused("This package is of a version this Haven does not know.", "version")
    header = document.get("header")
    if not isinstance(header, dict) or not isinstance(header.get("sender"), dict):
        raise PackageRefused("The package has no header naming its sender.")
    recipient = header.get("recipient")
    if not isinstance(recipient, dict) or recipient.get("fingerprint") != own_fingerprint:
        raise PackageRefused(
            "This package is addressed to another school (its recipient key is not this "
            "school's). Nothing was imported: ask the sender to send it to this school's key.",
            "wrong_recipient",
        )
    package_id = header.get("package_id")
    if not isinstance(package_id, str) or not 8 <= len(package_id) <= 64:
        raise PackageRefused("The package has no valid package id.")
    sender = school_key_from_json(header["sender"], PackageRefused)
    ciphertext = unb64(document.get("ciphertext"), "package content", PackageRefused)
    signature = unb64(document.get("signature"), "signature", PackageRefused)
    try:
        sender.verifier().verify(signature, signed_bytes(PACKAGE_FORMAT, header, ciphertext))
    except InvalidSignature:
        raise PackageRefused(
            "The package's signature does not match its content: it was changed after it was "
            "signed, or not signed by the school it names. Nothing was imported.",
            "bad_signature",
        ) from None
    created_at = header.get("created_at")
    if not isinstance(created_at, str):
        raise PackageRefused("The package does not say when it was made.")
    return VerifiedPackage(
        package_id, created_at, sender, header, ciphertext, hashlib.sha256(data).hexdigest()
    )


def open_package(package: VerifiedPackage, keys: TransferKeys) -> dict:
    """The record inside a verified package, decrypted with this school's key."""
    cannot_open = PackageRefused(
        "The package could not be opened with this school's key. Nothing was imported.",
        "cannot_decrypt",
    )
    encryption = package.header.get("encryption")
    if not isinstance(encryption, dict) or encryption.get("algorithm") != ALGORITHM:
        raise cannot_open
    try:
        ephemeral = X25519PublicKey.from_public_bytes(
            unb64(encryption.get("ephemeral_public_key"), "key", PackageRefused)
        )
        kek = _key_encryption_key(keys.encryption.exchange(ephemeral), package.package_id)
        content_key = AESGCM(kek).decrypt(
            unb64(encryption.get("wrap_nonce"), "nonce", PackageRefused),
            unb64(encryption.get("wrapped_key"), "key", PackageRefused),
            package.package_id.encode(),
        )
        plain = AESGCM(content_key).decrypt(
            unb64(encryption.get("nonce"), "nonce", PackageRefused),
            package.ciphertext,
            canonical(package.header),
        )
    except (ValueError, InvalidTag):
        raise cannot_open from None
    return parse_json(plain, "record")


# --- Receipts ------------------------------------------------------------------------------


def sign_receipt(body: dict, keys: TransferKeys) -> dict:
    signature = keys.signing.sign(signed_bytes(RECEIPT_FORMAT, body))
    return {
        "format": RECEIPT_FORMAT,
        "version": VERSION,
        "receipt": body,
        "signature": b64(signature),
    }


@dataclass(frozen=True)
class VerifiedReceipt:
    package_id: str
    status: str
    received_at: str
    confirmed_at: str | None
    receiver_fingerprint: str
    body: dict


def verify_receipt(data: bytes, expected: PublicSchoolKey | None = None) -> VerifiedReceipt:
    """A receipt signed by the school it names (and, given `expected`, by that school)."""
    document = parse_json(data, "receipt")
    if document.get("format") != RECEIPT_FORMAT or document.get("version") != VERSION:
        raise PackageRefused("This is not a Haven transfer receipt.")
    body = document.get("receipt")
    if not isinstance(body, dict) or not isinstance(body.get("receiver"), dict):
        raise PackageRefused("The receipt does not name the school that sent it.")
    receiver = school_key_from_json(body["receiver"], PackageRefused)
    signature = unb64(document.get("signature"), "signature", PackageRefused)
    try:
        receiver.verifier().verify(signature, signed_bytes(RECEIPT_FORMAT, body))
    except InvalidSignature:
        raise PackageRefused(
            "The receipt's signature does not match: it was changed or not signed by the "
            "school it names.",
            "bad_signature",
        ) from None
    if expected is not None and receiver.fingerprint != expected.fingerprint:
        raise PackageRefused(
            "This receipt was signed by a different key from the school the package was sent to.",
            "wrong_receiver",
        )
    status = body.get("status")
    if status not in ("received", "confirmed") or not isinstance(body.get("package_id"), str):
        raise PackageRefused("The receipt does not say which package it is for, or its status.")
    received_at = body.get("received_at")
    confirmed_at = body.get("confirmed_at")
    if not isinstance(received_at, str) or (
        status == "confirmed" and not isinstance(confirmed_at, str)
    ):
        raise PackageRefused("The receipt does not say when the package arrived.")
    return VerifiedReceipt(
        body["package_id"], status, received_at, confirmed_at, receiver.fingerprint, body
    )
