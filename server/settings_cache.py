"""A per-process cache of the school's settings that nearly every submission reads and an admin
rarely changes: the alert rules and the incident categories.

Each request checks it with one cheap read: `settings_version` holds a token that database
triggers replace whenever `alert_rules`, `categories` or `agencies` change (migration
0010_performance), from whichever process, worker or client. A cached value is used only while
the token it was built under is still the token now, so a change made anywhere is seen by the
very next request of every gunicorn worker. The token is random, not a counter: a rolled-back
change cannot bring an old number back to match a stale entry.
"""

import threading
from collections.abc import Callable
from typing import Any

from flask import current_app, g, has_app_context
from sqlalchemy import String, event, text
from sqlalchemy.orm import Mapped, Session, mapped_column

from server.extensions import db


class SettingsVersion(db.Model):
    """One row whose token the settings tables' triggers replace on every change."""

    __tablename__ = "settings_version"
    id: Mapped[int] = mapped_column(primary_key=True)
    token: Mapped[str] = mapped_column(String(64))


# The roll and the classes too (migration 0013_roster_version): the roster is kept here.
SETTINGS_TABLES = frozenset({"alert_rules", "categories", "agencies", "pupils", "school_classes"})
_EXTENSION = "haven.settings_cache"


def _store() -> tuple[threading.Lock, dict[str, tuple[str, Any]]]:
    """This app's cache (kept on the app, so two apps in one process never share one)."""
    store = current_app.extensions.get(_EXTENSION)
    if store is None:
        store = current_app.extensions.setdefault(_EXTENSION, (threading.Lock(), {}))
    return store


def settings_token() -> str:
    """The token now; read once per request (kept on `g`)."""
    if has_app_context() and "settings_token" in g:
        return g.settings_token
    token = db.session.scalar(text("SELECT token FROM settings_version WHERE id = 1")) or ""
    if has_app_context():
        g.settings_token = token
    return token


def forget_token() -> None:
    """After this request changed settings itself, read the token afresh."""
    if has_app_context():
        g.pop("settings_token", None)


def cached(name: str, build: Callable[[], Any]) -> Any:
    """`build()`'s value, built again only when the settings have changed since."""
    lock, entries = _store()
    token = settings_token()
    with lock:
        hit = entries.get(name)
    if hit is not None and hit[0] == token:
        return hit[1]
    value = build()
    with lock:
        entries[name] = (token, value)
    return value


@event.listens_for(Session, "after_flush")
def _settings_flushed(session: Session, _context) -> None:
    """This transaction changed settings: its triggers gave a new token, so read it again."""
    changed = (*session.new, *session.dirty, *session.deleted)
    if any(getattr(type(item), "__tablename__", None) in SETTINGS_TABLES for item in changed):
        forget_token()
