"""Writing audit events with the act, chaining them under a key, and verifying the chain.

`record` adds an event to the caller's transaction; it is written when that transaction
commits, and rolls back with it (a rolled-back savepoint takes its events along). At the
commit, and only then, the chain is extended: the lock that serialises appenders is taken
just for this final append, so requests never queue behind one another's work.

Each event's hash is an HMAC, under a key that is not in the database (HAVEN_AUDIT_KEY), of
its content and the hash before it: someone who can write the table cannot recompute the
chain after changing a row. The newest hash is also written outside the database at every
commit (server.audit.anchors), so cutting the newest rows off is noticed too.
"""

import hashlib
import hmac
import json
from dataclasses import dataclass, field
from typing import Any

from flask import current_app, has_request_context, request
from flask_login import current_user
from sqlalchemy import event as sa_event
from sqlalchemy import select, text
from sqlalchemy.orm import Session, SessionTransaction

from server.audit import anchors
from server.audit.models import AuditEvent
from server.clock import utcnow
from server.extensions import db

GENESIS_HASH = "0" * 64
# Any constant will do: it names the lock that serialises appends to the chain in PostgreSQL.
_CHAIN_LOCK_KEY = 0x4A7E11
_PENDING = "haven_audit_pending"
_HEAD = "haven_audit_head"
_LOCKED = "haven_audit_chain_locked"
# The chain's head as read under the lock this transaction holds (so nobody else can move it).
_KNOWN_HEAD = "haven_audit_known_head"
# Built once: read while the lock is held, where every microsecond is everyone's.
_TAKE_CHAIN_LOCK = text("SELECT pg_advisory_xact_lock(:key)")
_CHAIN_HEAD = select(AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1).scalar_subquery()


def client_address() -> str | None:
    """The requester's address. Behind a proxy, configure ProxyFix; never trust headers here."""
    return request.remote_addr if has_request_context() else None


def _audit_key() -> bytes:
    return current_app.config["AUDIT_KEY"].encode()


def event_digest(prev_hash: str, event: AuditEvent, key: bytes | None) -> str:
    """The event's keyed hash; `key=None` only for events written before the chain was keyed
    (up to AUDIT_LEGACY_UNTIL), which the first keyed event after them protects in turn."""
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
    if key is None:
        return hashlib.sha256(payload.encode()).hexdigest()
    return hmac.new(key, payload.encode(), hashlib.sha256).hexdigest()


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
    """Add an audit event to the current transaction; it commits or rolls back with the act.

    The event is chained and written when the transaction commits (see `_append_pending`).
    """
    actor_id, label = (actor.id, actor.email) if actor is not None else _current_actor()
    event = AuditEvent(
        occurred_at=utcnow(),
        actor_user_id=actor_id,
        actor_label=actor_label or label,
        action=action,
        object_type=object_type,
        object_id=None if object_id is None else str(object_id),
        ip_address=client_address(),
        details=json.dumps(details or {}, sort_keys=True, default=str),
    )
    session = db.session()
    # As before the chain moved to the commit: what the act added is flushed with its event
    # (this also begins the transaction, so the event knows which one it belongs to).
    session.flush()
    session.connection()
    transaction = session.get_nested_transaction() or session.get_transaction()
    session.info.setdefault(_PENDING, []).append((event, transaction))
    return event


# --- The final append, at commit ----------------------------------------------------------


def hold_chain_lock(session: Session) -> None:
    """Take the lock that serialises appends to the chain (PostgreSQL; SQLite's BEGIN
    IMMEDIATE serialises writers already), once per transaction: it is held to the commit.
    Incident numbering takes it too, just before its final append (server.incidents)."""
    if session.get_bind().dialect.name != "postgresql" or session.info.get(_LOCKED):
        return
    session.execute(_TAKE_CHAIN_LOCK, {"key": _CHAIN_LOCK_KEY})
    # Which (sub)transaction took it: PostgreSQL releases a lock taken inside a savepoint when
    # that savepoint rolls back, and then it must be taken again (`_drop_rolled_back`).
    session.info[_LOCKED] = session.get_nested_transaction() or session.get_transaction()


def hold_chain_lock_and_read(session: Session, *columns):
    """Take the chain's lock, then read the chain's head together with `columns` (scalar SQL
    that must be read under the lock, e.g. the highest incident number) in ONE query; the head
    is kept for the append at commit, which then need not read it again. Returns the columns'
    values."""
    hold_chain_lock(session)
    row = session.execute(select(_CHAIN_HEAD, *columns)).one()
    session.info[_KNOWN_HEAD] = row[0] or GENESIS_HASH
    return tuple(row[1:])


def _lock_chain(session: Session) -> None:
    hold_chain_lock(session)


