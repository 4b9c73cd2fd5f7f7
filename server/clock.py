"""The one place the application asks the time, so tests can move the clock."""

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from flask import current_app


def utcnow() -> datetime:
    return datetime.now(UTC)


def school_zone() -> ZoneInfo:
    return ZoneInfo(current_app.config["SCHOOL_TIMEZONE"])


def local_now() -> datetime:
    return utcnow().astimezone(school_zone())


def school_today() -> date:
    return local_now().date()


def to_local(moment: datetime) -> datetime:
    return moment.astimezone(school_zone())


def start_of_day(day: date) -> datetime:
    """The first moment of a school day (midnight in the school's zone)."""
    return datetime.combine(day, time.min, tzinfo=school_zone())
