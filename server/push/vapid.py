"""VAPID: the key pair that identifies this Haven to the push services (RFC 8292).

Production sets HAVEN_VAPID_PUBLIC_KEY and HAVEN_VAPID_PRIVATE_KEY (from `flask push keys`);
the embedded default makes a pair once and keeps it in `instance/vapid.json`, as it does the
secret key. Keys are base64url: the private key as its raw 32 bytes, the public key as the
uncompressed point browsers take as `applicationServerKey`.
"""

import base64
import json
import time
from email.utils import parseaddr
from functools import cache
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from flask import Flask, current_app
from py_vapid import Vapid02

KEY_FILE = "vapid.json"
# Apple refuses a token that lives more than a day; keep well inside it.
CLAIMS_LIFETIME_SECONDS = 12 * 60 * 60


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def generate_keys() -> dict[str, str]:
    private = ec.generate_private_key(ec.SECP256R1())
    public = private.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    raw_private = private.private_numbers().private_value.to_bytes(32, "big")
    return {"public_key": _b64url(public), "private_key": _b64url(raw_private)}


def ensure_keys(app: Flask) -> None:
    """Configured keys win; otherwise the instance's own pair, made on first use."""
    if app.config["VAPID_PUBLIC_KEY"] and app.config["VAPID_PRIVATE_KEY"]:
        return
    if app.testing:
        # Each test run its own pair, kept in memory: nothing written beside the project.
        keys = generate_keys()
        app.config.update(
            VAPID_PUBLIC_KEY=keys["public_key"], VAPID_PRIVATE_KEY=keys["private_key"]
        )
        return
    key_file = Path(app.instance_path) / KEY_FILE
    if not key_file.exists():
        key_file.parent.mkdir(parents=True, exist_ok=True)
        key_file.write_text(json.dumps(generate_keys()))
        key_file.chmod(0o600)
    keys = json.loads(key_file.read_text())
    app.config["VAPID_PUBLIC_KEY"] = keys["public_key"]
    app.config["VAPID_PRIVATE_KEY"] = keys["private_key"]


def public_key() -> str:
    return current_app.config["VAPID_PUBLIC_KEY"]


@cache
def _signer(private_key: str) -> Vapid02:
    return Vapid02.from_raw(private_key.encode())


def signer() -> Vapid02:
    return _signer(current_app.config["VAPID_PRIVATE_KEY"])


def subject() -> str:
    """The contact push services see: configured, else the address mail is sent from."""
    configured = current_app.config["VAPID_SUBJECT"]
    if configured:
        return configured
    address = parseaddr(current_app.config["MAIL_FROM"])[1] or "haven@localhost"
    return f"mailto:{address}"


def fresh_claims() -> dict:
    """A new claims dict for each send: pywebpush writes the audience into the one it is given."""
    return {"sub": subject(), "exp": int(time.time()) + CLAIMS_LIFETIME_SECONDS}
