"""Viewing and exporting reports (SPEC §7): each checks permission, audits, and either answers
at once or, for a large export, queues a job whose progress the person can watch.
"""

import json
from dataclasses import dataclass
from datetime import timedelta

from flask import abort, current_app
from sqlalchemy import select
from werkzeug.exceptions import HTTPException

from server.audit.operations import record
from server.auth.models import User, UserSession
from server.clock import utcnow
from server.errors import FRIENDLY
from server.extensions import db
from server.ids import row_by_id
from server.incidents import files as file_store
from server.jobs import enqueue, job
from server.reports import render
from server.reports.documents import Document, build_document
from server.reports.models import ReportRun

FORMATS = {"pdf": "application/pdf", "csv": "text/csv; charset=utf-8"}
# A finished export waits this long for its download, then it and its file are removed.
RUN_KEPT_FOR = timedelta(hours=1)


def _audit(action: str, user: User, document: Document, details: dict) -> None:
    if document.pupil is not None:
        object_type, object_id = "pupil", document.pupil.id
    else:
        object_type, object_id = "report", document.kind
    record(
        action,
        object_type=object_type,
        object_id=object_id,
        actor=user,
        details={"report": document.kind, "names": document.names, "rows": document.rows} | details,
    )


def view_report(kind: str, user: User, params: dict, session_row: UserSession | None):
    """The report as a page; the view is audited with the names choice."""
    document = build_document(kind, user, params, session_row)
    _audit("report.viewed", user, document, {"format": "html", "params": params})
    db.session.flush()
    return document


@dataclass(frozen=True)
class Export:
    """Either the finished file, or the run that is building it."""

    content: bytes | None = None
    content_type: str | None = None
    filename: str | None = None
    run: ReportRun | None = None


def export_report(
    kind: str, user: User, params: dict, fmt: str, session_row: UserSession | None
) -> Export:
    if fmt not in FORMATS:
        abort(400, "Choose PDF or CSV.")
    document = build_document(kind, user, params, session_row)
    if fmt == "csv" and document.csv is None:
        abort(400, "This report has no CSV form.")
    if document.rows > current_app.config["REPORT_INLINE_ROWS"]:
        run = _queue_run(kind, user, params, fmt)
        _audit("report.exported", user, document, {"format": fmt, "run": run.id, "params": params})
        db.session.flush()
        return Export(run=run)
    _audit("report.exported", user, document, {"format": fmt, "params": params})
    db.session.flush()
    return Export(_content(document, fmt), FORMATS[fmt], f"{document.filename_stem}.{fmt}")


def _content(document: Document, fmt: str, progress=lambda stage: None) -> bytes:
    if fmt == "csv":
        return render.csv_bytes(document.csv)
    return render.pdf_bytes(document, progress)


# --- Large exports: a run, a job, progress, the download ----------------------------------


def _queue_run(kind: str, user: User, params: dict, fmt: str) -> ReportRun:
    purge_expired_runs()
    run = ReportRun(
        user_id=user.id,
        kind=kind,
        format=fmt,
        params=json.dumps(params, sort_keys=True),
        created_at=utcnow(),
    )
    db.session.add(run)
    db.session.flush()
    return run


def start_run(run: ReportRun) -> None:
    """After the request's commit: a worker builds it (in-process without Redis)."""
    enqueue(build_run, run.id)


@job
def build_run(run_id: int) -> None:
    run = db.session.get(ReportRun, run_id)
    if run is None or run.status == "done":
        return
    user = db.session.get(User, run.user_id)
    steps = iter(range(10, 95, 15))

    def progress(stage: str) -> None:
        run.status, run.stage, run.progress = "running", stage, next(steps, 95)
        db.session.commit()

    try:
        # Review was unlocked (with a fresh passkey assertion) when it was asked for; the
        # person's roles and scope are checked again now.
        document = build_document(
            run.kind, user, json.loads(run.params), None, review=True, progress=progress
        )
        content = _content(document, run.format, progress)
    except HTTPException as error:
        # Refused (the person lost the role, the pupil left their class): final, not retried.
        _fail(run_id, _reason(error))
        return
    except Exception:
        _fail(run_id, "Something went wrong building it. Please ask for it again.")
        raise  # retried by the queue
    run.stored_name = file_store.store(content)
    run.filename = f"{document.filename_stem}.{run.format}"
    run.content_type = FORMATS[run.format]
    run.status, run.stage, run.progress, run.finished_at = "done", "Ready", 100, utcnow()
    db.session.commit()


def _fail(run_id: int, reason: str) -> None:
    db.session.rollback()
    run = db.session.get(ReportRun, run_id)
    run.status, run.stage, run.error = "failed", "Could not be built", reason
    db.session.commit()


def _reason(error: HTTPException) -> str:
    """The refusal's own message, or the plain one the error pages use for its status."""
    if error.description and error.description != type(error).description:
        return error.description
    return FRIENDLY.get(error.code, "It could not be built.")


def own_run(user: User, run_id) -> ReportRun:
    """The user's own run; anyone else's is 404 (its existence is not revealed)."""
    run = row_by_id(ReportRun, run_id)
    if run is None or run.user_id != user.id or _expired(run):
        abort(404)
    return run


def run_json(run: ReportRun) -> dict:
    return {"status": run.status, "stage": run.stage, "progress": run.progress}


def download_run(user: User, run_id) -> tuple[ReportRun, bytes]:
    run = own_run(user, run_id)
    if run.status != "done":
        abort(409, "This report is not ready yet.")
    pupil_id = json.loads(run.params).get("pupil_id")
    record(
        "report.downloaded",
        # About a pupil: listed in "who viewed this child" with the request that queued it.
        object_type="pupil" if pupil_id else "report",
        object_id=pupil_id or run.kind,
        actor=user,
        details={"report": run.kind, "format": run.format, "run": run.id},
    )
    db.session.flush()
    return run, file_store.load(run.stored_name)


def _expired(run: ReportRun) -> bool:
    return run.finished_at is not None and utcnow() - run.finished_at > RUN_KEPT_FOR


def purge_expired_runs() -> int:
    """Remove finished runs past their time, and their files."""
    cutoff = utcnow() - RUN_KEPT_FOR
    expired = db.session.scalars(select(ReportRun).where(ReportRun.finished_at < cutoff)).all()
    file_store.discard([run.stored_name for run in expired if run.stored_name])
    for run in expired:
        db.session.delete(run)
    return len(expired)
