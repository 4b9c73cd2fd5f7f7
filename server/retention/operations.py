"""Review, legal holds and two-person disposal of a pupil's records (SPEC §8).

A disposal is proposed by a DSL (with the reason) as an `access_requests` row of kind
"disposal" and approved by someone else, a DSL or SLT, as its `access_decisions` row: the same
two facts the other two-person decisions use (server.approvals). The database's guard on the
records checks those rows itself before it lets the content be blanked (migration
0012_retention), so the rule holds whoever writes to the database.
"""

from dataclasses import dataclass
from datetime import date

from flask import current_app
from sqlalchemy import delete, func, select, update

from server.approvals.models import AccessDecision, AccessRequest
from server.approvals.operations import DISPOSAL, decide, file_request
from server.audit.operations import record
from server.audit.seals import seal
from server.auth.models import User
from server.auth.roles import Permission
from server.clock import school_today
from server.errors import Refused
from server.extensions import db
from server.incidents import files as file_store
from server.incidents.models import (
    Action,
    Incident,
    IncidentBodyMark,
    IncidentEvent,
    IncidentFile,
)
from server.pupils.models import Pupil
from server.retention.blanking import BLANKS
from server.retention.models import DisposalTombstone, ImportedTombstone, LegalHoldEvent
from server.transfer.models import (
    ImportedFile,
    ImportedIncident,
    IncomingTransfer,
    OutgoingTransfer,
)


class RetentionRefused(Refused):
    pass


# --- When records fall due ------------------------------------------------------------------


def retention_years() -> int:
    return current_app.config["RETENTION_YEARS"]


def review_date(pupil: Pupil) -> date:
    """The birthday the records are kept until (29 February falls on 1 March)."""
    born, years = pupil.date_of_birth, retention_years()
    try:
        return born.replace(year=born.year + years)
    except ValueError:
        return date(born.year + years, 3, 1)


@dataclass
class RetentionStatus:
    pupil: Pupil
    review_on: date
    due: bool
    hold: LegalHoldEvent | None
    proposal: AccessRequest | None
    incidents: int  # not yet disposed, this school's and imported
    disposed: int
    imported: int = 0  # of `incidents`, those imported from other schools


def _count(column, where) -> int:
    return db.session.scalar(select(func.count(column)).where(where))


def status(pupil: Pupil, today: date | None = None) -> RetentionStatus:
    today = today or school_today()
    disposed = _count(DisposalTombstone.id, DisposalTombstone.pupil_id == pupil.id)
    imported_disposed = _count(ImportedTombstone.id, ImportedTombstone.pupil_id == pupil.id)
    local = _count(Incident.id, Incident.pupil_id == pupil.id)
    imported = _count(ImportedIncident.id, ImportedIncident.pupil_id == pupil.id)
    total = local + imported
    disposed += imported_disposed
    return RetentionStatus(
        pupil=pupil,
        review_on=review_date(pupil),
        due=today >= review_date(pupil),
        hold=hold_in_force(pupil.id),
        proposal=pending_proposal(pupil.id),
        incidents=total - disposed,
        disposed=disposed,
        imported=imported - imported_disposed,
    )


def due_for_review(today: date | None = None) -> list[RetentionStatus]:
    """Pupils past their review birthday who still have records that have not been disposed."""
    today = today or school_today()
    latest_birth = date(today.year - retention_years(), 12, 31)
    undisposed = (
        select(Incident.pupil_id)
        .where(~Incident.id.in_(select(DisposalTombstone.incident_id)))
        .distinct()
    )
    undisposed_imported = (
        select(ImportedIncident.pupil_id)
        .where(~ImportedIncident.id.in_(select(ImportedTombstone.imported_incident_id)))
        .distinct()
    )
    candidates = db.session.scalars(
        select(Pupil)
        .where(
            Pupil.date_of_birth <= latest_birth,
            Pupil.id.in_(undisposed) | Pupil.id.in_(undisposed_imported),
        )
        .order_by(Pupil.date_of_birth, Pupil.legal_last_name)
    )
    return [item for item in (status(p, today) for p in candidates) if item.due]


# --- Legal holds ----------------------------------------------------------------------------


def hold_in_force(pupil_id: int) -> LegalHoldEvent | None:
    latest = db.session.scalar(
        select(LegalHoldEvent)
        .where(LegalHoldEvent.pupil_id == pupil_id)
        .order_by(LegalHoldEvent.id.desc())
        .limit(1)
    )
    return latest if latest is not None and latest.kind == "set" else None


