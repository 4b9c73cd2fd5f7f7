"""Records stay as written against someone with the database in hand (issue 11, findings 3, 4).

SQLite: `REPLACE` from a plain `sqlite3` session (no `recursive_triggers`) is refused on every
append-only table. PostgreSQL: the application's role owns no table, so it can neither switch
a guard off nor change a record. Both: a rewritten chain, a log cut short and a changed
incident are each named by `flask audit verify`.
"""

import email
import email.policy
import hashlib
import json
import os
import secrets
import sqlite3

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from server.audit.models import AuditEvent
from server.audit.operations import event_digest, verify_all
from server.database import append_only_tables
from server.extensions import db
from tests.own_database import fresh_school

pytestmark = pytest.mark.own_database

ON_POSTGRES = os.environ.get("DATABASE_URL", "").startswith("postgres")
APPEND_ONLY = {
    "actions", "alerts", "audit_events", "incident_agencies", "incident_body_marks",
    "incident_categories", "incident_event_categories", "incident_events", "incident_files",
    "incident_pupils", "incident_reads", "incidents",
}  # fmt: skip


@pytest.fixture
def school(tmp_path_factory):
    yield from fresh_school(tmp_path_factory, "integrity")


def _verify(school):
    with school.app.app_context():
        return verify_all()


def _cli(school, *args):
    return school.app.test_cli_runner().invoke(args=["audit", "verify", *args])


# --- Attacking the database as its owner would (triggers dropped) ---------------------------


def _owner_connection(school):
    """A connection outside the application, with the tables' owner's rights."""
    if ON_POSTGRES:
        url = make_url(school.database_url).set(drivername="postgresql+psycopg")
        return sa.create_engine(url, isolation_level="AUTOCOMMIT").connect()
    return sa.create_engine(
        school.database_url, connect_args={"isolation_level": None}
    ).connect()


def _without_guards(connection, table: str, statement: str, **params) -> None:
    if ON_POSTGRES:
        connection.execute(sa.text(f"ALTER TABLE {table} DISABLE TRIGGER USER"))
        connection.execute(sa.text(statement), params)
        connection.execute(sa.text(f"ALTER TABLE {table} ENABLE TRIGGER USER"))
    else:
        for verb in ("update", "delete", "replace"):
            connection.execute(sa.text(f"DROP TRIGGER IF EXISTS {table}_no_{verb}"))
        connection.execute(sa.text(statement), params)


def _plain_sha256(prev_hash: str, row) -> str:
    """The chain as the first build computed it: unkeyed, so anyone could recompute it."""
    payload = json.dumps(
        [
            prev_hash,
            row.occurred_at.isoformat(timespec="microseconds"),
            row.actor_user_id,
            row.actor_label,
            row.action,
            row.object_type,
            row.object_id,
            row.ip_address,
            row.details,
        ],
        separators=(",", ":"),
        ensure_ascii=True,
    )
    return hashlib.sha256(payload.encode()).hexdigest()


def test_a_working_school_verifies_intact(school):
    school.close(school.numbers[0])
    report = _verify(school)
    assert report.intact, report.problems
    assert report.checked >= 5 and report.sealed >= 2 and report.anchors_checked >= 3
    result = _cli(school)
    assert result.exit_code == 0, result.output
    assert "Audit chain intact" in result.output