@sa_event.listens_for(Session, "before_commit")
def _append_at_commit(session: Session) -> None:
    """Chain and insert the transaction's events: the lock is held from here to the commit."""
    if not session.in_nested_transaction():
        _append_pending(session)


@sa_event.listens_for(Session, "do_orm_execute")
def _append_before_reading_the_log(state) -> None:
    """Code that reads the log inside the transaction that wrote to it sees its own events:
    they are appended first (the lock is then held from here to the commit, which only such
    rare readers pay for)."""
    if (
        state.is_select
        and state.session.info.get(_PENDING)
        and any(mapper.class_ is AuditEvent for mapper in state.all_mappers)
    ):
        _append_pending(state.session)


def _append_pending(session: Session) -> None:
    pending = session.info.pop(_PENDING, None)
    if not pending:
        return
    events = [event for event, _ in pending]
    _lock_chain(session)
    prev_hash = session.info.get(_KNOWN_HEAD)
    if prev_hash is None:
        prev_hash = session.scalar(select(AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1))
        prev_hash = prev_hash or GENESIS_HASH
    key = _audit_key()
    for event in events:
        event.prev_hash = prev_hash
        event.hash = prev_hash = event_digest(prev_hash, event, key)
        session.add(event)
    session.flush()
    session.info[_HEAD] = (events[-1].id, events[-1].hash)
    session.info[_KNOWN_HEAD] = events[-1].hash


@sa_event.listens_for(Session, "after_commit")
def _anchor_head(session: Session) -> None:
    head = session.info.pop(_HEAD, None)
    if head is not None:
        anchors.write_head(*head)


@sa_event.listens_for(Session, "after_soft_rollback")
def _drop_rolled_back(session: Session, previous: SessionTransaction) -> None:
    """Events recorded in a transaction (or savepoint) that rolled back go with it."""
    pending = session.info.get(_PENDING)
    if pending:
        session.info[_PENDING] = [
            (event, transaction)
            for event, transaction in pending
            if not _within(transaction, previous)
        ]
    session.info.pop(_HEAD, None)
    if _within(session.info.get(_LOCKED), previous):
        session.info.pop(_LOCKED, None)  # released by the rollback of the savepoint it was in
    # What was appended inside what rolled back is gone: read the head again when needed.
    session.info.pop(_KNOWN_HEAD, None)


