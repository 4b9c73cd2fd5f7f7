"""Background jobs: queued on Redis for rq workers, or run in-process when no Redis is set.

Jobs take plain values (ids, strings), never ORM objects, and are enqueued only after the
transaction that asked for them has committed.
"""

import logging
from collections.abc import Callable
from functools import cache, wraps

from flask import current_app, has_app_context
from redis import Redis
from rq import Queue, Retry

log = logging.getLogger(__name__)


@cache
def _worker_app():
    from server import create_app

    return create_app()


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
    return Queue(current_app.config["RQ_QUEUE"], connection=Redis.from_url(url))


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
