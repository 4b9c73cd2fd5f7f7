"""Jinja filters and globals: dates in the school's time zone, in British style."""

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


def register_template_helpers(app: Flask) -> None:
    app.jinja_env.filters["moment"] = format_moment
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
