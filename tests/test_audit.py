"""The audit log: written with the act, append-only in the database, hash-chained (SPEC §9)."""

import os

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from server.audit.models import AuditEvent
from server.audit.operations import GENESIS_HASH, event_digest, record, verify_chain
from server.auth.roles import Role
from server.extensions import db


def test_an_event_names_who_what_which_record_when_and_where(app, client, make_user):
    user = make_user(Role.STAFF)
    client.post("/auth/sign-in", data={"email": user.email, "password": "Correct-Horse-42!"})
    with app.app_context():
        event = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "auth.sign_in")
        ).one()
        assert event.actor_user_id == user.id and event.actor_label == user.email
        assert event.object_type == "session" and event.object_id
        assert event.ip_address == "127.0.0.1" and event.occurred_at.tzinfo is not None


def test_events_roll_back_with_the_act(app, app_context):
    before = db.session.scalar(select(func.count(AuditEvent.id)))
    record("test.rolled_back", object_type="thing", object_id=1)
    db.session.rollback()
    db.session.commit()
    assert db.session.scalar(select(func.count(AuditEvent.id))) == before


def test_events_of_a_rolled_back_savepoint_go_with_it(app_context):
    before = db.session.scalar(select(func.count(AuditEvent.id)))
    record("test.kept")
    savepoint = db.session.begin_nested()
    record("test.dropped")
    with db.session.begin_nested():
        record("test.dropped_too")
    savepoint.rollback()
    record("test.kept_too")
    db.session.commit()
    actions = db.session.scalars(
        select(AuditEvent.action).order_by(AuditEvent.id.desc()).limit(2)
    ).all()
    assert actions == ["test.kept_too", "test.kept"]
    assert db.session.scalar(select(func.count(AuditEvent.id))) == before + 2
    assert verify_chain().intact


def test_the_chain_is_keyed_not_a_plain_hash(app_context):
    import hashlib
    import hmac

    event = record("test.keyed")
    db.session.commit()
    key = app_context.config["AUDIT_KEY"].encode()
    assert event.hash == event_digest(event.prev_hash, event, key)
    assert event.hash != event_digest(event.prev_hash, event, b"another key")
    assert event.hash != hashlib.sha256(b"").hexdigest() and hmac.compare_digest(
        event.hash, event_digest(event.prev_hash, event, key)
    )


def test_the_chain_links_each_event_to_the_one_before(app_context):
    first = record("test.first")
    second = record("test.second", details={"n": 2})
    db.session.commit()
    assert second.prev_hash == first.hash != GENESIS_HASH
    report = verify_chain()
    assert report.intact and report.checked >= 2


GUARDED_STATEMENTS = ["UPDATE audit_events SET action = 'x'", "DELETE FROM audit_events"]
if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
    # SQLite's REPLACE deletes the old row without firing DELETE triggers unless told to.
    GUARDED_STATEMENTS.append(
        "INSERT OR REPLACE INTO audit_events (id, occurred_at, actor_user_id, actor_label, action,"
        " object_type, object_id, ip_address, details, prev_hash, hash)"
        " SELECT id, occurred_at, actor_user_id, actor_label, 'rewritten', object_type, object_id,"
        " ip_address, details, prev_hash, hash FROM audit_events"
    )
else:
    # Row triggers do not fire on TRUNCATE; the statement trigger must (SQLite has no TRUNCATE).
    GUARDED_STATEMENTS.append("TRUNCATE audit_events")


@pytest.mark.parametrize("statement", GUARDED_STATEMENTS)
def test_the_database_refuses_changes_to_the_log(app_context, statement):
    record("test.guarded")
    db.session.commit()
    with pytest.raises(DBAPIError, match="append-only"), db.session.begin_nested():
        db.session.execute(text(statement))


def _without_guard(statement: str, **params) -> None:
    """Tamper as an attacker with the database owner's rights would: guard off, change, guard on."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(text("ALTER TABLE audit_events DISABLE TRIGGER audit_events_no_change"))
        db.session.execute(text(statement), params)
        db.session.execute(
            text("ALTER TABLE audit_events ENABLE ALWAYS TRIGGER audit_events_no_change")
        )
    else:
        db.session.execute(text("DROP TRIGGER audit_events_no_update"))
        db.session.execute(text("DROP TRIGGER audit_events_no_delete"))
        db.session.execute(text(statement), params)


def test_verify_names_the_first_tampered_row(app_context):
    events = [record(f"test.event_{n}") for n in range(4)]
    db.session.commit()
    _without_guard(
        "UPDATE audit_events SET details = '{\"edited\": 1}' WHERE id = :id", id=events[2].id
    )
    db.session.expire_all()
    report = verify_chain()
    assert not report.intact
    assert report.first_bad_id == events[2].id
    assert "hash" in report.problem


def test_verify_notices_a_deleted_row(app_context):
    events = [record(f"test.event_{n}") for n in range(3)]
    db.session.commit()
    _without_guard("DELETE FROM audit_events WHERE id = :id", id=events[1].id)
    db.session.expire_all()
    report = verify_chain()
    assert report.first_bad_id == events[2].id
    assert "follow" in report.problem


def test_verify_command(app, runner, app_context):
    record("test.cli")
    db.session.commit()
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 0, result.output
    assert "Audit chain intact" in result.output


@pytest.mark.skipif(
    not os.environ.get("DATABASE_URL", "").startswith("postgres"),
    reason="the chain's advisory lock is PostgreSQL's; SQLite serialises writers itself",
)
def test_the_chain_lock_is_taken_only_for_the_final_append(app, app_context):
    from server.audit.operations import _CHAIN_LOCK_KEY, _append_pending

    def lock_is_free() -> bool:
        with db.engine.connect() as other, other.begin():
            query = text("SELECT pg_try_advisory_xact_lock(:key)")
            return other.execute(query, {"key": _CHAIN_LOCK_KEY}).scalar()

    record("test.during_the_act")
    assert lock_is_free()  # other requests may append while this one is still working
    _append_pending(db.session())  # what the commit does first
    assert not lock_is_free()
    db.session.commit()


def test_a_development_instance_keeps_its_own_audit_key(tmp_path):
    from server import create_app
    from server.config import TestConfig

    class KeylessConfig(TestConfig):
        INSTANCE_DIR = tmp_path
        AUDIT_KEY = ""

    first = create_app(KeylessConfig, SQLALCHEMY_DATABASE_URI="sqlite://")
    again = create_app(KeylessConfig, SQLALCHEMY_DATABASE_URI="sqlite://")
    assert len(first.config["AUDIT_KEY"]) == 64
    assert again.config["AUDIT_KEY"] == first.config["AUDIT_KEY"]
    assert (tmp_path / "audit_key").stat().st_mode & 0o077 == 0
