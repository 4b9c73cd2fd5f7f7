"""This school's transfer key pair, and the "school key" other schools are given (SPEC §8).

Two keys: Ed25519 signs what this Haven sends (packages and receipts), X25519 receives what
other schools encrypt to it. Both live outside the database (`HAVEN_TRANSFER_KEY_FILE`, by
default `instance/transfer_key.json`), made by `flask transfer keys` or on first use.

The public halves, with the school's name and URN, are the school key: a small JSON file one
DSL gives another. Its fingerprint (SHA-256 over both public keys, 160 bits in base32, in
eight groups of four) is short enough to read over the phone, which is how a receiving DSL
checks that a key really is the other school's before trusting it.
"""

import base64
import hashlib
import json
import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from flask import current_app, url_for

from server.errors import Refused

SCHOOL_KEY_FORMAT = "haven-school-key"
SCHOOL_KEY_VERSION = 1
_RAW = {"encoding": serialization.Encoding.Raw, "format": serialization.PublicFormat.Raw}


class KeyRefused(Refused):
    """A school key file that cannot be used, with the reason."""


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def unb64(text, what: str, refusal: type[Refused] = KeyRefused) -> bytes:
    if not isinstance(text, str):
        raise refusal(f"The {what} is missing.")
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (ValueError, UnicodeEncodeError):
        raise refusal(f"The {what} is not valid base64.") from None


def fingerprint(signing_public: bytes, encryption_public: bytes) -> str:
    digest = hashlib.sha256(b"haven-transfer-key-v1\n" + signing_public + encryption_public)
    text = base64.b32encode(digest.digest()[:20]).decode("ascii")
    return "-".join(text[i : i + 4] for i in range(0, len(text), 4))


@dataclass(frozen=True)
class PublicSchoolKey:
    """Another school's (or this school's) public transfer key."""

    school_name: str
    urn: str
    signing_public: bytes
    encryption_public: bytes
    endpoint: str = ""

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.signing_public, self.encryption_public)

    def verifier(self) -> Ed25519PublicKey:
        return Ed25519PublicKey.from_public_bytes(self.signing_public)

    def encryption_key(self) -> X25519PublicKey:
        return X25519PublicKey.from_public_bytes(self.encryption_public)

    def as_json(self) -> dict:
        return {
            "format": SCHOOL_KEY_FORMAT,
            "version": SCHOOL_KEY_VERSION,
            "school_name": self.school_name,
            "urn": self.urn or None,
            "signing_key": b64(self.signing_public),
            "encryption_key": b64(self.encryption_public),
            "fingerprint": self.fingerprint,
            "endpoint": self.endpoint or None,
        }


@dataclass(frozen=True)
class TransferKeys:
    signing: Ed25519PrivateKey
    encryption: X25519PrivateKey

    @property
    def signing_public(self) -> bytes:
        return self.signing.public_key().public_bytes(**_RAW)

    @property
    def encryption_public(self) -> bytes:
        return self.encryption.public_key().public_bytes(**_RAW)

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.signing_public, self.encryption_public)


def transfer_keys() -> TransferKeys:
    return _load(str(key_path()))


def key_path() -> Path:
    configured = current_app.config["TRANSFER_KEY_FILE"]
    return Path(configured) if configured else Path(current_app.instance_path) / "transfer_key.json"


def keys_exist() -> bool:
    return key_path().exists()


@cache
def _load(path: str) -> TransferKeys:
    stored = json.loads(read_or_create(Path(path)))
    return TransferKeys(
        signing=Ed25519PrivateKey.from_private_bytes(base64.b64decode(stored["signing"])),
        encryption=X25519PrivateKey.from_private_bytes(base64.b64decode(stored["encryption"])),
    )


def read_or_create(path: Path) -> bytes:
    """Several processes may start at once: the first to create the file wins."""
    if path.exists():
        return path.read_bytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    content = json.dumps(
        {
            "signing": b64(Ed25519PrivateKey.generate().private_bytes_raw()),
            "encryption": b64(X25519PrivateKey.generate().private_bytes_raw()),
        }
    ).encode()
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_bytes()
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(content)
    return content


def inbox_url() -> str:
    """Where other Havens post packages and receipts: from configuration, never the request."""
    base = current_app.config["SERVER_BASE_URL"].rstrip("/")
    path = current_app.url_map.bind("haven.invalid").build("transfer.inbox")
    return base + path


def own_school_key() -> PublicSchoolKey:
    keys = transfer_keys()
    return PublicSchoolKey(
        school_name=current_app.config["SCHOOL_NAME"] or "Haven school",
        urn=current_app.config["SCHOOL_URN"],
        signing_public=keys.signing_public,
        encryption_public=keys.encryption_public,
        endpoint=inbox_url(),
    )


def parse_school_key(data: bytes) -> PublicSchoolKey:
    """A school key file as another school's DSL gave it, or KeyRefused with the reason."""
    try:
        document = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise KeyRefused("This is not a school key file (it is not JSON).") from None
    if not isinstance(document, dict) or document.get("format") != SCHOOL_KEY_FORMAT:
        raise KeyRefused("This is not a Haven school key file.")
    if document.get("version") != SCHOOL_KEY_VERSION:
        raise KeyRefused("This school key file is of a version Haven does not know.")
    return school_key_from_json(document)


def school_key_from_json(document: dict, refusal: type[Refused] = KeyRefused) -> PublicSchoolKey:
    name = document.get("school_name")
    if not isinstance(name, str) or not name.strip() or len(name) > 200:
        raise refusal("The school key does not name its school.")
    urn = document.get("urn") or ""
    endpoint = document.get("endpoint") or ""
    if not isinstance(urn, str) or len(urn) > 20 or not isinstance(endpoint, str):
        raise refusal("The school key's URN or address is not valid.")
    if endpoint and (not endpoint.startswith(("https://", "http://")) or len(endpoint) > 500):
        raise refusal("The school key's address is not a web address.")
    signing = unb64(document.get("signing_key"), "signing key", refusal)
    encryption = unb64(document.get("encryption_key"), "encryption key", refusal)
    if len(signing) != 32 or len(encryption) != 32:
        raise refusal("The school key's keys are not the right length.")
    key = PublicSchoolKey(name.strip(), urn.strip(), signing, encryption, endpoint)
    stated = document.get("fingerprint")
    if stated is not None and stated != key.fingerprint:
        raise refusal("The school key's fingerprint does not match its keys: it was changed.")
    return key


def own_key_url() -> str:
    return url_for("transfer.school_key_file")