def test_a_row_rewritten_and_the_chain_recomputed_with_sha256_is_named(school):
    with school.app.app_context():
        rows = db.session.scalars(sa.select(AuditEvent).order_by(AuditEvent.id)).all()
        db.session.expunge_all()
    target = rows[len(rows) // 2]
    target.details = json.dumps({"rewritten": True})
    prev = target.prev_hash
    with _owner_connection(school) as connection:
        for row in rows[rows.index(target) :]:
            row.prev_hash, row.hash = prev, _plain_sha256(prev, row)
            prev = row.hash
            _without_guards(
                connection,
                "audit_events",
                "UPDATE audit_events SET details = :details, prev_hash = :prev, hash = :hash "
                "WHERE id = :id",
                details=row.details,
                prev=row.prev_hash,
                hash=row.hash,
                id=row.id,
            )
    report = _verify(school)
    assert report.first_bad_id == target.id
    assert "does not match its hash" in report.problem
    result = _cli(school)
    assert result.exit_code == 1 and f"BROKEN at event {target.id}" in result.output


def test_even_with_the_key_a_rewrite_behind_an_anchored_head_is_named(school):
    """Someone who stole HAVEN_AUDIT_KEY can recompute the chain, but not the head file."""
    with school.app.app_context():
        rows = db.session.scalars(sa.select(AuditEvent).order_by(AuditEvent.id)).all()
        db.session.expunge_all()
    key = school.app.config["AUDIT_KEY"].encode()
    target = rows[1]
    target.details = json.dumps({"rewritten": True})
    prev = target.prev_hash
    with _owner_connection(school) as connection:
        for row in rows[1:]:
            row.prev_hash, row.hash = prev, event_digest(prev, row, key)
            prev = row.hash
            _without_guards(
                connection,
                "audit_events",
                "UPDATE audit_events SET details = :details, prev_hash = :prev, hash = :hash "
                "WHERE id = :id",
                details=row.details,
                prev=row.prev_hash,
                hash=row.hash,
                id=row.id,
            )
    report = _verify(school)
    assert report.first_bad_id is None  # the keyed chain itself holds...
    assert any("does not match the head anchored" in p for p in report.problems)


def test_a_log_begun_before_keying_verifies_once_the_school_says_where_it_ends(school):
    """An instance upgraded to the keyed chain: its first events were plain SHA-256."""
    with school.app.app_context():
        rows = db.session.scalars(sa.select(AuditEvent).order_by(AuditEvent.id)).all()
        db.session.expunge_all()
    legacy = rows[:3]
    prev = legacy[0].prev_hash
    key = school.app.config["AUDIT_KEY"].encode()
    with _owner_connection(school) as connection:
        for row in rows:
            unkeyed = row in legacy
            row.prev_hash = prev
            row.hash = prev = _plain_sha256(prev, row) if unkeyed else event_digest(prev, row, key)
            _without_guards(
                connection, "audit_events",
                "UPDATE audit_events SET prev_hash = :prev, hash = :hash WHERE id = :id",
                prev=row.prev_hash, hash=row.hash, id=row.id,
            )  # fmt: skip
    (school.instance / "audit-heads").unlink()  # heads of the rows as they were before
    unset = _verify(school)
    assert unset.first_bad_id == legacy[0].id and "HAVEN_AUDIT_LEGACY_UNTIL" in unset.problem
    school.app.config["AUDIT_LEGACY_UNTIL"] = legacy[-1].id
    assert _verify(school).intact
    # ...and the unkeyed rows, rewritten and rehashed, cannot be joined to the first keyed one.
    legacy[1].details = "{}"
    prev = legacy[1].prev_hash
    with _owner_connection(school) as connection:
        for row in legacy[1:]:
            row.prev_hash, row.hash = prev, _plain_sha256(prev, row)
            prev = row.hash
            _without_guards(
                connection, "audit_events",
                "UPDATE audit_events SET details = :details, prev_hash = :prev, hash = :hash "
                "WHERE id = :id",
                details=row.details, prev=row.prev_hash, hash=row.hash, id=row.id,
            )  # fmt: skip
    report = _verify(school)
    assert report.first_bad_id == rows[len(legacy)].id and "follow" in report.problem


def test_the_newest_rows_deleted_are_named(school):
    school.record("A second incident.")
    with school.app.app_context():
        newest = db.session.scalar(sa.select(sa.func.max(AuditEvent.id)))
    with _owner_connection(school) as connection:
        _without_guards(
            connection, "audit_events", "DELETE FROM audit_events WHERE id > :id", id=newest - 2
        )
    report = _verify(school)
    assert report.first_bad_id is None  # what is left still links up...
    assert any("cut short" in problem and str(newest) in problem for problem in report.problems)
    result = _cli(school)
    assert result.exit_code == 1 and "cut short" in result.output


def test_a_kept_head_names_a_cut_even_when_the_head_file_went_too(school):
    runner = school.app.test_cli_runner()
    printed = runner.invoke(args=["audit", "head"]).output
    kept = printed.split("verify --head ")[1].strip()
    with school.app.app_context():
        newest = db.session.scalar(sa.select(sa.func.max(AuditEvent.id)))
    with _owner_connection(school) as connection:
        _without_guards(
            connection, "audit_events", "DELETE FROM audit_events WHERE id = :id", id=newest
        )
    (school.instance / "audit-heads").unlink()
    unanchored = _cli(school)
    assert unanchored.exit_code == 0  # with the anchors gone, only the kept head knows...
    assert "no anchored heads" in unanchored.output  # ...and verify says it cannot tell
    result = _cli(school, "--head", kept)
    assert result.exit_code == 1 and "cut short" in result.output, result.output


def test_a_changed_incident_is_named(school):
    number = school.numbers[0]
    with _owner_connection(school) as connection:
        _without_guards(
            connection,
            "incidents",
            "UPDATE incidents SET account = 'Nothing happened.' WHERE number = :number",
            number=number,
        )
    report = _verify(school)
    assert report.first_bad_id is None
    assert any(f"incident #{number} no longer matches" in problem for problem in report.problems)
    assert f"incident #{number}" in _cli(school).output


def test_a_changed_action_is_named(school):
    with _owner_connection(school) as connection:
        _without_guards(connection, "actions", "UPDATE actions SET text = 'Did nothing.'")
    assert any(p.startswith("action ") for p in _verify(school).problems)


def test_a_changed_status_note_is_named(school):
    school.close(school.numbers[0])
    with _owner_connection(school) as connection:
        _without_guards(
            connection, "incident_events", "UPDATE incident_events SET note = 'No reason.'"
        )
    assert any(p.startswith("event ") for p in _verify(school).problems)


def test_an_incident_slipped_in_without_the_application_is_named(school):
    with _owner_connection(school) as connection:
        connection.execute(
            sa.text(
                "INSERT INTO incidents (number, uuid, content_hash, pupil_id, occurred_at, "
                "account, parents_contacted, medical_attention, urgent, author_id, created_at) "
                "SELECT 9999, :uuid, content_hash, pupil_id, occurred_at, 'Forged.', "
                "parents_contacted, medical_attention, urgent, author_id, created_at "
                "FROM incidents WHERE number = :number"
            ),
            {"uuid": secrets.token_hex(18), "number": school.numbers[0]},
        )
    assert any("#9999 has no sealed record" in problem for problem in _verify(school).problems)


# --- SQLite: REPLACE from any client ------------------------------------------------------

SQLITE_ONLY = "REPLACE is SQLite's; PostgreSQL's guard is tested in tests/test_database_roles.py"


@pytest.mark.skipif(ON_POSTGRES, reason=SQLITE_ONLY)
def test_every_append_only_table_refuses_replace_from_a_plain_sqlite3_session(school):
    with school.app.app_context(), db.engine.connect() as connection:
        assert set(append_only_tables(connection)) >= APPEND_ONLY
        guarded = append_only_tables(connection)
    path = make_url(school.database_url).database
    attacker = sqlite3.connect(path)  # as anyone with the file would: no recursive_triggers
    assert attacker.execute("PRAGMA recursive_triggers").fetchone() == (0,)
    before = {table: school.count(table) for table in guarded}
    for table in guarded:
        if not before[table]:
            continue
        for verb in ("REPLACE", "INSERT OR REPLACE"):
            with pytest.raises(sqlite3.DatabaseError, match="append-only"):
                attacker.execute(f"{verb} INTO {table} SELECT * FROM {table}")  # noqa: S608
    attacker.close()
    assert {table: school.count(table) for table in guarded} == before
    assert _verify(school).intact


@pytest.mark.skipif(ON_POSTGRES, reason=SQLITE_ONLY)
def test_replace_cannot_rewrite_an_incident_with_new_content(school):
    path = make_url(school.database_url).database
    attacker = sqlite3.connect(path)
    columns = [row[1] for row in attacker.execute("PRAGMA table_info(incidents)")]
    chosen = ", ".join("'Rewritten.'" if c == "account" else c for c in columns)
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        attacker.execute(f"INSERT OR REPLACE INTO incidents SELECT {chosen} FROM incidents")  # noqa: S608
    attacker.close()
    with school.app.app_context():
        accounts = db.session.scalars(sa.text("SELECT account FROM incidents")).all()
    assert "Rewritten." not in accounts


def test_the_daily_head_is_mailed_to_each_dsl_and_names_no_one(school):
    result = school.app.test_cli_runner().invoke(args=["audit", "head", "--mail"])
    assert result.exit_code == 0, result.output
    assert "mailed to 1 designated safeguarding leads" in result.output
    mails = list((school.instance / "mail").glob("*.eml"))
    assert len(mails) == 1
    message = email.message_from_bytes(mails[0].read_bytes(), policy=email.policy.default)
    assert message["To"] == "dsl@school.example"
    text = message.get_content()
    kept = text.split("verify --head ")[1].split()[0]
    assert _cli(school, "--head", kept).exit_code == 0
    assert "Ada" not in text and "Quill" not in text and "slipped" not in text
