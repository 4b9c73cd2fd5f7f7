"""`flask backup create`: one consistent archive, taken while the school keeps working.

The database is copied as of one moment (SQLite's online backup API; `pg_dump` from a
snapshot exported by a REPEATABLE READ transaction). What that copy refers to is then taken
alongside: the encrypted uploads its incidents name (files are never changed or removed, so
later copying is safe) and the audit heads anchored up to its newest event. A manifest lists
every part's SHA-256; the whole is encrypted to the backup public key.
"""

import hashlib
import io
import json
import os
import sqlite3
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.engine import make_url

from server.audit import anchors
from server.audit.operations import record
from server.backup.crypto import encrypt_stream, load_public_key
from server.clock import utcnow
from server.extensions import db

FORMAT = 1
MANIFEST = "manifest.json"
DATABASE_MEMBER = {"sqlite": "database.sqlite3", "postgresql": "database.pgdump"}
ANCHORS_MEMBER = "audit-heads"


class BackupError(Exception):
    """The backup could not be made; nothing was written where the archive was to go."""


@dataclass
class Snapshot:
    dialect: str
    path: Path
    stored_names: list[str]
    audit_head: tuple[int, str] | None
    counts: dict[str, int]
    revision: str | None


@dataclass
class Manifest:
    created_at: str
    dialect: str
    revision: str | None
    counts: dict[str, int]
    audit_head: list | None
    members: dict[str, str] = field(default_factory=dict)
    format: int = FORMAT

    def to_json(self) -> bytes:
        return json.dumps(vars(self), sort_keys=True, indent=1).encode()


def create_backup(target: Path, public_key_pem: bytes) -> Manifest:
    """Write the encrypted archive to `target` (atomically: complete or not there at all)."""
    public_key = load_public_key(public_key_pem)
    target = Path(target)
    with tempfile.TemporaryDirectory(prefix="haven-backup-") as work:
        snapshot = snapshot_database(Path(work))
        parts = {DATABASE_MEMBER[snapshot.dialect]: snapshot.path}
        parts.update(_uploads(snapshot.stored_names))
        parts[ANCHORS_MEMBER] = _anchors_up_to(snapshot.audit_head, Path(work) / ANCHORS_MEMBER)
        manifest = Manifest(
            created_at=utcnow().isoformat(timespec="seconds"),
            dialect=snapshot.dialect,
            revision=snapshot.revision,
            counts=snapshot.counts,
            audit_head=list(snapshot.audit_head) if snapshot.audit_head else None,
            members={name: _sha256(path) for name, path in parts.items()},
        )
        plain = Path(work) / "archive.tar"
        with tarfile.open(plain, "w") as tar:
            _add_bytes(tar, MANIFEST, manifest.to_json())
            for name, path in parts.items():
                tar.add(path, arcname=name, recursive=False)
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(target.name + ".partial")
        with open(plain, "rb") as source, open(partial, "wb") as sealed:
            encrypt_stream(source, sealed, public_key)
        partial.chmod(0o600)
        os.replace(partial, target)
    # A backup is an export of every record: audited like any other.
    record(
        "backup.created",
        object_type="backup",
        object_id=target.name,
        details={"audit_head": manifest.audit_head, "counts": manifest.counts},
    )
    db.session.commit()
    return manifest


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1024 * 1024), b""):
            digest.update(block)
    return digest.hexdigest()


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = int(utcnow().timestamp())
    tar.addfile(info, io.BytesIO(data))


def _uploads(stored_names: list[str]) -> dict[str, Path]:
    folder = Path(current_app.config["UPLOAD_DIR"])
    missing = [name for name in stored_names if not (folder / name).is_file()]
    if missing:
        raise BackupError(
            f"{len(missing)} uploaded files the database names are not in {folder} "
            f"(first: {missing[0]}): no backup was written. Find them before backing up."
        )
    return {f"uploads/{name}": folder / name for name in stored_names}


def _anchors_up_to(head: tuple[int, str] | None, path: Path) -> Path:
    """The anchored heads the copied database has reached (later ones belong to commits the
    copy does not hold, and would make the restored log look cut short)."""
    newest = head[0] if head else 0
    lines = [
        f"{when} {event_id} {digest}\n"
        for event_id, digest, when in anchors.read_heads()
        if event_id <= newest
    ]
    path.write_text("".join(lines), encoding="ascii")
    return path


