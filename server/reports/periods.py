"""School periods for reports: terms and school years (September to August), as dates."""

from dataclasses import dataclass
from datetime import date, datetime

from server.clock import school_today, start_of_day
from server.errors import Refused

TERMS = ("autumn", "spring", "summer")
# Each term: its first month, the month after it ends, and whether it falls in the second
# calendar year of the school year. Schools' exact dates vary; whole months keep periods
# comparable year on year.
_TERM_MONTHS = {"autumn": (9, 1, False), "spring": (1, 4, True), "summer": (4, 9, True)}


class PeriodRefused(Refused):
    def __init__(self, message: str):
        super().__init__(message, 400)


@dataclass(frozen=True)
class Period:
    kind: str  # "term", "year" or "dates"
    label: str
    start: date
    end: date  # the day after the last day

    @property
    def start_at(self) -> datetime:
        return start_of_day(self.start)

    @property
    def end_at(self) -> datetime:
        return start_of_day(self.end)

    @property
    def last_day(self) -> date:
        return date.fromordinal(self.end.toordinal() - 1)

    def months(self) -> list[tuple[date, date]]:
        """Each calendar month in the period, as (first day, first day of the next)."""
        months, cursor = [], self.start
        while cursor < self.end:
            following = date(cursor.year + (cursor.month == 12), cursor.month % 12 + 1, 1)
            months.append((cursor, min(following, self.end)))
            cursor = following
        return months


def school_year_of(day: date) -> int:
    """The calendar year a school year starts in (2025 for 2025–26)."""
    return day.year if day.month >= 9 else day.year - 1


def term(which: str, school_year: int) -> Period:
    first_month, next_month, second_year = _TERM_MONTHS[which]
    start_year = school_year + second_year
    end_year = start_year + (next_month < first_month)
    label = f"{which.capitalize()} term {start_year}"
    return Period("term", label, date(start_year, first_month, 1), date(end_year, next_month, 1))


def year(school_year: int) -> Period:
    label = f"School year {school_year}–{str(school_year + 1)[-2:]}"
    return Period("year", label, date(school_year, 9, 1), date(school_year + 1, 9, 1))


def previous(period: Period) -> Period:
    if period.kind == "year":
        return year(period.start.year - 1)
    if period.kind == "term":
        which = current_term(period.start)
        school_year = school_year_of(period.start)
        if which == "autumn":
            return term("summer", school_year - 1)
        return term(TERMS[TERMS.index(which) - 1], school_year)
    length = period.end - period.start
    return Period("dates", "The period before", period.start - length, period.start)


def current_term(today: date) -> str:
    return "autumn" if today.month >= 9 else "spring" if today.month < 4 else "summer"


def period_from_args(args) -> Period:
    """?period=term&term=autumn&year=2025, ?period=year&year=2025, or ?from=…&to=… dates."""
    today = school_today()
    kind = (args.get("period") or "term").strip()
    if kind == "dates":
        return _dates(args)
    school_year = _year(args.get("year"), school_year_of(today))
    if kind == "year":
        return year(school_year)
    if kind != "term":
        raise PeriodRefused("Choose a term, a school year or dates.")
    which = (args.get("term") or current_term(today)).strip()
    if which not in TERMS:
        raise PeriodRefused("Choose the autumn, spring or summer term.")
    return term(which, school_year)


def _year(raw, default: int) -> int:
    raw = (raw or "").strip()
    if not raw:
        return default
    if not raw.isascii() or not raw.isdigit() or not 1990 <= int(raw) <= 2200:
        raise PeriodRefused("The year must be a school year’s first year, such as 2025.")
    return int(raw)


def _dates(args) -> Period:
    try:
        start = date.fromisoformat((args.get("from") or "").strip())
        last = date.fromisoformat((args.get("to") or "").strip())
    except ValueError:
        raise PeriodRefused("Give both dates, such as 2025-09-01 and 2025-12-19.") from None
    if start > last or start.year < 1990:
        raise PeriodRefused("“From” must be on or before “To”, and after 1990.")
    label = f"{start:%-d %b %Y} to {last:%-d %b %Y}"
    return Period("dates", label, start, date.fromordinal(last.toordinal() + 1))