def hold_history(pupil_id: int) -> list[LegalHoldEvent]:
    return list(
        db.session.scalars(
            select(LegalHoldEvent)
            .where(LegalHoldEvent.pupil_id == pupil_id)
            .order_by(LegalHoldEvent.id)
        )
    )


def _require(user: User, permission: Permission, message: str) -> None:
    if not user.active or not user.can(permission):
        raise RetentionRefused(message, 403)


def _reason(text: str | None) -> str:
    reason = (text or "").strip()
    if not reason:
        raise RetentionRefused("Give the reason.")
    if len(reason) > 2000:
        raise RetentionRefused("Keep the reason under 2,000 characters.")
    return reason


def set_hold(pupil: Pupil, reason: str, *, by: User) -> LegalHoldEvent:
    _require(by, Permission.MANAGE_RETENTION, "Only a designated safeguarding lead sets a hold.")
    reason = _reason(reason)
    if hold_in_force(pupil.id) is not None:
        raise RetentionRefused("These records are already on legal hold.", 409)
    return _hold_event(pupil, "set", reason, by)


def lift_hold(pupil: Pupil, reason: str, *, by: User) -> LegalHoldEvent:
    _require(by, Permission.MANAGE_RETENTION, "Only a designated safeguarding lead lifts a hold.")
    reason = _reason(reason)
    if hold_in_force(pupil.id) is None:
        raise RetentionRefused("These records are not on legal hold.", 409)
    return _hold_event(pupil, "lifted", reason, by)


def _hold_event(pupil: Pupil, kind: str, reason: str, by: User) -> LegalHoldEvent:
    event = LegalHoldEvent(pupil_id=pupil.id, kind=kind, reason=reason, by_id=by.id)
    db.session.add(event)
    db.session.flush()
    # The reason stays in its row, not in the log: it may say why (an investigation, a claim).
    record(
        f"retention.hold_{kind}",
        actor=by,
        object_type="pupil",
        object_id=pupil.id,
        details={"hold_event_id": event.id},
    )
    return event


# --- Proposing and approving disposal -------------------------------------------------------


def pending_proposal(pupil_id: int) -> AccessRequest | None:
    return db.session.scalar(
        select(AccessRequest)
        .where(
            AccessRequest.kind == DISPOSAL,
            AccessRequest.target_id == pupil_id,
            ~select(AccessDecision.id)
            .where(AccessDecision.request_id == AccessRequest.id)
            .exists(),
        )
        .limit(1)
    )


def pending_proposals() -> list[AccessRequest]:
    return list(
        db.session.scalars(
            select(AccessRequest)
            .where(
                AccessRequest.kind == DISPOSAL,
                ~select(AccessDecision.id)
                .where(AccessDecision.request_id == AccessRequest.id)
                .exists(),
            )
            .order_by(AccessRequest.id)
        )
    )


def _undisposed_incidents(pupil_id: int) -> list[Incident]:
    return list(
        db.session.scalars(
            select(Incident)
            .where(
                Incident.pupil_id == pupil_id,
                ~Incident.id.in_(select(DisposalTombstone.incident_id)),
            )
            .order_by(Incident.number)
        )
    )


def _undisposed_imported(pupil_id: int) -> list[ImportedIncident]:
    return list(
        db.session.scalars(
            select(ImportedIncident)
            .where(
                ImportedIncident.pupil_id == pupil_id,
                ~ImportedIncident.id.in_(select(ImportedTombstone.imported_incident_id)),
            )
            .order_by(ImportedIncident.occurred_at, ImportedIncident.id)
        )
    )


def _check_disposable(pupil: Pupil) -> tuple[list[Incident], list[ImportedIncident]]:
    if not status(pupil).due:
        raise RetentionRefused(
            f"These records are kept until {review_date(pupil):%-d %B %Y}: "
            "they cannot be disposed of before then.",
            409,
        )
    if hold_in_force(pupil.id) is not None:
        raise RetentionRefused("These records are on legal hold: lift the hold first.", 409)
    incidents = _undisposed_incidents(pupil.id)
    imported = _undisposed_imported(pupil.id)
    if not incidents and not imported:
        raise RetentionRefused("There are no records left to dispose of.", 409)
    return incidents, imported


