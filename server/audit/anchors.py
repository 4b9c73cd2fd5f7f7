"""The audit chain's head, anchored outside the database.

After every commit that adds audit events, one line is appended to a file in the instance
folder (AUDIT_HEAD_FILE): when, the newest event's id, and its keyed hash. Someone who can
write the database but not this file cannot cut the newest events off unnoticed, nor rewrite
the chain behind an anchored head. The file only grows: lines are appended with O_APPEND, one
write each, so processes writing at once never interleave. A school keeps a daily head
elsewhere too (`flask audit head`), for when the server itself is not trusted.
"""

import logging
import os
from pathlib import Path

from flask import current_app

from server.clock import utcnow

log = logging.getLogger(__name__)


def head_file() -> Path | None:
    configured = current_app.config.get("AUDIT_HEAD_FILE")
    return Path(configured) if configured else None


def write_head(event_id: int, digest: str) -> None:
    """Append the head just committed. The records are already safe in the database, so a
    failure here is logged loudly rather than failing the person's request."""
    path = head_file()
    if path is None:
        return
    line = f"{utcnow().isoformat(timespec='seconds')} {event_id} {digest}\n".encode()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(descriptor, line)
        finally:
            os.close(descriptor)
    except OSError:
        log.exception("could not anchor the audit head %s in %s", event_id, path)


def read_heads() -> list[tuple[int, str, str]]:
    """(event id, hash, when) of every anchored head; an unreadable line is skipped."""
    path = head_file()
    if path is None or not path.exists():
        return []
    heads = []
    for line in path.read_text(encoding="ascii", errors="replace").splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1].isdigit() and len(parts[2]) == 64:
            heads.append((int(parts[1]), parts[2], parts[0]))
    return heads


def parse_kept_head(text: str) -> tuple[int, str]:
    """A head as `flask audit head` prints it for keeping: `ID:HASH`."""
    event_id, _, digest = text.strip().partition(":")
    if not event_id.isdigit() or len(digest) != 64:
        raise ValueError("a kept head looks like 1234:<64 hex digits>")
    return int(event_id), digest.lower()
