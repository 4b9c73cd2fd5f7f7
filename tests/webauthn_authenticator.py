"""A small software authenticator for tests: real WebAuthn attestations and assertions.

It plays the browser and the authenticator together: given the JSON options the server sent,
it returns the JSON a browser's `credential.toJSON()` would (base64url throughout), signed
with ES256 keys it holds. Every field that a test may want wrong can be overridden.
"""

import hashlib
import json
import secrets
import struct
from base64 import urlsafe_b64decode, urlsafe_b64encode
from dataclasses import dataclass

import cbor2
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

FLAG_USER_PRESENT = 0x01
FLAG_USER_VERIFIED = 0x04
FLAG_ATTESTED_DATA = 0x40
COSE_ES256 = -7
AAGUID = bytes.fromhex("6f7765727465737461757468656e7469")  # a made-up, fixed model id


def b64url(data: bytes) -> str:
    return urlsafe_b64encode(data).rstrip(b"=").decode()


def from_b64url(value: str) -> bytes:
    return urlsafe_b64decode(value + "=" * (-len(value) % 4))


def cose_public_key(private_key: ec.EllipticCurvePrivateKey) -> bytes:
    numbers = private_key.public_key().public_numbers()
    return cbor2.dumps(
        {
            1: 2,  # kty: EC2
            3: COSE_ES256,
            -1: 1,  # crv: P-256
            -2: numbers.x.to_bytes(32, "big"),
            -3: numbers.y.to_bytes(32, "big"),
        }
    )


@dataclass
class StoredCredential:
    credential_id: bytes
    private_key: ec.EllipticCurvePrivateKey
    rp_id: str
    user_handle: bytes
    sign_count: int = 0

    @property
    def id(self) -> str:
        return b64url(self.credential_id)

    @property
    def cose_public_key(self) -> bytes:
        return cose_public_key(self.private_key)


class SoftwareAuthenticator:
    """An ES256 authenticator with user verification, like a phone or an iPad's Face ID.

    `synced=True` behaves like a synced passkey: its signature counter is always 0.
    """

    def __init__(self, origin: str = "http://localhost:5000", synced: bool = False):
        self.origin = origin
        self.synced = synced
        self.credentials: dict[str, StoredCredential] = {}

    def new_credential(self, rp_id: str, user_handle: bytes | None = None) -> StoredCredential:
        """A new key pair held by this authenticator (what `create` makes, without a ceremony)."""
        credential = StoredCredential(
            credential_id=secrets.token_bytes(32),
            private_key=ec.generate_private_key(ec.SECP256R1()),
            rp_id=rp_id,
            user_handle=user_handle or secrets.token_bytes(32),
        )
        self.credentials[credential.id] = credential
        return credential

    # registration -----------------------------------------------------------------------

    def create(
        self,
        options: dict,
        *,
        origin: str | None = None,
        rp_id: str | None = None,
        user_verified: bool = True,
        attestation: str = "packed",
        challenge: str | None = None,
    ) -> dict:
        """Answer `navigator.credentials.create()` options with a new credential."""
        rp_id = rp_id or options["rp"]["id"]
        excluded = {item["id"] for item in options.get("excludeCredentials", [])}
        if excluded & self.credentials.keys():
            raise ValueError("InvalidStateError: this authenticator holds an excluded credential")
        credential = self.new_credential(rp_id, from_b64url(options["user"]["id"]))
        client_data = self._client_data(
            "webauthn.create", challenge or options["challenge"], origin
        )
        auth_data = (
            self._auth_data(rp_id, FLAG_ATTESTED_DATA, user_verified, credential.sign_count)
            + AAGUID
            + struct.pack(">H", len(credential.credential_id))
            + credential.credential_id
            + credential.cose_public_key
        )
        if attestation == "packed":  # self attestation, signed by the new credential's key
            signature = self._sign(credential, auth_data, client_data)
            statement = {"alg": COSE_ES256, "sig": signature}
        else:
            statement = {}
        attestation_object = cbor2.dumps(
            {"fmt": attestation, "attStmt": statement, "authData": auth_data}
        )
        return {
            "id": credential.id,
            "rawId": credential.id,
            "type": "public-key",
            "authenticatorAttachment": "platform",
            "clientExtensionResults": {},
            "response": {
                "clientDataJSON": b64url(client_data),
                "attestationObject": b64url(attestation_object),
                "transports": ["internal", "hybrid"],
            },
        }

    # assertion --------------------------------------------------------------------------

    def get(
        self,
        options: dict,
        *,
        credential_id: str | None = None,
        origin: str | None = None,
        rp_id: str | None = None,
        user_verified: bool = True,
        sign_count: int | None = None,
        challenge: str | None = None,
    ) -> dict:
        """Answer `navigator.credentials.get()` options, as the first allowed credential held."""
        credential = self._choose(options, credential_id)
        if sign_count is not None:
            credential.sign_count = sign_count
        elif not self.synced:
            credential.sign_count += 1
        client_data = self._client_data("webauthn.get", challenge or options["challenge"], origin)
        auth_data = self._auth_data(
            rp_id or options.get("rpId") or credential.rp_id,
            0,
            user_verified,
            credential.sign_count,
        )
        return {
            "id": credential.id,
            "rawId": credential.id,
            "type": "public-key",
            "authenticatorAttachment": "platform",
            "clientExtensionResults": {},
            "response": {
                "clientDataJSON": b64url(client_data),
                "authenticatorData": b64url(auth_data),
                "signature": b64url(self._sign(credential, auth_data, client_data)),
                "userHandle": b64url(credential.user_handle),
            },
        }

    def _choose(self, options: dict, credential_id: str | None) -> StoredCredential:
        if credential_id is not None:
            return self.credentials[credential_id]
        allowed = [item["id"] for item in options.get("allowCredentials", [])]
        for candidate in allowed or list(self.credentials):
            if candidate in self.credentials:
                return self.credentials[candidate]
        raise LookupError("NotAllowedError: no credential here is allowed")

    # pieces -----------------------------------------------------------------------------

    def _client_data(self, kind: str, challenge: str, origin: str | None) -> bytes:
        return json.dumps(
            {
                "type": kind,
                "challenge": challenge,
                "origin": origin or self.origin,
                "crossOrigin": False,
            },
            separators=(",", ":"),
        ).encode()

    @staticmethod
    def _auth_data(rp_id: str, flags: int, user_verified: bool, sign_count: int) -> bytes:
        flags |= FLAG_USER_PRESENT | (FLAG_USER_VERIFIED if user_verified else 0)
        return (
            hashlib.sha256(rp_id.encode()).digest() + bytes([flags]) + struct.pack(">I", sign_count)
        )

    @staticmethod
    def _sign(credential: StoredCredential, auth_data: bytes, client_data: bytes) -> bytes:
        signed = auth_data + hashlib.sha256(client_data).digest()
        return credential.private_key.sign(signed, ec.ECDSA(hashes.SHA256()))
