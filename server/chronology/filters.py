"""The chronology's filters as sent in the address; anything unreadable is refused (400)."""

from datetime import date

from werkzeug.datastructures import MultiDict

from server.chronology.build import STATUS_FILTERS, Filters
from server.errors import Refused
from server.ids import parse_id


class FilterRefused(Refused):
    def __init__(self, message: str):
        super().__init__(message, 400)


def _day(args: MultiDict, name: str, label: str) -> date | None:
    raw = (args.get(name) or "").strip()
    if not raw:
        return None
    try:
        day = date.fromisoformat(raw)
    except ValueError:
        raise FilterRefused(f"“{label}” must be a date such as 2025-09-01.") from None
    if day.year < 1900:
        raise FilterRefused(f"“{label}” must be a date after 1900.")
    return day


def _id(args: MultiDict, name: str, label: str) -> int | None:
    raw = (args.get(name) or "").strip()
    if not raw:
        return None
    value = parse_id(raw)
    if value is None:
        raise FilterRefused(f"Choose “{label}” from the list.")
    return value


def filters_from_args(args: MultiDict) -> Filters:
    status = (args.get("status") or "").strip() or None
    if status is not None and status not in STATUS_FILTERS:
        raise FilterRefused("Choose a status from the list.")
    filters = Filters(
        category_id=_id(args, "category", "Category"),
        date_from=_day(args, "from", "From"),
        date_to=_day(args, "to", "To"),
        author_id=_id(args, "author", "Recorded by"),
        status=status,
    )
    if filters.date_from and filters.date_to and filters.date_from > filters.date_to:
        raise FilterRefused("“From” must be on or before “To”.")
    return filters


def filters_as_args(filters: Filters) -> dict[str, str]:
    """The filters as address parameters, to carry into report links."""
    names = {
        "category": filters.category_id,
        "from": filters.date_from,
        "to": filters.date_to,
        "author": filters.author_id,
        "status": filters.status,
    }
    return {name: str(value) for name, value in names.items() if value is not None}
