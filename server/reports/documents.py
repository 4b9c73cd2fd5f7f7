"""Each report as a document: what it shows, built from what was asked for (plain values, so a
background job can build it again), with the permission check first."""

from dataclasses import dataclass, field
from datetime import datetime

from flask import abort
from sqlalchemy import select

from server.auth.models import User, UserSession
from server.auth.roles import Permission
from server.chronology.build import KIND_LABELS, build_chronology
from server.chronology.filters import filters_from_args
from server.clock import to_local, utcnow
from server.extensions import db
from server.ids import row_by_id
from server.incidents import policy
from server.pupils.models import Pupil, year_label
from server.reports import case_conference, governors, inspection
from server.reports.names import STYLES, NameHider, named_elsewhere
from server.reports.periods import period_from_args

PUPIL_REPORTS = ("chronology", "case_conference")
SCHOOL_REPORTS = ("governors", "inspection")
TITLES = {
    "chronology": "Chronology",
    "case_conference": "Case conference report",
    "governors": "Governors’ report",
    "inspection": "Inspection report: referrals",
}


@dataclass
class Document:
    kind: str
    title: str
    subtitle: str
    names: str
    rows: int
    context: dict = field(default_factory=dict)
    csv: list[list[str]] | None = None
    pupil: Pupil | None = None
    produced_at: datetime = field(default_factory=utcnow)

    @property
    def filename_stem(self) -> str:
        subject = f"-{self.pupil.id}" if self.pupil is not None else ""
        return f"{self.kind.replace('_', '-')}{subject}"


def names_style(params: dict) -> str:
    style = (params.get("names") or "initials").strip()
    if style not in STYLES:
        abort(400, "Choose how names are shown from the list.")
    return style


def build_document(
    kind: str,
    user: User,
    params: dict,
    session_row: UserSession | None,
    *,
    review: bool | None = None,
    progress=lambda stage: None,
) -> Document:
    if not user.active or not user.can(Permission.RUN_REPORTS):
        abort(403)
    if kind in PUPIL_REPORTS:
        return _pupil_document(kind, user, params, session_row, review, progress)
    if kind not in SCHOOL_REPORTS:
        abort(404)
    if not policy.reviews_whole_school(user):
        abort(403)
    if kind == "governors":
        return _governors_document(params, progress)
    return _inspection_document(params, progress)


def _roster() -> list[Pupil]:
    return list(db.session.scalars(select(Pupil)))


def _pupil_document(kind, user, params, session_row, review, progress) -> Document:
    pupil = row_by_id(Pupil, params.get("pupil_id"))
    if pupil is None:
        abort(404)
    if not policy.can_open_pupil_record(user, pupil, session_row, review=review):
        abort(403)
    filters = filters_from_args(params.get("filters") or {})
    style = names_style(params)
    progress("Gathering the chronology")
    chronology = build_chronology(
        user,
        pupil,
        session_row,
        filters,
        with_corrections=policy.can_see_corrections(user),
        review=review,
    )
    chronology.imported = _imported_entries(user, pupil, session_row, filters, review)
    others = {p.id: p for i in chronology.incidents for p in i.all_pupils}
    named_there = named_elsewhere(
        name for entry in chronology.imported for name in entry.data.get("linked_pupils") or []
    )
    hide = NameHider(
        style, [*_roster(), *named_there], keep=pupil, linked=[*others.values(), *named_there]
    )
    context = {
        "chronology": chronology,
        "pupil": pupil,
        "pupil_year": year_label(pupil.year_group),
        "kind_labels": KIND_LABELS,
        "hide": hide,
    }
    if kind == "case_conference":
        context["summary"] = case_conference.summarise(chronology)
        context["body_maps"] = case_conference.body_maps(chronology)
    return Document(
        kind=kind,
        title=TITLES[kind],
        subtitle=pupil.display_name,
        names=style,
        rows=len(chronology.timeline),
        context=context,
        csv=_chronology_csv(chronology, hide),
        pupil=pupil,
    )


def _imported_entries(user, pupil, session_row, filters, review) -> list:
    """Records imported from the pupil's previous schools, for those who may read them (the
    transfer feature decides who), beside this school's own."""
    from server.transfer.imported import imported_entries
    from server.transfer.operations import can_read_imported

    if not can_read_imported(user, session_row, review=review):
        return []
    return imported_entries(pupil.id, filters)


def _imported_row(entry, hide) -> list[str]:
    data = entry.data
    return [
        to_local(entry.when).strftime("%Y-%m-%d %H:%M"),
        f"Imported {to_local(entry.incident.imported_at).strftime('%Y-%m-%d')}",
        f"{entry.incident.label} (from {entry.incident.school_name})",
        "",
        "; ".join(data.get("categories") or []),
        hide(data.get("account")),
        data.get("recorded_by") or "",
    ]


def _chronology_csv(chronology, hide) -> list[list[str]]:
    rows = [["When", "Entry", "Incident", "Linked", "Categories", "Text", "By"]]
    for entry in chronology.timeline:
        if getattr(entry, "imported", False):
            rows.append(_imported_row(entry, hide))
            continue
        if entry.kind == "incident":
            text = entry.incident.account
        elif entry.action is not None:
            text = entry.action.text
        else:
            text = entry.event.note or ""
        rows.append(
            [
                to_local(entry.when).strftime("%Y-%m-%d %H:%M"),
                KIND_LABELS[entry.kind],
                entry.incident.label,
                "linked" if entry.linked else "",
                "; ".join(c.full_name for c in entry.incident.categories),
                hide(text),
                entry.author.full_name,
            ]
        )
    return rows


def _governors_document(params, progress) -> Document:
    period = period_from_args(params.get("period") or {})
    report = governors.governors_report(period, progress)
    return Document(
        kind="governors",
        title=TITLES["governors"],
        subtitle=period.label,
        names="none",  # it never holds a name
        rows=len(report.rows),
        context={"report": report},
        csv=governors.csv_rows(report),
    )


def _inspection_document(params, progress) -> Document:
    period = period_from_args(params.get("period") or {})
    style = names_style(params)
    progress("Gathering referrals")
    items = inspection.referrals(period)
    linked = {p.id: p for r in items for p in r.incident.all_pupils}
    hide = NameHider(style, _roster(), linked=linked.values())
    return Document(
        kind="inspection",
        title=TITLES["inspection"],
        subtitle=period.label,
        names=style,
        rows=len(items),
        context={"period": period, "referrals": items, "hide": hide},
        csv=inspection.csv_rows(items, hide),
    )
