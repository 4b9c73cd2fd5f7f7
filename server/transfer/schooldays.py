"""School days for the transfer clock (SPEC §8: the file goes within five school days).

A school day is Monday to Friday, less the closed days the school configures
(`HAVEN_SCHOOL_CLOSED_DAYS`: ISO dates or `from..to` ranges). The project's terms are whole
months (server/reports/periods.py), too coarse for holidays, hence the setting.
"""

from datetime import date, timedelta

from flask import current_app

from server.errors import Refused


def closed_days() -> frozenset[date]:
    text = current_app.config.get("SCHOOL_CLOSED_DAYS") or ""
    days: set[date] = set()
    for part in (piece.strip() for piece in text.split(",")):
        if not part:
            continue
        try:
            first, _, last = part.partition("..")
            start = date.fromisoformat(first.strip())
            end = date.fromisoformat(last.strip()) if last else start
        except ValueError:
            raise Refused(f"HAVEN_SCHOOL_CLOSED_DAYS: “{part}” is not a date or a range.") from None
        while start <= end:
            days.add(start)
            start += timedelta(days=1)
    return frozenset(days)


def is_school_day(day: date, closed: frozenset[date] | None = None) -> bool:
    closed = closed_days() if closed is None else closed
    return day.weekday() < 5 and day not in closed


def add_school_days(start: date, count: int) -> date:
    """The `count`th school day after `start` (the day it starts is not counted)."""
    closed = closed_days()
    day, counted = start, 0
    while counted < count:
        day += timedelta(days=1)
        if is_school_day(day, closed):
            counted += 1
    return day


def school_days_since(start: date, today: date) -> int:
    """How many school days have begun since `start` (exclusive) up to `today` (inclusive)."""
    closed = closed_days()
    day, counted = start, 0
    while day < today:
        day += timedelta(days=1)
        counted += is_school_day(day, closed)
    return counted
