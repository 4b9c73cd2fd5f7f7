"""A software device for tests: does in Python what pwa/js/outbox.js and device-crypto.js do in
the browser — an ECDSA P-256 device key, and incidents sealed to the server's RSA-OAEP key with
AES-256-GCM, signed as the server expects. Tampering hooks let tests break each step."""

import base64
import hashlib
import json
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.hazmat.primitives.ciphers.aead import AESGCM


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def pack(incident: dict, files: list[tuple[str, str, bytes]] = ()) -> bytes:
    header = json.dumps(
        {
            "incident": incident,
            "files": [{"name": n, "type": t, "size": len(d)} for n, t, d in files],
        }
    ).encode()
    return len(header).to_bytes(4, "big") + header + b"".join(d for _n, _t, d in files)


@dataclass
class SoftwareDevice:
    private_key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    device_id: int | None = None

    @property
    def public_key(self) -> str:
        return b64url(
            self.private_key.public_key().public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )

    def sign(self, message: bytes) -> bytes:
        r, s = decode_dss_signature(self.private_key.sign(message, ec.ECDSA(hashes.SHA256())))
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")

    def seal(
        self,
        server_key: dict,
        incident: dict,
        files=(),
        *,
        signed_at: str | None = None,
        plain: bytes | None = None,
        device_id: int | None = None,
    ) -> tuple[dict, bytes]:
        """(envelope, sealed bytes) exactly as the browser makes them."""
        device_id = device_id or self.device_id
        public = serialization.load_der_public_key(
            base64.urlsafe_b64decode(server_key["spki"] + "=" * (-len(server_key["spki"]) % 4))
        )
        content_key, iv = AESGCM.generate_key(bit_length=256), os.urandom(12)
        aad = f"haven-outbox-v1:{incident['uuid']}:{device_id}".encode()
        sealed = AESGCM(content_key).encrypt(
            iv, plain if plain is not None else pack(incident, files), aad
        )
        wrapped = public.encrypt(
            content_key,
            padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None),
        )
        envelope = {
            "v": 1,
            "device_id": device_id,
            "uuid": incident["uuid"],
            "signed_at": signed_at or datetime.now(UTC).isoformat().replace("+00:00", "Z"),
            "key_id": server_key["key_id"],
            "wrapped_key": b64url(wrapped),
            "iv": b64url(iv),
            "sealed_sha256": b64url(hashlib.sha256(sealed).digest()),
        }
        self.resign(envelope)
        return envelope, sealed

    def resign(self, envelope: dict) -> None:
        message = "\n".join(
            [
                "haven-outbox-v1",
                str(envelope["device_id"]),
                envelope["uuid"],
                envelope["signed_at"],
                envelope["key_id"],
                envelope["wrapped_key"],
                envelope["iv"],
                envelope["sealed_sha256"],
            ]
        ).encode()
        envelope["signature"] = b64url(self.sign(message))
