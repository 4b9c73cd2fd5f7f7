"""PostgreSQL: the application runs as a role that owns no table (issue 11, finding 3).

The tables' owner can `ALTER TABLE … DISABLE TRIGGER`, so the append-only guard protects the
records only from a role that does not own them. Migrations run as the owner (here the test
server's superuser) and grant the application's role SELECT and INSERT on records.
"""

import os
import secrets

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from server.audit.operations import verify_all
from server.database import grant_app_role
from server.extensions import db
from tests.conftest import DEFAULT_PASSWORD, HavenClient
from tests.own_database import fresh_school

pytestmark = [
    pytest.mark.own_database,
    pytest.mark.skipif(
        not os.environ.get("DATABASE_URL", "").startswith("postgres"),
        reason="database roles and table ownership are PostgreSQL's; SQLite's guard against "
        "any client is tested in tests/test_integrity.py",
    ),
]


@pytest.fixture
def role_school(tmp_path_factory):
    base = os.environ["DATABASE_URL"].replace("postgresql://", "postgresql+psycopg://", 1)
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    role = f"haven_app_{secrets.token_hex(4)}"
    with admin.connect() as connection:
        connection.execute(sa.text(f"CREATE ROLE {role} LOGIN"))
    try:
        yield from fresh_school(tmp_path_factory, "roles", app_role=role)
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f"DROP ROLE IF EXISTS {role}"))
        admin.dispose()


def _as_app_role(school):
    return sa.create_engine(school.database_url, isolation_level="AUTOCOMMIT").connect()


ATTEMPTS = {
    "disable its guard": "ALTER TABLE {t} DISABLE TRIGGER {t}_no_change",
    "disable every trigger": "ALTER TABLE {t} DISABLE TRIGGER ALL",
    "drop its guard": "DROP TRIGGER {t}_no_change ON {t}",
    "update": "UPDATE {t} SET id = id",
    "delete": "DELETE FROM {t}",
    "truncate": "TRUNCATE {t} CASCADE",
}


@pytest.mark.parametrize("table", ["incidents", "actions", "audit_events", "incident_files"])
@pytest.mark.parametrize("attempt", sorted(ATTEMPTS))
def test_the_app_role_cannot_change_records_or_their_guards(role_school, table, attempt):
    before = role_school.count(table)
    with _as_app_role(role_school) as connection, pytest.raises(sa.exc.ProgrammingError) as no:
        connection.execute(sa.text(ATTEMPTS[attempt].format(t=table)))
    # UPDATE of incidents, actions and files reaches their trigger, which lets through only
    # the blanking of an approved disposal (migration 0012_retention).
    refusals = ("must be owner", "permission denied", "is append-only")
    assert any(refusal in str(no.value) for refusal in refusals)
    assert role_school.count(table) == before


def test_the_app_role_still_runs_the_school(role_school):
    with role_school.app.app_context():
        assert make_url(str(db.engine.url)).username.startswith("haven_app_")
    role_school.app.test_client_class = HavenClient
    client = role_school.app.test_client()
    signed_in = client.post(
        "/auth/sign-in", data={"email": "staff@school.example", "password": DEFAULT_PASSWORD}
    )
    assert signed_in.status_code == 302  # users and sessions updated as the app role
    number = role_school.record("Recorded by the application's own role.")
    role_school.add_action(number)
    role_school.close(number)
    assert role_school.count("incidents") == 2
    with role_school.app.app_context():
        assert verify_all().intact


def test_granting_refuses_a_role_that_owns_the_tables(role_school):
    owner = role_school.app.config["MIGRATION_DATABASE_URL"]
    engine = sa.create_engine(owner)
    with engine.begin() as connection, pytest.raises(RuntimeError, match="owns"):
        grant_app_role(connection, make_url(owner).username)
    engine.dispose()


def test_the_grant_command_reapplies_the_grants(role_school):
    result = role_school.app.test_cli_runner().invoke(args=["database", "grant-app-role"])
    assert result.exit_code == 0, result.output
    assert "Granted haven_app_" in result.output


def test_the_app_role_may_only_blank_imported_records(role_school):
    """Imported records (0011_transfer) are blanked on disposal like this school's own
    (0012_retention): the role may ask for an UPDATE, which their trigger refuses unless it is
    that blanking; DELETE and TRUNCATE are refused."""
    owner = sa.create_engine(role_school.app.config["MIGRATION_DATABASE_URL"])
    with owner.begin() as connection:
        pupil = connection.execute(sa.text("SELECT id FROM pupils LIMIT 1")).scalar()
        transfer = connection.execute(
            sa.text(
                "INSERT INTO incoming_transfers (package_id, package_sha256, sender_name, "
                "sender_urn, sender_fingerprint, sender_endpoint, package_created_at, "
                "received_at, received_via, stored_name, status, pupil_id, receipt_error) "
                "VALUES ('p1', :h, 'Brookside', '', :f, '', '2026-01-01', now(), 'upload', "
                "'s1', 'imported', :pupil, '') RETURNING id"
            ),
            {"h": "1" * 64, "f": "F" * 40, "pupil": pupil},
        ).scalar()
        connection.execute(
            sa.text(
                "INSERT INTO imported_incidents (incoming_transfer_id, pupil_id, source_uuid, "
                "source_number, occurred_at, sensitive, content, imported_at) "
                "VALUES (:t, :pupil, 'u1', 1, now(), false, '{}', now())"
            ),
            {"t": transfer, "pupil": pupil},
        )
        connection.execute(
            sa.text(
                "INSERT INTO imported_files (incoming_transfer_id, kind, original_name, "
                "content_type, size, sha256, stored_name, imported_at) "
                "VALUES (:t, 'chronology', 'c.pdf', 'application/pdf', 1, :h, 's2', now())"
            ),
            {"t": transfer, "h": "1" * 64},
        )
    owner.dispose()
    for table in ("imported_incidents", "imported_files"):
        for attempt in ("update", "delete", "truncate", "disable its guard"):
            with (
                _as_app_role(role_school) as connection,
                pytest.raises(sa.exc.ProgrammingError) as no,
            ):
                connection.execute(sa.text(ATTEMPTS[attempt].format(t=table)))
            # The UPDATE is granted, so it is the trigger that refuses it.
            refusals = (
                ("is append-only",)
                if attempt == "update"
                else ("must be owner", "permission denied", "is append-only")
            )
            assert any(refusal in str(no.value) for refusal in refusals), (table, attempt)
            assert role_school.count(table) == 1
