"""The governors' report (SPEC §7): counts by category for a term or year beside the period
before, timeliness, charts; no names, and counts from 1 to 4 shown as "fewer than 5".

Every figure is an aggregate query: the number of queries is the same for ten incidents or a
million.
"""

from dataclasses import dataclass, field
from datetime import timedelta
from statistics import median

from sqlalchemy import and_, case, distinct, func, select

from server.alerts.models import IncidentRead
from server.auth.models import UserRole
from server.auth.roles import Role
from server.clock import start_of_day
from server.extensions import db
from server.incidents.models import Category, Incident
from server.incidents.queries import current_categories, entered_in_error, first_event_at
from server.reports.charts import Series, bar_chart
from server.reports.counts import Count, trend
from server.reports.periods import Period, previous

# The escalation window (SPEC §4): how many were read by a DSL within it.
DSL_READ_TARGET = timedelta(minutes=15)


@dataclass(frozen=True)
class CategoryRow:
    name: str
    now: Count
    before: Count

    @property
    def trend(self) -> str:
        return trend(self.now, self.before)


@dataclass(frozen=True)
class Timeliness:
    incidents: Count
    read_by_dsl: Count
    read_within_target: Count
    median_to_dsl_read: timedelta | None
    closed: Count
    median_to_close: timedelta | None


@dataclass
class GovernorsReport:
    period: Period
    before: Period
    total_now: Count
    total_before: Count
    rows: list[CategoryRow]
    timeliness_now: Timeliness
    timeliness_before: Timeliness
    months: list[tuple[str, Count]]
    charts: dict = field(default_factory=dict)

    @property
    def total_trend(self) -> str:
        return trend(self.total_now, self.total_before)


def _in_period(period: Period):
    return and_(
        Incident.occurred_at >= period.start_at,
        Incident.occurred_at < period.end_at,
        ~entered_in_error(Incident.id),
    )


def _family_counts(period: Period) -> dict[int, int]:
    chosen = current_categories()
    family = func.coalesce(Category.parent_id, Category.id)
    rows = db.session.execute(
        select(family, func.count(distinct(chosen.c.incident_id)))
        .select_from(chosen)
        .join(Category, Category.id == chosen.c.category_id)
        .join(Incident, Incident.id == chosen.c.incident_id)
        .where(_in_period(period))
        .group_by(family)
    ).all()
    return dict(rows)


def _total(period: Period) -> int:
    return db.session.scalar(select(func.count(Incident.id)).where(_in_period(period))) or 0


def _months(period: Period) -> list[tuple[str, Count]]:
    months = period.months()
    columns = [
        func.sum(case((_between(start_of_day(first), start_of_day(following)), 1), else_=0))
        for first, following in months
    ]
    sums = db.session.execute(select(*columns).where(_in_period(period))).one()
    return [
        (f"{first:%b %Y}", Count(int(total or 0)))
        for (first, _), total in zip(months, sums, strict=True)
    ]


def _between(start, end):
    return and_(Incident.occurred_at >= start, Incident.occurred_at < end)


def _timeliness(period: Period) -> Timeliness:
    dsl_users = select(UserRole.user_id).where(UserRole.role == Role.DSL.value)
    first_read = (
        select(IncidentRead.incident_id, func.min(IncidentRead.read_at).label("at"))
        .where(IncidentRead.user_id.in_(dsl_users))
        .group_by(IncidentRead.incident_id)
        .subquery()
    )
    closed = first_event_at(("closed", "no_further_action"))
    rows = db.session.execute(
        select(Incident.created_at, first_read.c.at, closed.c.at)
        .outerjoin(first_read, first_read.c.incident_id == Incident.id)
        .outerjoin(closed, closed.c.incident_id == Incident.id)
        .where(_in_period(period))
    ).all()
    to_read = [read - made for made, read, _ in rows if read is not None]
    to_close = [done - made for made, _, done in rows if done is not None]
    return Timeliness(
        incidents=Count(len(rows)),
        read_by_dsl=Count(len(to_read)),
        read_within_target=Count(sum(1 for wait in to_read if wait <= DSL_READ_TARGET)),
        median_to_dsl_read=_median(to_read),
        closed=Count(len(to_close)),
        median_to_close=_median(to_close),
    )


def _median(waits: list[timedelta]) -> timedelta | None:
    """The middle wait; not shown for fewer than five incidents (it would describe one)."""
    if len(waits) < 5:
        return None
    return timedelta(seconds=round(median(wait.total_seconds() for wait in waits)))


def families() -> list[Category]:
    return list(
        db.session.scalars(
            select(Category).where(Category.parent_id.is_(None)).order_by(Category.position)
        )
    )


def governors_report(period: Period, progress=lambda stage: None) -> GovernorsReport:
    before = previous(period)
    progress("Counting incidents by category")
    now_counts, before_counts = _family_counts(period), _family_counts(before)
    rows = [
        CategoryRow(
            family.name, Count(now_counts.get(family.id, 0)), Count(before_counts.get(family.id, 0))
        )
        for family in families()
    ]
    progress("Measuring timeliness")
    report = GovernorsReport(
        period=period,
        before=before,
        total_now=Count(_total(period)),
        total_before=Count(_total(before)),
        rows=rows,
        timeliness_now=_timeliness(period),
        timeliness_before=_timeliness(before),
        months=_months(period),
    )
    progress("Drawing charts")
    report.charts = {
        "categories": bar_chart(
            "Incidents by category",
            [row.name for row in rows],
            [
                Series(period.label, [row.now for row in rows]),
                Series(before.label, [row.before for row in rows]),
            ],
        ),
        "months": bar_chart(
            "Incidents by month",
            [label for label, _ in report.months],
            [Series(period.label, [count for _, count in report.months])],
        ),
    }
    return report


def csv_rows(report: GovernorsReport) -> list[list[str]]:
    rows = [["Category", report.period.label, report.before.label, "Trend"]]
    rows += [[row.name, row.now.shown, row.before.shown, row.trend] for row in report.rows]
    rows.append(
        ["All incidents", report.total_now.shown, report.total_before.shown, report.total_trend]
    )
    return rows
