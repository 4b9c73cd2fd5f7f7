"""Without Redis (`make run`, the embedded default), a thread of the web process runs the sweep
and escalation every PUSH_SWEEP_SECONDS, as the rq clock and workers do in production."""

import logging
import threading

from flask import Flask, current_app

from server.extensions import db

log = logging.getLogger(__name__)
_started: set[int] = set()
_lock = threading.Lock()


def start_if_needed() -> None:
    """Called at each request: the first one starts the loop, once per application."""
    app = current_app._get_current_object()
    if app.config["REDIS_URL"] or not app.config["PUSH_IN_PROCESS_LOOP"] or id(app) in _started:
        return
    with _lock:
        if id(app) in _started:
            return
        _started.add(id(app))
    threading.Thread(target=_run, args=(app,), name="haven-push-loop", daemon=True).start()


def _run(app: Flask) -> None:
    from server.push.delivery import sweep

    stop = threading.Event()
    while not stop.wait(app.config["PUSH_SWEEP_SECONDS"]):
        if app.config["REDIS_URL"] or not app.config["PUSH_IN_PROCESS_LOOP"]:
            continue  # switched off since (tests do): workers, or nobody, sweep instead
        with app.app_context():
            try:
                sweep()
            except Exception:
                log.exception("the in-process push sweep failed; trying again next time")
                db.session.rollback()
            finally:
                db.session.remove()
