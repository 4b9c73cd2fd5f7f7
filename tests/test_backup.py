"""Backup and restore (issue 11): one consistent, encrypted archive taken while staff keep
recording, restored into a fresh database and upload folder with every record, every file
and the audit chain intact; a changed or cut archive is refused and restores nothing.
"""

import hashlib
import threading
from pathlib import Path

import pytest
import sqlalchemy as sa

from server import create_app
from server.audit.models import AuditEvent
from server.audit.operations import verify_all
from server.backup.crypto import CHUNK, BackupRefused, new_key_pair
from server.backup.restore import restore_backup
from server.config import TestConfig
from server.extensions import db
from server.incidents import files as file_store
from server.incidents.files import Upload
from server.incidents.models import IncidentFile
from tests.conftest import make_database_url
from tests.own_database import fresh_school

pytestmark = pytest.mark.own_database


@pytest.fixture
def school(tmp_path_factory):
    yield from fresh_school(tmp_path_factory, "backup")


@pytest.fixture
def backup_keys(tmp_path) -> tuple[Path, Path]:
    private_pem, public_pem = new_key_pair()
    (tmp_path / "private.pem").write_bytes(private_pem)
    (tmp_path / "public.pem").write_bytes(public_pem)
    return tmp_path / "private.pem", tmp_path / "public.pem"


@pytest.fixture
def fresh_instance(tmp_path_factory):
    """An empty instance with the school's secrets: a new database and upload folder."""
    database = make_database_url(tmp_path_factory, "restored-db")
    instance = tmp_path_factory.mktemp("restored-instance")
    app = create_app(
        TestConfig,
        SQLALCHEMY_DATABASE_URI=next(database),
        UPLOAD_DIR=instance / "uploads",
        AUDIT_HEAD_FILE=str(instance / "audit-heads"),
        MAIL_DEV_DIR=instance / "mail",
    )
    app.instance_path = str(instance)
    try:
        yield app
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
        database.close()


class KeepRecording(threading.Thread):
    """Staff recording incidents, each with a file, for as long as the backup runs."""

    def __init__(self, school):
        super().__init__(daemon=True)
        self.school, self.stop, self.recorded, self.error = school, threading.Event(), 0, None
        self.first = threading.Event()

    def run(self):
        try:
            while not self.stop.is_set():
                note = f"Note {self.recorded} written during the backup.\n".encode()
                self.school.record(f"Recorded during the backup ({self.recorded}).",
                                   files=[Upload("note.txt", note)])  # fmt: skip
                self.recorded += 1
                self.first.set()
        except Exception as error:  # noqa: BLE001 - reported by the test, not swallowed
            self.error = error
            self.first.set()


def _back_up(school, public_key: Path, target: Path):
    school.app.config["BACKUP_PUBLIC_KEY"] = str(public_key)
    result = school.app.test_cli_runner().invoke(args=["backup", "create", "--out", str(target)])
    assert result.exit_code == 0, result.output
    return result


def _restore(app, archive: Path, private_key: Path):
    return app.test_cli_runner().invoke(
        args=["backup", "restore", str(archive), "--private-key", str(private_key)]
    )


def test_backup_while_recording_then_restore_into_a_fresh_instance(
    school, backup_keys, fresh_instance, tmp_path
):
    private_key, public_key = backup_keys
    school.close(school.numbers[0])
    staff = KeepRecording(school)
    staff.start()
    assert staff.first.wait(30) and staff.error is None
    before = school.count("incidents")
    archive = tmp_path / "school.havenbackup"
    _back_up(school, public_key, archive)
    staff.stop.set()
    staff.join(60)
    assert staff.error is None and staff.recorded >= 1

    restored = _restore(fresh_instance, archive, private_key)
    assert restored.exit_code == 0, restored.output

    with fresh_instance.app_context():
        count = db.session.scalar(sa.text("SELECT count(*) FROM incidents"))
        assert before <= count <= school.count("incidents")
        stored = db.session.scalars(sa.select(IncidentFile)).all()
        assert len(stored) == count  # every incident here carries one file
        for row in stored:
            assert hashlib.sha256(file_store.load(row.stored_name)).hexdigest() == row.sha256
        report = verify_all()
        assert report.intact, report.problems
        assert report.sealed >= count and report.anchors_checked >= 1
        restored_events = db.session.scalars(
            sa.select(AuditEvent.action).order_by(AuditEvent.id)
        ).all()
        assert restored_events[-1] == "backup.restored"
    with school.app.app_context():
        assert db.session.scalar(
            sa.select(AuditEvent.id).where(AuditEvent.action == "backup.created")
        )
    verified = fresh_instance.test_cli_runner().invoke(args=["audit", "verify"])
    assert verified.exit_code == 0 and "Audit chain intact" in verified.output