def propose_disposal(pupil: Pupil, reason: str, *, by: User) -> AccessRequest:
    _require(
        by, Permission.MANAGE_RETENTION, "Only a designated safeguarding lead proposes disposal."
    )
    reason = _reason(reason)
    incidents, imported = _check_disposable(pupil)
    if pending_proposal(pupil.id) is not None:
        raise RetentionRefused("A disposal of these records is already waiting for approval.", 409)
    numbers = ", ".join(incident.label for incident in incidents)
    lines = [
        f"Dispose of the records of {pupil.legal_name} (born {pupil.date_of_birth:%-d %B %Y})",
        f"{len(incidents)} incidents: {numbers or 'none'}",
    ]
    if imported:
        labels = ", ".join(incident.label for incident in imported)
        lines.append(f"{len(imported)} incidents imported from other schools: {labels}")
    lines.append(f"Reason: {reason}")
    change = {
        "pupil_id": pupil.id,
        "incident_ids": [incident.id for incident in incidents],
        "imported_incident_ids": [incident.id for incident in imported],
    }
    return file_request(DISPOSAL, pupil.id, lines, change, by)


def find_proposal(request_id: int) -> AccessRequest:
    request = db.session.get(AccessRequest, request_id)
    if request is None or request.kind != DISPOSAL:
        raise RetentionRefused("There is no such proposal.", 404)
    if not request.pending:
        raise RetentionRefused("This proposal has already been decided.", 409)
    return request


def decline_disposal(request: AccessRequest, *, by: User) -> None:
    _require(by, Permission.APPROVE_DISPOSAL, "Only a DSL or senior leader decides a disposal.")
    _not_the_proposer(request, by)
    decide(request, False, by=by)
    db.session.flush()


def _not_the_proposer(request: AccessRequest, by: User) -> None:
    if request.requested_by_id == by.id:
        raise RetentionRefused(
            "Someone else must approve a disposal you proposed: it needs two people.", 403
        )


def approve_disposal(request: AccessRequest, *, by: User) -> list[str]:
    """Approve and carry out the disposal in one transaction. Returns the stored names of the
    files whose keys were destroyed: remove them from disk (`remove_files`) after the commit."""
    _require(by, Permission.APPROVE_DISPOSAL, "Only a DSL or senior leader approves a disposal.")
    _not_the_proposer(request, by)
    pupil = db.session.get(Pupil, request.target_id)
    incidents, imported = _check_disposable(pupil)
    proposed = request.change
    if sorted(i.id for i in incidents) != sorted(proposed["incident_ids"]) or sorted(
        i.id for i in imported
    ) != sorted(proposed.get("imported_incident_ids", [])):
        raise RetentionRefused(
            "The records have changed since this disposal was proposed: decline it and "
            "propose again.",
            409,
        )
    decide(request, True, by=by)
    return _carry_out(request, pupil, incidents, imported, by)


def _carry_out(
    request: AccessRequest,
    pupil: Pupil,
    incidents: list[Incident],
    imported: list[ImportedIncident],
    by: User,
):
    stored_names = []
    for incident in incidents:
        db.session.add(_tombstone(request, incident, by))
        stored_names += [attached.stored_name for attached in incident.files]
    db.session.flush()
    ids = [incident.id for incident in incidents]
    _blank(Incident, Incident.id.in_(ids))
    for model in (Action, IncidentEvent, IncidentBodyMark, IncidentFile):
        _blank(model, model.incident_id.in_(ids))
    imported_files = _dispose_imported(request, pupil, imported, by)
    stored_names += imported_files
    file_store.destroy(stored_names)
    _forget_working_copies(pupil.id)
    db.session.expire_all()
    for incident_id in ids:
        _reseal(request, incident_id, by)
    record(
        "retention.disposed",
        actor=by,
        object_type="pupil",
        object_id=pupil.id,
        details={
            "request_id": request.id,
            "proposed_by": request.requested_by_id,
            "approved_by": by.id,
            "incidents": len(ids),
            "imported_incidents": len(imported),
            "files": len(stored_names),
        },
    )
    db.session.flush()
    return stored_names


def _dispose_imported(
    request: AccessRequest, pupil: Pupil, imported: list[ImportedIncident], by: User
) -> list[str]:
    """Tombstone and blank the imported incidents and their files; returns the stored names of
    every copy of this pupil's transferred records whose key is to be destroyed: imported
    attachments, the senders' chronology PDFs, the packages as they arrived and the packages
    this school made and still keeps to send again."""
    for incident in imported:
        db.session.add(_imported_tombstone(request, incident, by))
    db.session.flush()
    transfers = select(IncomingTransfer.id).where(IncomingTransfer.pupil_id == pupil.id)
    files = list(
        db.session.scalars(
            select(ImportedFile).where(ImportedFile.incoming_transfer_id.in_(transfers))
        )
    )
    ids = [incident.id for incident in imported]
    if ids:
        _blank(ImportedIncident, ImportedIncident.id.in_(ids))
    if files:
        _blank(ImportedFile, ImportedFile.id.in_([file.id for file in files]))
    stored_names = [file.stored_name for file in files]
    stored_names += db.session.scalars(
        select(IncomingTransfer.stored_name).where(IncomingTransfer.pupil_id == pupil.id)
    )
    for outgoing in db.session.scalars(
        select(OutgoingTransfer).where(
            OutgoingTransfer.pupil_id == pupil.id, OutgoingTransfer.stored_name.is_not(None)
        )
    ):
        stored_names.append(outgoing.stored_name)
        outgoing.stored_name = None
    return stored_names


