"""A local push service for tests and the benchmark: an HTTP server on 127.0.0.1 that takes the
POSTs Haven makes, as a browser vendor's service would, and a device that decrypts them.

Each `Device` holds the key pair and auth secret a browser would; `received` is what its push
messages decrypt to (RFC 8291, `http_ece`), exactly what the service worker is handed.
"""

import base64
import json
import os
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import http_ece
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass
class Message:
    device: str
    headers: dict
    body: bytes
    at: float

    @property
    def urgency(self) -> str:
        return self.headers.get("urgency", "")


@dataclass
class Device:
    token: str
    endpoint: str
    private_key: ec.EllipticCurvePrivateKey = field(repr=False)
    auth_secret: bytes = field(repr=False)

    @property
    def subscription(self) -> dict:
        public = self.private_key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return {
            "endpoint": self.endpoint,
            "keys": {"p256dh": b64url(public), "auth": b64url(self.auth_secret)},
        }

    def decrypt(self, message: Message) -> dict:
        plain = http_ece.decrypt(
            message.body,
            private_key=self.private_key,
            auth_secret=self.auth_secret,
            version="aes128gcm",
        )
        return json.loads(plain)


class LocalPushService:
    """Accepts pushes at /push/<token>. `reply(token, status, headers)` queues answers other
    than 201 for a device; `received(device)` decrypts what reached it."""

    def __init__(self, delay: float = 0.0):
        self.messages: list[Message] = []
        self.replies: dict[str, deque] = {}
        self.delay = delay
        self.in_flight = 0
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self.origin = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._server.shutdown()
        self._server.server_close()

    def device(self) -> Device:
        token = secrets.token_urlsafe(12)
        return Device(
            token=token,
            endpoint=f"{self.origin}/push/{token}",
            private_key=ec.generate_private_key(ec.SECP256R1()),
            auth_secret=os.urandom(16),
        )

    def reply(self, device: Device, status: int, headers: dict | None = None) -> None:
        self.replies.setdefault(device.token, deque()).append((status, headers or {}))

    def to(self, device: Device) -> list[Message]:
        with self._lock:
            return [m for m in self.messages if m.device == device.token]

    def received(self, device: Device) -> list[dict]:
        return [device.decrypt(message) for message in self.to(device)]

    def _handler(self):
        service = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - the standard library's name
                token = self.path.rsplit("/", 1)[-1]
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with service._lock:
                    service.in_flight += 1
                try:
                    if service.delay:
                        time.sleep(service.delay)
                    replies = service.replies.get(token)
                    status, headers = replies.popleft() if replies else (201, {})
                    if status == 201:
                        sent = {k.lower(): v for k, v in self.headers.items()}
                        with service._lock:
                            service.messages.append(Message(token, sent, body, time.time()))
                        self.send_response(201)
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return
                    self.send_response(status)
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                finally:
                    with service._lock:
                        service.in_flight -= 1

            def log_message(self, *args):
                pass

        return Handler
