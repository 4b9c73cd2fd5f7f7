"""The static files under pwa/, read from disk once per process and kept with their
compressed forms, so a request costs a dictionary look-up."""

import hashlib
import mimetypes
import threading
from dataclasses import dataclass, field
from pathlib import Path

from werkzeug.security import safe_join

from server.assets.compression import MIN_BYTES, compress, compressible

# JavaScript modules must be served as JavaScript whatever the system's tables say.
MIMETYPES = {
    ".js": "text/javascript",
    ".mjs": "text/javascript",
    ".css": "text/css",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".webmanifest": "application/manifest+json",
}


@dataclass
class Asset:
    data: bytes
    mimetype: str
    digest: str  # of the bytes on disk: the ETag of each encoding is built on it
    _encoded: dict[str, bytes] = field(default_factory=dict)

    @property
    def compressible(self) -> bool:
        return compressible(self.mimetype) and len(self.data) >= MIN_BYTES

    def body(self, encoding: str | None) -> bytes:
        if encoding is None:
            return self.data
        if encoding not in self._encoded:
            self._encoded[encoding] = compress(self.data, encoding, best=True)
        return self._encoded[encoding]

    def etag(self, encoding: str | None) -> str:
        return self.digest if encoding is None else f"{self.digest}-{encoding}"


class StaticFiles:
    def __init__(self, root: Path):
        self.root = root
        self._assets: dict[str, Asset] = {}
        self._lock = threading.Lock()

    def find(self, filename: str, *, reread: bool = False) -> Asset | None:
        """The file at `filename` under the root, or None (missing, a folder, or outside).
        Only files found are kept (the tree is small); `reread` is for development."""
        asset = None if reread else self._assets.get(filename)
        if asset is None:
            asset = self._read(filename)
            if asset is not None:
                with self._lock:
                    asset = self._assets.setdefault(filename, asset) if not reread else asset
        return asset

    def _read(self, filename: str) -> Asset | None:
        joined = safe_join(str(self.root), filename)
        if joined is None or any(part.startswith(".") for part in Path(filename).parts):
            return None
        path = Path(joined)
        if not path.is_file():
            return None
        data = path.read_bytes()
        mimetype = MIMETYPES.get(path.suffix) or (
            mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        )
        return Asset(data, mimetype, hashlib.sha256(data).hexdigest()[:20])
