"""Background jobs: queued on Redis for rq workers, or run in-process when no Redis is set.

Jobs take plain values (ids, strings), never ORM objects, and are enqueued only after the
transaction that asked for them has committed.
"""

import importlib
import logging
import os
from collections.abc import Callable
from functools import cache, wraps

from flask import current_app, has_app_context
from redis import Redis
from rq import Queue, Retry, Worker

log = logging.getLogger(__name__)


@cache
def _worker_app():
    from server import create_app

    return create_app()


# Modules holding jobs, imported by the worker before it forks rather than by every job.
JOB_MODULES = ("server.auth.operations", "server.push.delivery", "server.transfer.operations")


class HavenWorker(Worker):
    """An rq worker that builds the application and imports the jobs once, before it forks for
    each job, so a job does not spend a second importing and configuring (Procfile `worker`)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _worker_app()
        for module in JOB_MODULES:
            importlib.import_module(module)


def _fresh_connections_in_child() -> None:
    # A forked job must not share the parent's database connections.
    if _worker_app.cache_info().currsize:
        from server.extensions import db

        with _worker_app().app_context():
            db.engine.dispose(close=False)


os.register_at_fork(after_in_child=_fresh_connections_in_child)


def job(func: Callable) -> Callable:
    """Mark a function as a job: in an rq worker it runs inside the application's context."""

    @wraps(func)
    def run(*args, **kwargs):
        if has_app_context():
            return func(*args, **kwargs)
        with _worker_app().app_context():
            return func(*args, **kwargs)

    return run


def queue() -> Queue | None:
    url = current_app.config["REDIS_URL"]
    if not url:
        return None
    # A Redis that is away must not hold up the request that committed: the outbox keeps it.
    connection = Redis.from_url(url, socket_connect_timeout=5)
    return Queue(current_app.config["RQ_QUEUE"], connection=connection)


def enqueue(func: Callable, *args) -> None:
    """Run `func(*args)` in a worker, retried with back-off; in-process without Redis."""
    jobs = queue()
    if jobs is not None:
        jobs.enqueue(func, *args, retry=Retry(max=5, interval=[10, 30, 60, 300, 900]))
        return
    try:
        func(*args)
    except Exception:
        # In-process mode has no retry: the failure is logged for the operator, not shown to users.
        log.exception("in-process job %s failed", func.__name__)
