"""The server's sealing key, and opening what a device sealed to it.

A device seals each submitted incident so that the device itself can no longer read it: a fresh
AES-256-GCM key encrypts the content, and that key is wrapped with RSA-OAEP-256 to this
server's public key. Only the server's private key opens it. The key pair lives outside the
database (`HAVEN_SEALING_KEY_FILE`, by default in `instance/`), generated on first use.

Sealed content (after AES-GCM decryption) is a small container: a 4-byte big-endian length,
that many bytes of UTF-8 JSON `{"incident": {...}, "files": [{"name", "type", "size"}]}`, then
the files' bytes one after another.
"""

import hashlib
import json
import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from flask import current_app

from server.incidents.files import MAX_FILE_BYTES, MAX_FILES, Upload
from server.offline.devices import b64url_encode
from server.offline.errors import OfflineRefused

RSA_BITS = 3072
MAX_HEADER_BYTES = 1024 * 1024


@dataclass(frozen=True)
class SealingKey:
    private_key: rsa.RSAPrivateKey
    public_der: bytes

    @property
    def key_id(self) -> str:
        """Names the key in each envelope: a device that sealed to another key is told so."""
        return hashlib.sha256(self.public_der).hexdigest()[:32]

    def public_json(self) -> dict:
        return {
            "key_id": self.key_id,
            "spki": b64url_encode(self.public_der),
            "algorithm": "RSA-OAEP-256+A256GCM",
        }


def sealing_key() -> SealingKey:
    return _load(str(_key_path()))


def sealing_key_pem() -> bytes:
    """The private key as PEM, for `flask backup export-secrets`."""
    return _read_or_create(_key_path())


def _key_path() -> Path:
    configured = current_app.config["SEALING_KEY_FILE"]
    return Path(configured) if configured else Path(current_app.instance_path) / "sealing_key.pem"


@cache
def _load(path: str) -> SealingKey:
    pem = _read_or_create(Path(path))
    private_key = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(private_key, rsa.RSAPrivateKey):
        raise RuntimeError(f"{path} does not hold an RSA private key")
    public_der = private_key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return SealingKey(private_key, public_der)


def _read_or_create(path: Path) -> bytes:
    """Several web processes may start at once: the first to create the file wins."""
    if path.exists():
        return path.read_bytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    pem = rsa.generate_private_key(public_exponent=65537, key_size=RSA_BITS).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_bytes()
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(pem)
    return pem


def associated_data(uuid: str, device_id: int) -> bytes:
    """Binds the ciphertext to its entry: content cannot be moved to another UUID or device."""
    return f"haven-outbox-v1:{uuid}:{device_id}".encode()


def open_sealed(
    key: SealingKey, wrapped_key: bytes, iv: bytes, sealed: bytes, aad: bytes
) -> tuple[dict, list[Upload]]:
    """The incident and its files, or OfflineRefused if it does not open or parse."""
    cannot_open = OfflineRefused(
        "Haven could not open this incident: it was changed on the way or sealed to another "
        "key. It cannot be sent from this device.",
        "cannot_open",
    )
    try:
        content_key = key.private_key.decrypt(
            wrapped_key,
            padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None),
        )
        plain = AESGCM(content_key).decrypt(iv, sealed, aad)
    except (ValueError, InvalidTag):
        raise cannot_open from None
    return _unpack(plain, cannot_open)


def _unpack(plain: bytes, refusal: OfflineRefused) -> tuple[dict, list[Upload]]:
    if len(plain) < 4:
        raise refusal
    header_length = int.from_bytes(plain[:4], "big")
    if header_length > min(MAX_HEADER_BYTES, len(plain) - 4):
        raise refusal
    try:
        header = json.loads(plain[4 : 4 + header_length].decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise refusal from None
    if not isinstance(header, dict) or not isinstance(header.get("incident"), dict):
        raise refusal
    files = header.get("files") or []
    if not isinstance(files, list) or len(files) > MAX_FILES:
        raise refusal
    uploads, offset = [], 4 + header_length
    for item in files:
        size = item.get("size") if isinstance(item, dict) else None
        name = item.get("name") if isinstance(item, dict) else None
        if not isinstance(size, int) or isinstance(size, bool) or not 0 <= size <= MAX_FILE_BYTES:
            raise refusal
        if not isinstance(name, str) or offset + size > len(plain):
            raise refusal
        uploads.append(Upload(filename=name, data=plain[offset : offset + size]))
        offset += size
    if offset != len(plain):
        raise refusal
    return header["incident"], uploads
