"""Jinja filters and globals: dates in the school's time zone, in British style."""

import math
from datetime import date, datetime

from flask import Flask, current_app
from flask_login import current_user

from server.auth.roles import Permission, Role
from server.clock import to_local
from server.incidents.models import EVENT_LABELS, STATUS_LABELS


def format_moment(moment: datetime | None) -> str:
    if moment is None:
        return ""
    local = to_local(moment)
    return f"{local:%-d %b %Y, %H:%M}"


def format_day(day: date | None) -> str:
    return "" if day is None else f"{day:%-d %b %Y}"


def format_file_size(size: int) -> str:
    """ "48 bytes", "3.4 KB", "20 MB", as the Add Incident page shows them (file-picker.js)."""
    if size < 1024:
        return "1 byte" if size == 1 else f"{size:,} bytes"
    kilobytes = _rounded(size / 1024)
    if kilobytes < 1024:
        return f"{kilobytes:,} KB"
    return f"{_rounded(size / (1024 * 1024)):,} MB"


def _rounded(value: float) -> float | int:
    # One decimal below 10 ("3.4 KB"), never a trailing ".0" ("20 MB", not "20.0 MB").
    # Halves round up, as Math.round does on the Add Incident page (Python's round() would not).
    number = math.floor(value * 10 + 0.5) / 10 if value < 9.95 else math.floor(value + 0.5)
    return int(number) if number == int(number) else number


def register_template_helpers(app: Flask) -> None:
    app.jinja_env.filters["moment"] = format_moment
    app.jinja_env.filters["file_size"] = format_file_size
    app.jinja_env.filters["day"] = format_day
    app.jinja_env.globals.update(
        Permission=Permission,
        Role=Role,
        # "Referred" is how lists show an open incident with an outside agency.
        status_labels={**STATUS_LABELS, "referred": "Referred"},
        event_labels=EVENT_LABELS,
    )

    @app.context_processor
    def school_context():
        return {
            "school_name": current_app.config["SCHOOL_NAME"],
            "idle_timeout_seconds": int(current_app.config["IDLE_TIMEOUT"].total_seconds()),
            "user": current_user,
        }
