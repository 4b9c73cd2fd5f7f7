"""Incidents and everything appended to them cannot be changed or removed, by anyone: the
database refuses raw UPDATE, DELETE (and, in PostgreSQL, TRUNCATE) on every table (SPEC §2, §3).
"""

from types import SimpleNamespace

import pytest
import sqlalchemy as sa
from flask import g

from server.auth.models import User
from server.clock import utcnow
from server.extensions import db
from server.incidents.files import Upload
from server.incidents.operations import (
    add_action,
    change_status,
    correct_incident,
    incident_by_number,
)

TABLES = {
    "incidents": "account = 'rewritten'",
    "incident_pupils": "pupil_id = pupil_id",
    "incident_categories": "category_id = category_id",
    "incident_agencies": "agency_id = agency_id",
    "incident_body_marks": "note = 'rewritten'",
    "incident_files": "original_name = 'rewritten.pdf'",
    "actions": "text = 'rewritten'",
    "incident_events": "note = 'rewritten'",
    "incident_event_categories": "category_id = category_id",
}


@pytest.fixture
def full_incident(app, school, record_incident) -> int:
    """An incident with a row in every one of its tables."""
    number = record_incident(
        school.staff,
        school.ada,
        categories=["Cause for concern – Safeguarding disclosure"],
        linked_pupil_ids=[school.ben],
        agency_ids=[school.vocabulary["Police"]],
        body_marks=[{"side": "front", "x": 0.5, "y": 0.5, "kind": "bruise", "note": "Cheek"}],
        extra_recipient_ids=[school.dsl.id],
        files=[Upload("note.txt", b"Plain notes.\n")],
    )
    with app.test_request_context():
        g.user_session = SimpleNamespace(
            last_assertion_at=utcnow(), stepped_up_at=None, review_active_at=None
        )
        incident = incident_by_number(number)
        add_action(db.session.get(User, school.teacher.id), incident, "Spoke to Ada.")
        change_status(db.session.get(User, school.slt.id), incident, "closed", "Done.")
        correct_incident(
            db.session.get(User, school.dsl.id),
            incident,
            "recategorised",
            "Neglect.",
            [school.vocabulary["Safeguarding – Neglect"]],
        )
        db.session.commit()
    return number


def _refused(app, statement: str) -> str:
    with app.app_context():
        with pytest.raises(sa.exc.DBAPIError) as refused, db.session.begin_nested():
            db.session.execute(sa.text(statement))
        return str(refused.value)


def _count(app, table: str) -> int:
    with app.app_context():
        return db.session.scalar(sa.text(f"SELECT count(*) FROM {table}"))  # noqa: S608


@pytest.mark.parametrize("table", sorted(TABLES))
def test_raw_update_is_refused(app, full_incident, table):
    assert _count(app, table) >= 1
    message = _refused(app, f"UPDATE {table} SET {TABLES[table]}")  # noqa: S608
    assert "append-only" in message


@pytest.mark.parametrize("table", sorted(TABLES))
def test_raw_delete_is_refused(app, full_incident, table):
    before = _count(app, table)
    message = _refused(app, f"DELETE FROM {table}")  # noqa: S608
    assert "append-only" in message
    assert _count(app, table) == before


@pytest.mark.parametrize("table", sorted(TABLES))
def test_emptying_the_table_at_once_is_refused(app, full_incident, table):
    """PostgreSQL's TRUNCATE skips row triggers; SQLite's equivalent is an unqualified DELETE,
    whose "truncate optimisation" SQLite turns off when the table has triggers."""
    with app.app_context():
        dialect = db.engine.dialect.name
    statement = f"TRUNCATE {table} CASCADE" if dialect == "postgresql" else f"DELETE FROM {table}"
    before = _count(app, table)
    assert "append-only" in _refused(app, statement)
    assert _count(app, table) == before


def test_the_record_reads_the_same_after_the_attempts(app, full_incident):
    with app.app_context():
        _refused(app, "UPDATE incidents SET account = 'rewritten'")
        incident = incident_by_number(full_incident)
        assert incident.account.startswith("Said:")