@sa_event.listens_for(Session, "after_transaction_end")
def _forget_on_close(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:
        session.info.pop(_PENDING, None)
        session.info.pop(_LOCKED, None)  # released with the transaction
        session.info.pop(_KNOWN_HEAD, None)


def _within(transaction: SessionTransaction | None, ancestor: SessionTransaction) -> bool:
    while transaction is not None:
        if transaction is ancestor:
            return True
        transaction = transaction.parent
    return False


# --- Verifying ------------------------------------------------------------------------------


@dataclass
class ChainReport:
    checked: int = 0
    first_bad_id: int | None = None
    problem: str | None = None
    last_id: int = 0
    last_hash: str = GENESIS_HASH
    # Anchors, seals and kept heads that do not match: each names what is wrong.
    problems: list[str] = field(default_factory=list)
    sealed: int = 0
    anchors_checked: int = 0

    @property
    def intact(self) -> bool:
        return self.first_bad_id is None and not self.problems


def verify_chain(heads: dict | None = None, batch_size: int = 5000) -> ChainReport:
    """Walk the log in order; name the first row whose link or keyed hash does not match.

    `heads` ({event id: [(hash, when, how)]}) are checked on the way past, so a head file of
    any length costs one walk of the log.
    """
    report = ChainReport()
    key = _audit_key()
    legacy_until = current_app.config.get("AUDIT_LEGACY_UNTIL") or 0
    heads = heads or {}
    while True:
        rows = db.session.scalars(
            select(AuditEvent)
            .where(AuditEvent.id > report.last_id)
            .order_by(AuditEvent.id)
            .limit(batch_size)
        ).all()
        if not rows:
            return report
        for event in rows:
            if event.prev_hash != report.last_hash:
                report.first_bad_id, report.problem = event.id, "does not follow the row before it"
                return report
            event_key = None if event.id <= legacy_until else key
            if event_digest(event.prev_hash, event, event_key) != event.hash:
                report.first_bad_id, report.problem = event.id, _hash_problem(event, report)
                return report
            for digest, when, how in heads.get(event.id, ()):
                if digest != event.hash and len(report.problems) < 10:
                    report.problems.append(
                        f"event {event.id} does not match the head {how} for it ({when}): "
                        "the log was rewritten from there on"
                    )
            report.last_hash, report.last_id = event.hash, event.id
            report.checked += 1
        db.session.expunge_all()


def _hash_problem(event: AuditEvent, report: ChainReport) -> str:
    problem = "content does not match its hash"
    if report.checked == 0 and event_digest(event.prev_hash, event, None) == event.hash:
        problem += (
            " (it carries an unkeyed hash, as logs begun before the chain was keyed do: if "
            "this instance was upgraded, set HAVEN_AUDIT_LEGACY_UNTIL to its last such event)"
        )
    return problem


def verify_all(kept_heads: list[tuple[int, str]] = ()) -> ChainReport:
    """The chain, the anchored heads and any heads a DSL kept, then every sealed record."""
    anchored = anchors.read_heads()
    heads: dict[int, list] = {}
    for event_id, digest, when in anchored:
        heads.setdefault(event_id, []).append((digest, when, "anchored"))
    for event_id, digest in kept_heads:
        heads.setdefault(event_id, []).append((digest, "kept by hand", "kept"))
    report = verify_chain(heads)
    if report.first_bad_id is not None:
        return report
    report.anchors_checked = len(anchored)
    beyond = [(event_id, found) for event_id, found in heads.items() if event_id > report.last_id]
    if beyond:
        event_id, entries = max(beyond, key=lambda item: item[0])
        _, when, how = entries[-1]
        report.problems.append(
            f"the log has been cut short: it ends at event {report.last_id}, but event "
            f"{event_id} was {how} as its head ({when})"
        )
    report.problems += _seal_problems(report)
    return report


# The one act after which a record's earlier seals no longer hold: its content was blanked by
# an approved disposal (server.retention), which seals the blanked rows in its own event.
RESEALING_ACTIONS = ("retention.record_disposed",)


def _seal_problems(report: ChainReport) -> list[str]:
    from server.audit.seals import seal_matches
    from server.incidents.models import Incident

    problems, sealed_incidents = [], set()
    rows = list(
        db.session.execute(
            select(AuditEvent.id, AuditEvent.action, AuditEvent.details)
            .where(AuditEvent.details.like('%"seal"%'))
            .order_by(AuditEvent.id)
        )
    )
    resealed_at = {}
    for event_id, action, details in rows:
        sealed = json.loads(details).get("seal")
        if action in RESEALING_ACTIONS and isinstance(sealed, dict):
            resealed_at[(sealed.get("kind"), sealed.get("id"))] = event_id
    for event_id, _action, details in rows:
        sealed = json.loads(details).get("seal")
        if not isinstance(sealed, dict):
            continue
        report.sealed += 1
        if sealed.get("kind") == "incident":
            sealed_incidents.add(sealed.get("id"))
        if resealed_at.get((sealed.get("kind"), sealed.get("id")), event_id) > event_id:
            continue  # superseded by the seal of its disposal, which is checked instead
        if not seal_matches(sealed):
            label = _record_label(sealed)
            problems.append(
                f"{label} no longer matches the seal recorded in audit event {event_id}: "
                "it was changed after it was written"
            )
    for incident_id, number in db.session.execute(select(Incident.id, Incident.number)):
        if incident_id not in sealed_incidents:
            problems.append(f"incident #{number} has no sealed record of its creation in the log")
    return problems


def _record_label(sealed: dict[str, Any]) -> str:
    from server.incidents.models import Incident

    if sealed.get("kind") == "incident":
        number = db.session.scalar(select(Incident.number).where(Incident.id == sealed.get("id")))
        return f"incident #{number}" if number is not None else f"incident id {sealed.get('id')}"
    return f"{sealed.get('kind')} {sealed.get('id')}"


def head() -> tuple[int, str] | None:
    """The newest event's id and hash: the daily head a DSL keeps (`flask audit head`)."""
    row = db.session.execute(
        select(AuditEvent.id, AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1)
    ).first()
    return (row[0], row[1]) if row else None


def mail_head_to_dsls() -> list[str]:
    """Send the current head to every active DSL, to keep away from the server (run daily,
    e.g. from cron). The message holds an event number and a hash: nothing about anyone.
    Returns the addresses it went to."""
    from server.alerts.rules import users_with_role
    from server.auth.roles import Role
    from server.mail import send_mail

    newest = head()
    if newest is None:
        return []
    kept = f"{newest[0]}:{newest[1]}"
    body = (
        f"Haven's audit log head on {utcnow():%d %B %Y at %H:%M} UTC is\n\n    {kept}\n\n"
        "Keep this email. If anyone ever changes or cuts short the audit log, checking it "
        f"against this head will show it:\n\n    flask audit verify --head {kept}\n"
    )
    recipients = [user.email for user in users_with_role(Role.DSL)]
    for address in recipients:
        send_mail(address, "Haven: today's audit head, to keep", body)
    return recipients
