"""Benchmark (not a test): web push delivery by one rq worker to a local push service.

    .venv/bin/python -m bench.push_delivery [--incidents 300] [--latency-incidents 100]

Prints alerts delivered per second by one worker (the outbox filled first, then one worker
started), and the time from an incident's commit to each of its pushes arriving, at the 50th and
99th percentile, with incidents recorded one by one while the worker runs. Uses a throw-away
SQLite database (or DATABASE_URL's server, in a throw-away database), its own `redis-server` on
a free port, and the local push service of the tests (tests/push_service.py) on 127.0.0.1.
"""

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from contextlib import ExitStack
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))

import sqlalchemy as sa  # noqa: E402

from server.extensions import db  # noqa: E402
from server.push.models import PushDelivery  # noqa: E402
from tests.conftest import make_database_url, make_test_app  # noqa: E402
from tests.push_service import LocalPushService  # noqa: E402
from tests.test_push_chaos import OwnRedis, Processes, _record, _school  # noqa: E402


class _TmpFactory:
    """What `make_database_url` asks of pytest's tmp_path_factory."""

    def __init__(self, root: Path):
        self.root = root

    def mktemp(self, name: str) -> Path:
        return Path(tempfile.mkdtemp(prefix=name, dir=self.root))


def _env(app, redis_url: str, service_origin: str, database_url: str) -> dict:
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "HAVEN_RQ_QUEUE": app.config["RQ_QUEUE"],
        "HAVEN_INSTANCE_DIR": app.instance_path,
        "SECRET_KEY": app.config["SECRET_KEY"],
        "HAVEN_VAPID_PUBLIC_KEY": app.config["VAPID_PUBLIC_KEY"],
        "HAVEN_VAPID_PRIVATE_KEY": app.config["VAPID_PRIVATE_KEY"],
        "HAVEN_PUSH_LOCAL_SERVICE": service_origin,
    }


def _wait_for_messages(service, count: int, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while len(service.messages) < count:
        if time.monotonic() > deadline:
            raise SystemExit(f"only {len(service.messages)} of {count} pushes arrived")
        time.sleep(0.01)


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--incidents", type=int, default=300)
    parser.add_argument("--latency-incidents", type=int, default=100)
    args = parser.parse_args()
    per_incident = 4  # DSL on two devices, SLT, pastoral

    with ExitStack() as stack, tempfile.TemporaryDirectory() as tmp:
        factory = _TmpFactory(Path(tmp))
        database = make_database_url(factory, "bench-db")
        url = next(database)
        stack.callback(database.close)
        redis = OwnRedis()
        redis.start()
        stack.callback(redis.stop)
        service = stack.enter_context(LocalPushService())
        app = make_test_app(url, factory.mktemp("bench-instance"))
        app.config.update(
            REDIS_URL=redis.url,
            RQ_QUEUE=f"haven-bench-{uuid.uuid4().hex[:8]}",
            PUSH_LOCAL_SERVICE=service.origin,
        )
        env = _env(app, redis.url, service.origin, url)
        processes = Processes(env, app.config["RQ_QUEUE"], redis.url)
        stack.callback(processes.stop_all)
        author, pupil, category, devices = _school(app, service)

        # Throughput: fill the outbox with no worker, then one worker empties it.
        for _ in range(args.incidents):
            _record(app, author, pupil, category, urgent=False)
        expected = args.incidents * per_incident
        started = time.monotonic()
        processes.start_worker()
        _wait_for_messages(service, expected)
        elapsed = time.monotonic() - started
        first, last = service.messages[0].at, service.messages[-1].at
        print(
            f"one worker: {expected} alerts in {elapsed:.1f} s with its start = "
            f"{expected / elapsed:.0f} alerts/s; first to last push "
            f"{expected / (last - first):.0f} alerts/s"
        )

        # Latency: commit → arrival, one incident at a time while the worker runs.
        commits: list[tuple[int, float]] = []  # (highest alert id once committed, when)
        before = len(service.messages)
        for _ in range(args.latency_incidents):
            _record(app, author, pupil, category, urgent=False)
            committed_at = time.time()
            with app.app_context():
                highest = db.session.scalar(sa.select(sa.func.max(PushDelivery.alert_id)))
            commits.append((highest, committed_at))
            time.sleep(0.05)
        _wait_for_messages(service, before + args.latency_incidents * per_incident)
        by_token = {device.token: device for device in devices.values()}
        latencies = []
        for message in service.messages[before:]:
            tag = by_token[message.device].decrypt(message)["tag"]
            alert_id = int(tag.removeprefix("alert-"))
            committed_at = next(at for highest, at in commits if alert_id <= highest)
            latencies.append((message.at - committed_at) * 1000)
        print(
            f"commit → delivery over {len(latencies)} pushes: "
            f"p50 {statistics.median(latencies):.0f} ms, p99 {_percentile(latencies, 0.99):.0f} ms"
        )


if __name__ == "__main__":
    main()