def origin_of(incident: ImportedIncident) -> tuple[str, str]:
    """(name, URN) of the school that recorded an imported incident: the sender, or the school
    a record passed on by the sender names as its origin (the transfer branch's record v2)."""
    origin = incident.data.get("origin_school")
    if isinstance(origin, dict) and origin.get("name"):
        return str(origin["name"])[:200], str(origin.get("urn") or "")[:20]
    return incident.transfer.sender_name, incident.transfer.sender_urn


def _imported_tombstone(
    request: AccessRequest, incident: ImportedIncident, by: User
) -> ImportedTombstone:
    data = incident.data
    categories = [str(name) for name in data.get("categories") or []]
    school, urn = origin_of(incident)
    return ImportedTombstone(
        pupil_id=incident.pupil_id,
        request_id=request.id,
        imported_incident_id=incident.id,
        origin_school=school,
        origin_urn=urn,
        source_number=incident.source_number,
        occurred_at=incident.occurred_at,
        imported_at=incident.imported_at,
        categories="; ".join(categories),
        actions=len(data.get("actions") or []),
        files=len(incident.files),
        proposed_by_id=request.requested_by_id,
        approved_by_id=by.id,
    )


def _tombstone(request: AccessRequest, incident: Incident, by: User) -> DisposalTombstone:
    return DisposalTombstone(
        pupil_id=incident.pupil_id,
        request_id=request.id,
        incident_id=incident.id,
        incident_number=incident.number,
        occurred_at=incident.occurred_at,
        recorded_at=incident.created_at,
        categories="; ".join(category.full_name for category in incident.categories),
        actions=len(incident.actions),
        files=len(incident.files),
        proposed_by_id=request.requested_by_id,
        approved_by_id=by.id,
    )


def _blank(model, where) -> None:
    db.session.execute(
        update(model).where(where).values(**BLANKS[model.__tablename__]),
        execution_options={"synchronize_session": False},
    )


def _reseal(request: AccessRequest, incident_id: int, by: User) -> None:
    """Seal the blanked rows in the log, so `flask audit verify` checks them from now on in
    place of the seals of what was there (server.audit.operations.RESEALING_ACTIONS)."""
    incident = db.session.get(Incident, incident_id)
    sealed = [("incident", incident_id)]
    sealed += [("action", action.id) for action in incident.actions]
    sealed += [("event", event.id) for event in incident.events]
    for kind, record_id in sealed:
        record(
            "retention.record_disposed",
            actor=by,
            object_type="incident",
            object_id=incident_id,
            details={
                "number": incident.number,
                "request_id": request.id,
                "seal": seal(kind, record_id),
            },
        )


def _forget_working_copies(pupil_id: int) -> None:
    from server.subject_access.models import SubjectAccessExport

    db.session.execute(delete(SubjectAccessExport).where(SubjectAccessExport.pupil_id == pupil_id))


def remove_files(stored_names: list[str]) -> None:
    """After the disposal committed: the files themselves (their keys are already gone)."""
    file_store.discard(stored_names)


def tombstones(pupil_id: int | None = None, limit: int = 200) -> list[DisposalTombstone]:
    query = select(DisposalTombstone).order_by(
        DisposalTombstone.disposed_at.desc(), DisposalTombstone.incident_number
    )
    if pupil_id is not None:
        query = query.where(DisposalTombstone.pupil_id == pupil_id)
    return list(db.session.scalars(query.limit(limit)))


def imported_tombstones(pupil_id: int, limit: int = 200) -> list[ImportedTombstone]:
    return list(
        db.session.scalars(
            select(ImportedTombstone)
            .where(ImportedTombstone.pupil_id == pupil_id)
            .order_by(ImportedTombstone.occurred_at, ImportedTombstone.id)
            .limit(limit)
        )
    )


def is_imported_disposed(imported_incident_id: int) -> bool:
    return (
        db.session.scalar(
            select(ImportedTombstone.id).where(
                ImportedTombstone.imported_incident_id == imported_incident_id
            )
        )
        is not None
    )


def is_disposed(incident_id: int) -> bool:
    return (
        db.session.scalar(
            select(DisposalTombstone.id).where(DisposalTombstone.incident_id == incident_id)
        )
        is not None
    )
