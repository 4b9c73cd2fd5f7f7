"""Encrypting a backup to a public key, in chunks that reveal any change, reordering or cut.

X25519 with a fresh key per archive, HKDF-SHA256 to an AES-256-GCM key, then the archive in
1 MiB chunks. Each chunk's nonce holds its number and whether it is the last, so a chunk
moved, dropped or appended fails to decrypt, and an archive that ends before its last chunk
is refused as truncated (the STREAM construction of Hoang, Reyhanitabar, Rogaway and Vizár).
"""

import os
import struct
from collections.abc import Iterator
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

MAGIC = b"HAVENBK1"
CHUNK = 1024 * 1024
_HEADER = len(MAGIC) + 32 + 16  # magic, ephemeral public key, salt
_TAG = 16


class BackupRefused(Exception):
    """An archive that cannot be trusted (changed, cut short, wrong key): nothing restored."""


def new_key_pair(passphrase: bytes | None = None) -> tuple[bytes, bytes]:
    """(private PEM, public PEM). The private key stays with the school, off the server."""
    private = X25519PrivateKey.generate()
    encryption = (
        serialization.BestAvailableEncryption(passphrase)
        if passphrase
        else serialization.NoEncryption()
    )
    private_pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    )
    public_pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private_pem, public_pem


def load_public_key(pem: bytes) -> X25519PublicKey:
    key = serialization.load_pem_public_key(pem)
    if not isinstance(key, X25519PublicKey):
        raise BackupRefused("The backup public key is not an X25519 key from `flask backup keys`.")
    return key


def load_private_key(pem: bytes, passphrase: bytes | None = None) -> X25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(pem, password=passphrase or None)
    except (ValueError, TypeError) as error:
        raise BackupRefused(f"The backup private key could not be read: {error}") from None
    if not isinstance(key, X25519PrivateKey):
        raise BackupRefused("The backup private key is not an X25519 key.")
    return key


def _aead(shared: bytes, salt: bytes) -> AESGCM:
    key = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=salt, info=b"haven backup v1"
    ).derive(shared)
    return AESGCM(key)


def _nonce(counter: int, last: bool) -> bytes:
    return struct.pack(">11sB", counter.to_bytes(11, "big"), 1 if last else 0)


def encrypt_stream(source: BinaryIO, target: BinaryIO, public_key: X25519PublicKey) -> None:
    ephemeral = X25519PrivateKey.generate()
    salt = os.urandom(16)
    header = MAGIC + ephemeral.public_key().public_bytes_raw() + salt
    aead = _aead(ephemeral.exchange(public_key), salt)
    target.write(header)
    counter, chunk = 0, source.read(CHUNK)
    while True:
        following = source.read(CHUNK)
        last = not following
        target.write(aead.encrypt(_nonce(counter, last), chunk, header))
        if last:
            return
        counter, chunk = counter + 1, following


def decrypt_stream(source: BinaryIO, private_key: X25519PrivateKey) -> Iterator[bytes]:
    """The archive's plaintext, chunk by chunk; BackupRefused the moment anything is wrong."""
    header = source.read(_HEADER)
    if len(header) != _HEADER or not header.startswith(MAGIC):
        raise BackupRefused("This is not a Haven backup archive.")
    ephemeral = X25519PublicKey.from_public_bytes(header[len(MAGIC) : len(MAGIC) + 32])
    aead = _aead(private_key.exchange(ephemeral), header[-16:])
    counter = 0
    while True:
        sealed = source.read(CHUNK + _TAG)
        if not sealed:
            raise BackupRefused("The archive is truncated: it ends before its last part.")
        plain = _open_chunk(aead, counter, sealed, header)
        if plain is None:
            raise BackupRefused(
                "The archive has been changed or cut short, or was made for another backup "
                f"key: part {counter + 1} does not decrypt."
            )
        chunk, last = plain
        yield chunk
        if last:
            if source.read(1):
                raise BackupRefused("The archive has data after its last part: it was changed.")
            return
        counter += 1


def _open_chunk(aead: AESGCM, counter: int, sealed: bytes, header: bytes):
    for last in (False, True):
        try:
            return aead.decrypt(_nonce(counter, last), sealed, header), last
        except InvalidTag:
            continue
    return None