def test_the_restored_school_carries_on(school, backup_keys, fresh_instance, tmp_path):
    private_key, public_key = backup_keys
    archive = tmp_path / "school.havenbackup"
    _back_up(school, public_key, archive)
    assert _restore(fresh_instance, archive, private_key).exit_code == 0
    school.app = fresh_instance  # the same people, recording in the restored instance
    school.record("Recorded after the restore.")
    with fresh_instance.app_context():
        assert verify_all().intact


def _damaged(archive: Path, how: str) -> Path:
    data = bytearray(archive.read_bytes())
    if how == "a byte changed":
        data[len(data) // 2] ^= 0x01
    elif how == "cut short":
        data = data[: len(data) - 100]
    elif how == "last part dropped":
        data = data[: 56 + CHUNK + 16]
    elif how == "part appended":
        data += data[56 : 56 + 200]
    damaged = archive.with_name(f"{how.replace(' ', '-')}.havenbackup")
    damaged.write_bytes(bytes(data))
    return damaged


@pytest.mark.parametrize(
    "how", ["a byte changed", "cut short", "last part dropped", "part appended"]
)
def test_a_changed_or_truncated_archive_is_refused_and_restores_nothing(
    school, backup_keys, fresh_instance, tmp_path, how
):
    private_key, public_key = backup_keys
    big = Upload("scan.txt", b"x" * (CHUNK + 4096))  # the archive spans several parts
    school.record("With a large scan.", files=[big])
    archive = tmp_path / "school.havenbackup"
    _back_up(school, public_key, archive)
    result = _restore(fresh_instance, _damaged(archive, how), private_key)
    assert result.exit_code != 0
    assert "Not restored" in result.output
    with fresh_instance.app_context(), db.engine.connect() as connection:
        assert sa.inspect(connection).get_table_names() == []
    assert not (Path(fresh_instance.instance_path) / "uploads").exists()


def test_another_key_cannot_open_the_archive(school, backup_keys, fresh_instance, tmp_path):
    _, public_key = backup_keys
    archive = tmp_path / "school.havenbackup"
    _back_up(school, public_key, archive)
    stranger, _ = new_key_pair()
    with fresh_instance.app_context(), pytest.raises(BackupRefused):
        restore_backup(archive, stranger)


def test_the_archive_does_not_hold_the_records_in_the_clear(school, backup_keys, tmp_path):
    _, public_key = backup_keys
    archive = tmp_path / "school.havenbackup"
    _back_up(school, public_key, archive)
    data = archive.read_bytes()
    assert b"slipped on the steps" not in data and b"incidents" not in data


def test_restoring_refuses_an_instance_that_is_not_empty(school, backup_keys, tmp_path):
    private_key, public_key = backup_keys
    archive = tmp_path / "school.havenbackup"
    _back_up(school, public_key, archive)
    result = _restore(school.app, archive, private_key)
    assert result.exit_code != 0 and "must be empty" in result.output


def test_secrets_are_exported_apart(school, tmp_path):
    target = tmp_path / "haven-secrets.env"
    result = school.app.test_cli_runner().invoke(
        args=["backup", "export-secrets", "--out", str(target)]
    )
    assert result.exit_code == 0, result.output
    lines = dict(
        line.split("=", 1) for line in target.read_text().splitlines() if "=" in line
    )
    assert lines["HAVEN_AUDIT_KEY"] == TestConfig.AUDIT_KEY
    assert lines["SECRET_KEY"] == TestConfig.SECRET_KEY and lines["HAVEN_FILE_KEY"]
    assert target.stat().st_mode & 0o077 == 0
    # The transfer key pair, as its file holds it: packages on their way open only with it.
    kept = (Path(school.instance) / "transfer_key.json").read_text()
    assert f"# {kept}" in target.read_text().splitlines()


def test_backup_keys_command_writes_a_private_key_only_its_owner_reads(school, tmp_path):
    result = school.app.test_cli_runner().invoke(
        args=["backup", "keys", "--out", str(tmp_path / "keys")]
    )
    assert result.exit_code == 0, result.output
    private = tmp_path / "keys" / "haven-backup-private.pem"
    assert private.stat().st_mode & 0o077 == 0
    assert (tmp_path / "keys" / "haven-backup-public.pem").read_bytes().startswith(b"-----")
