"""`flask files rekey`: give every file written before per-file keys a data key of its own.

Files written since migration 0012_retention each have their own key, destroyed when their
records are disposed of. Older files are under the master file key, which cannot be destroyed
without losing every file: rekeying them once means a backup taken afterwards holds no file
that outlives its disposal. Copies made before the rekey stay readable under the master key.
"""

import click
from flask.cli import AppGroup
from sqlalchemy import select

from server.audit.operations import record
from server.extensions import db
from server.incidents import files
from server.incidents.models import IncidentFile

files_cli = AppGroup("files", help="Attached files.")


@files_cli.command("rekey")
def rekey_command():
    """Re-encrypt files still under the master key with keys of their own."""
    from server.transfer.models import ImportedFile, IncomingTransfer, OutgoingTransfer

    names = list(db.session.scalars(select(IncidentFile.stored_name).order_by(IncidentFile.id)))
    # Records imported from other schools and transfer packages kept here hold the same content.
    names += db.session.scalars(select(ImportedFile.stored_name).order_by(ImportedFile.id))
    names += db.session.scalars(select(IncomingTransfer.stored_name).order_by(IncomingTransfer.id))
    names += db.session.scalars(
        select(OutgoingTransfer.stored_name)
        .where(OutgoingTransfer.stored_name.is_not(None))
        .order_by(OutgoingTransfer.id)
    )
    rewritten = files.rekey_legacy(names)
    record("files.rekeyed", details={"files": rewritten})
    db.session.commit()
    kept = len(names) - rewritten
    click.echo(f"{rewritten} files given keys of their own; {kept} already had one.")
