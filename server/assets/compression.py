"""Compressing what Haven sends: brotli where the browser takes it, else gzip.

Static files are compressed once per process at the highest levels and kept; pages and JSON
are compressed as they go at levels that cost a millisecond or two. A page is compressed only
for a request the browser says came from Haven itself (or was typed in), never for one
another site started: see "Compression and BREACH" in docs/security.md.
"""

import gzip

import brotli
from flask import Response, request

ENCODINGS = ("br", "gzip")
# Below this a compressed body saves less than the headers it needs.
MIN_BYTES = 512
COMPRESSIBLE = frozenset(
    {
        "application/javascript",
        "application/json",
        "application/manifest+json",
        "application/xml",
        "image/svg+xml",
        "text/css",
        "text/csv",
        "text/html",
        "text/javascript",
        "text/plain",
        "text/xml",
    }
)
# Fetch Metadata: the browser says who started the request. "none" is the person (address
# bar, bookmark, Home Screen); no header at all is an older browser or a tool such as curl.
OWN_REQUEST_SITES = frozenset({None, "same-origin", "none"})


def compressible(mimetype: str | None) -> bool:
    return mimetype in COMPRESSIBLE


def chosen_encoding() -> str | None:
    """The best encoding the request accepts, or None for the body as it is."""
    best = request.accept_encodings.best_match(ENCODINGS)
    return best if best in ENCODINGS else None


def compress(data: bytes, encoding: str, *, best: bool = False) -> bytes:
    if encoding == "br":
        return brotli.compress(data, quality=11 if best else 5)
    # mtime=0: the same input gives the same bytes, so ETags and sizes are stable.
    return gzip.compress(data, compresslevel=9 if best else 6, mtime=0)


def compress_response(response: Response) -> Response:
    """after_request: a page or JSON answer compressed when the browser takes it and it is
    worth it. Files sent as they are read (downloads, static files) are left alone."""
    if response.direct_passthrough or not compressible(response.mimetype):
        return response
    response.vary.add("Accept-Encoding")
    encoding = chosen_encoding()
    if encoding is None or not _worth_compressing(response):
        return response
    response.set_data(compress(response.get_data(), encoding))
    response.headers["Content-Encoding"] = encoding
    # A strong ETag names exact bytes; these are new bytes of the same content.
    etag, weak = response.get_etag()
    if etag and not weak:
        response.set_etag(etag, weak=True)
    return response


def _worth_compressing(response: Response) -> bool:
    return (
        request.headers.get("Sec-Fetch-Site") in OWN_REQUEST_SITES
        and request.method != "HEAD"
        and response.status_code not in (204, 304)
        and 200 <= response.status_code < 600
        and not response.is_streamed
        and "Content-Encoding" not in response.headers
        and (response.content_length or 0) >= MIN_BYTES
    )