# --- A consistent copy of the database ---------------------------------------------------

_SNAPSHOT_QUERIES = {
    # Files of disposed records are gone from disk, their keys destroyed (server.retention).
    "stored_names": (
        "SELECT f.stored_name FROM incident_files f WHERE NOT EXISTS "
        "(SELECT 1 FROM disposal_tombstones t WHERE t.incident_id = f.incident_id) "
        "ORDER BY f.id"
    ),
    "audit_head": "SELECT id, hash FROM audit_events ORDER BY id DESC LIMIT 1",
    "revision": "SELECT version_num FROM alembic_version ORDER BY version_num",
}


def snapshot_database(work: Path) -> Snapshot:
    dialect = db.engine.dialect.name
    if dialect == "sqlite":
        return _snapshot_sqlite(work / DATABASE_MEMBER["sqlite"])
    if dialect == "postgresql":
        return _snapshot_postgresql(work / DATABASE_MEMBER["postgresql"])
    raise BackupError(f"No backup for the {dialect} database.")


def _snapshot_sqlite(path: Path) -> Snapshot:
    source = sqlite3.connect(make_url(current_app.config["SQLALCHEMY_DATABASE_URI"]).database)
    copy = sqlite3.connect(path)
    try:
        source.execute("PRAGMA busy_timeout = 30000")
        # One step (pages=-1): the copy is the database as of a single moment, even while
        # other connections keep committing (WAL lets them).
        source.backup(copy, pages=-1)
        copy.execute("PRAGMA journal_mode = DELETE")
        return _describe("sqlite", path, lambda sql: copy.execute(sql).fetchall())
    finally:
        copy.close()
        source.close()


def _describe(dialect: str, path: Path, query) -> Snapshot:
    tables = _tables(dialect, query)
    head = query(_SNAPSHOT_QUERIES["audit_head"])
    return Snapshot(
        dialect=dialect,
        path=path,
        stored_names=[row[0] for row in query(_SNAPSHOT_QUERIES["stored_names"])],
        audit_head=(head[0][0], head[0][1]) if head else None,
        counts={t: query(f"SELECT count(*) FROM {t}")[0][0] for t in tables},  # noqa: S608
        revision=",".join(row[0] for row in query(_SNAPSHOT_QUERIES["revision"])) or None,
    )


def _tables(dialect: str, query) -> list[str]:
    if dialect == "sqlite":
        sql = "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
    else:
        sql = "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
    return sorted(row[0] for row in query(sql))


def owner_url() -> str:
    """The tables' owner when migrations run as another role, else the app's own URL."""
    return (
        current_app.config.get("MIGRATION_DATABASE_URL")
        or current_app.config["SQLALCHEMY_DATABASE_URI"]
    )


def libpq_command_env(url: str) -> tuple[str, dict[str, str]]:
    """A libpq connection string without the password, and an environment carrying it (so
    the password never shows in the process list)."""
    parsed = make_url(url)
    env = dict(os.environ)
    if parsed.password:
        env["PGPASSWORD"] = parsed.password
    plain = parsed.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), env


def _snapshot_postgresql(path: Path) -> Snapshot:
    engine = sa.create_engine(owner_url(), isolation_level="REPEATABLE READ")
    try:
        with engine.connect() as connection, connection.begin():
            exported = connection.execute(sa.text("SELECT pg_export_snapshot()")).scalar()
            target, env = libpq_command_env(owner_url())
            # pg_dump reads the very snapshot this transaction holds open.
            done = subprocess.run(  # noqa: S603
                ["pg_dump", "--format=custom", "--no-owner", "--no-privileges",  # noqa: S607
                 f"--snapshot={exported}", f"--file={path}", target],
                env=env, capture_output=True, text=True, check=False,
            )  # fmt: skip
            if done.returncode != 0:
                raise BackupError(f"pg_dump failed: {done.stderr.strip()}")
            return _describe(
                "postgresql", path, lambda sql: connection.execute(sa.text(sql)).all()
            )
    finally:
        engine.dispose()
