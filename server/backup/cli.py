"""`flask backup keys | create | restore | export-secrets`."""

import os
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from server.backup.archive import BackupError, create_backup
from server.backup.crypto import BackupRefused, new_key_pair
from server.backup.restore import restore_backup
from server.clock import utcnow

backup_cli = AppGroup("backup", help="Encrypted backups, and restoring them.")


def _write_private(path: Path, data: bytes) -> None:
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)


def _passphrase(variable: str = "HAVEN_BACKUP_PASSPHRASE") -> bytes | None:
    value = os.environ.get(variable, "")
    return value.encode() if value else None


@backup_cli.command("keys")
@click.option("--out", "folder", type=click.Path(path_type=Path), required=True)
def keys_command(folder: Path):
    """Make the backup key pair: the public key for the server, the private one to keep away
    from it (with HAVEN_BACKUP_PASSPHRASE set, the private key is encrypted under it)."""
    folder.mkdir(parents=True, exist_ok=True)
    private_pem, public_pem = new_key_pair(_passphrase())
    _write_private(folder / "haven-backup-private.pem", private_pem)
    (folder / "haven-backup-public.pem").write_bytes(public_pem)
    click.echo(
        f"Wrote {folder / 'haven-backup-public.pem'} (set HAVEN_BACKUP_PUBLIC_KEY to it) and "
        f"{folder / 'haven-backup-private.pem'}: move the private key off this server now."
    )


@backup_cli.command("create")
@click.option("--out", "target", type=click.Path(path_type=Path), default=None)
def create_command(target: Path | None):
    """Write one consistent, encrypted archive while the school keeps working."""
    key_path = current_app.config.get("BACKUP_PUBLIC_KEY")
    if not key_path:
        raise click.UsageError("Set HAVEN_BACKUP_PUBLIC_KEY (see `flask backup keys`).")
    stamp = utcnow().strftime("%Y%m%dT%H%M%SZ")
    target = target or Path(current_app.instance_path) / "backups" / f"haven-{stamp}.havenbackup"
    try:
        manifest = create_backup(target, Path(key_path).read_bytes())
    except (BackupError, BackupRefused, OSError) as error:
        raise click.ClickException(str(error)) from None
    files = sum(1 for name in manifest.members if name.startswith("uploads/"))
    click.echo(
        f"Backup written to {target}: {manifest.counts.get('incidents', 0)} incidents, "
        f"{files} files, audit head {manifest.audit_head[0] if manifest.audit_head else 'none'}."
    )


@backup_cli.command("restore")
@click.argument("archive", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--private-key", type=click.Path(exists=True, path_type=Path), required=True)
def restore_command(archive: Path, private_key: Path):
    """Rebuild this empty instance (database, uploads, audit anchors) from ARCHIVE."""
    try:
        manifest = restore_backup(archive, private_key.read_bytes(), _passphrase())
    except (BackupError, BackupRefused) as error:
        raise click.ClickException(f"Not restored: {error}") from None
    click.echo(
        f"Restored the backup of {manifest.created_at}: "
        f"{manifest.counts.get('incidents', 0)} incidents. "
        "Now run `flask audit verify`."
    )


SECRETS = (
    ("SECRET_KEY", "SECRET_KEY"),
    ("HAVEN_FILE_KEY", "FILE_ENCRYPTION_KEY"),
    ("HAVEN_AUDIT_KEY", "AUDIT_KEY"),
    ("HAVEN_DEVICE_KEY", "DEVICE_KEY"),
)


@backup_cli.command("export-secrets")
@click.option("--out", "target", type=click.Path(path_type=Path), required=True)
def export_secrets_command(target: Path):
    """Write the keys a restored instance needs, as environment lines, to keep apart from
    the archives (a safe, a password manager): an archive alone reveals nothing."""
    config = current_app.config
    lines = ["# Haven secrets: keep these apart from the backups, never beside them."]
    for variable, key in SECRETS:
        # Files are encrypted under SECRET_KEY when no file key was ever set: export that.
        fallback = key in {"FILE_ENCRYPTION_KEY", "DEVICE_KEY"}
        value = config.get(key) or (config["SECRET_KEY"] if fallback else "")
        lines.append(f"{variable}={value}")
    # The key devices seal offline incidents to (server/offline/sealing.py): entries still
    # waiting on devices open only with it.
    from server.offline.sealing import sealing_key_pem

    lines.append("# HAVEN_SEALING_KEY_FILE must hold this key, for incidents waiting on devices:")
    lines.extend(f"# {line}" for line in sealing_key_pem().decode().splitlines())
    # The school's transfer key pair (server/transfer/keys.py): packages on their way here open
    # only with it, and other schools have checked its fingerprint.
    from server.transfer.keys import key_path, read_or_create

    lines.append("# HAVEN_TRANSFER_KEY_FILE must hold this, for pupils' files sent to this school:")
    lines.append(f"# {read_or_create(key_path()).decode()}")
    try:
        _write_private(target, ("\n".join(lines) + "\n").encode())
    except FileExistsError:
        raise click.ClickException(f"{target} exists already: choose a new name.") from None
    click.echo(f"Secrets written to {target} (readable by you alone). Move it off this server.")
