"""`flask backup restore`: rebuild a fresh instance (database, uploads, audit anchors).

Nothing is restored until the whole archive has decrypted (which proves it whole and
unchanged) and every part matches the manifest's SHA-256. The instance restored into must be
empty: no tables, no uploads, no anchored heads. It must be configured with the exported
secrets (`flask backup export-secrets`), or its files will not decrypt and its audit chain
will not verify.
"""

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from pathlib import Path

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.engine import make_url

from server.audit.anchors import head_file
from server.audit.operations import record
from server.backup.archive import (
    ANCHORS_MEMBER,
    DATABASE_MEMBER,
    FORMAT,
    MANIFEST,
    BackupError,
    Manifest,
    libpq_command_env,
    owner_url,
)
from server.backup.crypto import BackupRefused, decrypt_stream, load_private_key
from server.database import app_role, grant_app_role
from server.extensions import db


def restore_backup(archive: Path, private_key_pem: bytes, passphrase: bytes | None = None):
    """Restore `archive` into this (empty) instance; returns the archive's Manifest."""
    private_key = load_private_key(private_key_pem, passphrase)
    _require_empty_instance()
    with tempfile.TemporaryDirectory(prefix="haven-restore-") as work:
        work = Path(work)
        plain = work / "archive.tar"
        with open(archive, "rb") as sealed, open(plain, "wb") as out:
            for chunk in decrypt_stream(sealed, private_key):
                out.write(chunk)
        manifest, parts = _unpack(plain, work / "parts")
        _restore_database(manifest, parts[DATABASE_MEMBER[manifest.dialect]])
        _restore_uploads(parts)
        _restore_anchors(parts[ANCHORS_MEMBER])
    _check_counts(manifest)
    record(
        "backup.restored",
        object_type="backup",
        details={"created_at": manifest.created_at, "audit_head": manifest.audit_head},
    )
    db.session.commit()
    return manifest


def _unpack(plain: Path, folder: Path) -> tuple[Manifest, dict[str, Path]]:
    folder.mkdir()
    with tarfile.open(plain, "r") as tar:
        members = {member.name: member for member in tar.getmembers()}
        if MANIFEST not in members:
            raise BackupRefused("The archive has no manifest.")
        manifest = Manifest(**json.loads(tar.extractfile(members[MANIFEST]).read()))
        if manifest.format != FORMAT or manifest.dialect not in DATABASE_MEMBER:
            raise BackupRefused("The archive is of a format this Haven cannot restore.")
        if set(members) - {MANIFEST} != set(manifest.members):
            raise BackupRefused("The archive's parts are not those its manifest lists.")
        parts = {}
        for name, expected in manifest.members.items():
            member = members[name]
            if not member.isfile():
                raise BackupRefused(f"The archive's part {name} is not a file.")
            # Written under a name of our own: names in the archive never become paths.
            path = folder / hashlib.sha256(name.encode()).hexdigest()
            digest = hashlib.sha256()
            with tar.extractfile(member) as source, open(path, "wb") as out:
                for block in iter(lambda s=source: s.read(1024 * 1024), b""):
                    digest.update(block)
                    out.write(block)
            if digest.hexdigest() != expected:
                raise BackupRefused(f"The archive's part {name} does not match its manifest.")
            parts[name] = path
    return manifest, parts


def _require_empty_instance() -> None:
    with db.engine.connect() as connection:
        tables = sa.inspect(connection).get_table_names()
    if tables:
        raise BackupError("The database restored into must be empty: it already has tables.")
    uploads = Path(current_app.config["UPLOAD_DIR"])
    if uploads.exists() and any(uploads.iterdir()):
        raise BackupError(f"The upload folder restored into must be empty: {uploads}")
    anchored = head_file()
    if anchored and anchored.exists() and anchored.stat().st_size:
        raise BackupError(f"The audit head file restored into must be empty: {anchored}")


def _restore_database(manifest: Manifest, dump: Path) -> None:
    dialect = db.engine.dialect.name
    if dialect != manifest.dialect:
        raise BackupError(
            f"This archive holds a {manifest.dialect} database; this instance uses {dialect}."
        )
    db.session.remove()
    db.engine.dispose()
    if dialect == "sqlite":
        source = sqlite3.connect(dump)
        target = sqlite3.connect(make_url(current_app.config["SQLALCHEMY_DATABASE_URI"]).database)
        try:
            source.backup(target)
        finally:
            target.close()
            source.close()
        return
    target, env = libpq_command_env(owner_url())
    done = subprocess.run(  # noqa: S603
        ["pg_restore", "--no-owner", "--no-privileges", "--exit-on-error",  # noqa: S607
         f"--dbname={target}", str(dump)],
        env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise BackupError(f"pg_restore failed: {done.stderr.strip()}")
    role = app_role(current_app.config)
    if role:
        engine = sa.create_engine(owner_url())
        try:
            with engine.begin() as connection:
                grant_app_role(connection, role)
        finally:
            engine.dispose()


def _restore_uploads(parts: dict[str, Path]) -> None:
    folder = Path(current_app.config["UPLOAD_DIR"])
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    for name, path in parts.items():
        if not name.startswith("uploads/"):
            continue
        stored_name = name.removeprefix("uploads/")
        if not (len(stored_name) == 32 and all(c in "0123456789abcdef" for c in stored_name)):
            raise BackupRefused(f"The archive names an upload oddly: {name}")
        shutil.copyfile(path, folder / stored_name)
        os.chmod(folder / stored_name, 0o600)


def _restore_anchors(path: Path) -> None:
    anchored = head_file()
    if anchored is None:
        return
    anchored.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(path, anchored)
    os.chmod(anchored, 0o600)


def _check_counts(manifest: Manifest) -> None:
    with db.engine.connect() as connection:
        for table, expected in manifest.counts.items():
            found = connection.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar()  # noqa: S608
            if found != expected:
                raise BackupError(
                    f"After restoring, {table} has {found} rows where the archive had {expected}."
                )
