"""Writing audit events in the caller's transaction, and verifying the hash chain."""

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from flask import has_request_context, request
from flask_login import current_user
from sqlalchemy import select, text

from server.audit.models import AuditEvent
from server.clock import utcnow
from server.extensions import db

GENESIS_HASH = "0" * 64
# Any constant will do: it names the lock that serialises appends to the chain in PostgreSQL.
_CHAIN_LOCK_KEY = 0x4A7E11


def client_address() -> str | None:
    """The requester's address. Behind a proxy, configure ProxyFix; never trust headers here."""
    return request.remote_addr if has_request_context() else None


def _event_digest(prev_hash: str, event: AuditEvent) -> str:
    payload = json.dumps(
        [
            prev_hash,
            event.occurred_at.isoformat(timespec="microseconds"),
            event.actor_user_id,
            event.actor_label,
            event.action,
            event.object_type,
            event.object_id,
            event.ip_address,
            event.details,
        ],
        separators=(",", ":"),
        ensure_ascii=True,
    )
    return hashlib.sha256(payload.encode()).hexdigest()


def _lock_chain() -> None:
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _CHAIN_LOCK_KEY})


def _current_actor() -> tuple[int | None, str]:
    if has_request_context() and current_user and current_user.is_authenticated:
        return current_user.id, current_user.email
    return None, "system"


def record(
    action: str,
    *,
    object_type: str | None = None,
    object_id: Any = None,
    actor=None,
    actor_label: str | None = None,
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append an audit event to the current transaction; it commits or rolls back with the act."""
    actor_id, label = (actor.id, actor.email) if actor is not None else _current_actor()
    _lock_chain()
    prev_hash = db.session.scalar(select(AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1))
    event = AuditEvent(
        occurred_at=utcnow(),
        actor_user_id=actor_id,
        actor_label=actor_label or label,
        action=action,
        object_type=object_type,
        object_id=None if object_id is None else str(object_id),
        ip_address=client_address(),
        details=json.dumps(details or {}, sort_keys=True, default=str),
        prev_hash=prev_hash or GENESIS_HASH,
    )
    event.hash = _event_digest(event.prev_hash, event)
    db.session.add(event)
    db.session.flush()
    return event


@dataclass(frozen=True)
class ChainReport:
    checked: int
    first_bad_id: int | None = None
    problem: str | None = None

    @property
    def intact(self) -> bool:
        return self.first_bad_id is None


def verify_chain(batch_size: int = 5000) -> ChainReport:
    """Walk the log in order; name the first row whose link or content does not match."""
    expected_prev = GENESIS_HASH
    checked = 0
    last_id = 0
    while True:
        rows = db.session.scalars(
            select(AuditEvent)
            .where(AuditEvent.id > last_id)
            .order_by(AuditEvent.id)
            .limit(batch_size)
        ).all()
        if not rows:
            return ChainReport(checked=checked)
        for event in rows:
            if event.prev_hash != expected_prev:
                return ChainReport(checked, event.id, "does not follow the row before it")
            if _event_digest(event.prev_hash, event) != event.hash:
                return ChainReport(checked, event.id, "content does not match its hash")
            expected_prev = event.hash
            checked += 1
            last_id = event.id
        db.session.expunge_all()
