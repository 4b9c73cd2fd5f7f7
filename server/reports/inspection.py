"""The inspection report (SPEC §7): referrals in a period — incidents with an outside agency —
who raised them, their status and outcome. What inspectors ask for at 8am on the first day.

A constant number of queries whatever the number of referrals: related rows are loaded with
`subqueryload`, one query per collection.
"""

from dataclasses import dataclass

from sqlalchemy import exists, select
from sqlalchemy.orm import subqueryload

from server.clock import to_local
from server.extensions import db
from server.incidents.models import (
    STATUS_AFTER,
    STATUS_LABELS,
    Category,
    Incident,
    IncidentEvent,
    incident_agencies,
)
from server.incidents.queries import entered_in_error
from server.reports.periods import Period


@dataclass(frozen=True)
class Referral:
    incident: Incident

    @property
    def raised_by(self) -> str:
        incident = self.incident
        if incident.recorded_on_behalf_name:
            return (
                f"{incident.recorded_on_behalf_name} ({incident.recorded_on_behalf_role}), "
                f"recorded by {incident.author.full_name}"
            )
        return incident.author.full_name

    @property
    def status(self) -> str:
        return STATUS_LABELS[self.incident.status]

    @property
    def outcome(self) -> str:
        """The note of the latest closing or monitoring, or else the latest action, or else
        nothing yet. A note that returned the incident to open is no outcome."""
        for event in reversed(self.incident.events):
            if STATUS_AFTER.get(event.kind, "open") != "open" and event.note:
                return event.note
        if self.incident.actions:
            return self.incident.actions[-1].text
        return ""


def referrals_query(period: Period):
    has_agency = exists().where(incident_agencies.c.incident_id == Incident.id)
    return (
        select(Incident)
        .where(
            Incident.occurred_at >= period.start_at,
            Incident.occurred_at < period.end_at,
            has_agency,
            ~entered_in_error(Incident.id),
        )
        .order_by(Incident.occurred_at, Incident.number)
    )


def referrals(period: Period) -> list[Referral]:
    db.session.scalars(select(Category)).all()  # every category at once, parents included
    incidents = db.session.scalars(
        referrals_query(period).options(
            subqueryload(Incident.agencies),
            subqueryload(Incident.events).subqueryload(IncidentEvent.categories),
            subqueryload(Incident.original_categories),
            subqueryload(Incident.actions),
            subqueryload(Incident.linked_pupils),
        )
    ).all()
    return [Referral(incident) for incident in incidents]


def csv_rows(items: list[Referral], hide) -> list[list[str]]:
    rows = [
        [
            "Number",
            "Date",
            "Pupil",
            "Categories",
            "Agencies",
            "Raised by",
            "Status",
            "Outcome",
        ]
    ]
    for referral in items:
        incident = referral.incident
        rows.append(
            [
                incident.label,
                to_local(incident.occurred_at).date().isoformat(),
                hide(incident.pupil.display_name),
                "; ".join(category.full_name for category in incident.categories),
                "; ".join(agency.name for agency in incident.agencies),
                referral.raised_by,
                referral.status,
                hide(referral.outcome),
            ]
        )
    return rows
