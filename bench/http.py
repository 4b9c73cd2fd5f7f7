"""Benchmark (not a test): Haven over HTTP under gunicorn on PostgreSQL, beside two floors.

    .venv/bin/python -m bench.http                       # or: make bench
    .venv/bin/python -m bench.http --workers 2 --duration 4 --alerts 1000 10000

Makes a throw-away PostgreSQL database beside DATABASE_URL (default the local `test`
database), migrates it, seeds the demo school, grows the roll to 2,000 pupils, then starts
gunicorn (`bench.floor_app`: Haven plus a bare Flask JSON view and a bare one-INSERT view in
the same process) and drives each endpoint with `wrk` (32 connections; a Lua script sends each
`POST /api/incidents` with a fresh UUID). It prints req/s, p50, p99, the ratio to its floor
(pages to the bare JSON view, the submission to the one-INSERT view) and the queries each
request makes (counted in-process with a `before_cursor_execute` listener), at each number of
workers. Then, in-process: the DSL's alert inbox (page 1 and a later page) at 1,000, 10,000
and 100,000 alerts, and the roster's time and size at 2,000 and 10,000 pupils.

Timings vary with the machine and whatever else runs on it; they are printed, never asserted.
"""

import argparse
import os
import re
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

BENCH_PASSWORD = "Correct-Horse-42!"  # noqa: S105 (a throw-away database)
TREE = Path(__file__).resolve().parent.parent
LUA_SCRIPT = Path(__file__).with_name("requests.lua")
SUBMISSION_FLOOR = "bare one-INSERT"
PAGE_FLOOR = "bare Flask JSON"


# --- The database and the app's environment (set before `server` is imported) ------------


def _base_url() -> str:
    base = os.environ.get("DATABASE_URL") or "postgresql://postgres@127.0.0.1:5432/test"
    if not base.startswith(("postgres://", "postgresql")):
        sys.exit("bench.http measures PostgreSQL: set DATABASE_URL to a PostgreSQL server.")
    return base.replace("postgres://", "postgresql://", 1)


@contextmanager
def bench_database():
    from urllib.parse import urlsplit, urlunsplit

    import sqlalchemy as sa

    parts = urlsplit(_base_url().replace("postgresql://", "postgresql+psycopg://", 1))
    name = f"haven_bench_{secrets.token_hex(4)}"
    admin = sa.create_engine(urlunsplit(parts), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield urlunsplit(parts._replace(path=f"/{name}"))
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def app_environment(url: str, instance: Path, port: int) -> dict[str, str]:
    return {
        "DATABASE_URL": url,
        "SECRET_KEY": secrets.token_hex(32),
        "HAVEN_AUDIT_KEY": secrets.token_hex(32),
        "HAVEN_INSTANCE_DIR": str(instance),
        "HAVEN_UPLOAD_DIR": str(instance / "uploads"),
        "HAVEN_AUDIT_HEAD_FILE": str(instance / "audit-heads"),
        "HAVEN_BASE_URL": f"http://127.0.0.1:{port}",
        "HAVEN_SCHOOL_NAME": "Larkfield Primary School (demo)",
        # The push loop is a background thread for deliveries; nothing here subscribes.
        "HAVEN_PUSH_IN_PROCESS_LOOP": "0",
        "REDIS_URL": "",
    }


# --- Seeding ------------------------------------------------------------------------------


def seed(app, pupils: int):
    """The demo school, its roll grown to `pupils`; returns who and what the bench uses."""
    from flask_migrate import upgrade
    from sqlalchemy import select

    from bench.floor_app import create_floor_table
    from server.auth.models import User
    from server.auth.roles import Role
    from server.demo.seed import seed_demo_school
    from server.extensions import db
    from server.incidents.models import Category
    from server.pupils.models import Pupil, SchoolClass

    with app.app_context():
        upgrade(revision="heads")
    with app.test_request_context():
        seed_demo_school()
        db.session.commit()
        grow_roll(pupils)
        teacher = next(
            u for u in db.session.scalars(select(User).order_by(User.id))
            if u.roles == {Role.CLASS_TEACHER}
        )  # fmt: skip
        dsl = next(
            u for u in db.session.scalars(select(User).order_by(User.id)) if Role.DSL in u.roles
        )
        own_class = db.session.scalar(
            select(SchoolClass).where(SchoolClass.teachers.any(User.id == teacher.id))
        )
        pupil_id = db.session.scalar(
            select(Pupil.id).where(Pupil.class_id == own_class.id).order_by(Pupil.id).limit(1)
        )
        behaviour = db.session.scalar(select(Category.id).where(Category.name == "Behaviour"))
        result = {"teacher": teacher.id, "dsl": dsl.id, "pupil": pupil_id, "category": behaviour}
        db.session.remove()
    create_floor_table(app.config["SQLALCHEMY_DATABASE_URI"])
    return result


def grow_roll(total: int) -> None:
    """More fictional pupils (Core executemany), until the roll holds `total`."""
    import sqlalchemy as sa

    from server.extensions import db
    from server.pupils.models import Pupil, SchoolClass

    have = db.session.scalar(sa.select(sa.func.count(Pupil.id)))
    classes = list(db.session.scalars(sa.select(SchoolClass.id).order_by(SchoolClass.id)))
    rows = [
        {
            "upn": f"Z{n:012d}",
            "legal_first_name": f"Bench{n}",
            "legal_last_name": f"Pupil{n:05d}",
            "date_of_birth": date(2015, 1, 1) + timedelta(days=n % 2000),
            "year_group": "4",
            "class_id": classes[n % len(classes)],
            "on_roll": True,
        }
        for n in range(have, total)
    ]
    if rows:
        db.session.execute(sa.insert(Pupil), rows)
    db.session.commit()


def session_cookie(
    app, user_id: int, raw_csrf: str, *, stepped_up: bool = False
) -> tuple[str, str]:
    """(Cookie header, X-CSRFToken) for a live server-side session of `user_id`; with
    `stepped_up`, review unlocked as after a passkey step-up (the DSL's whole-school view)."""
    from itsdangerous import URLSafeTimedSerializer

    from server.auth.models import UserSession
    from server.auth.sessions import SESSION_TOKEN_KEY, token_digest
    from server.extensions import db

    token = secrets.token_urlsafe(32)
    with app.test_request_context():
        row = UserSession(token_hash=token_digest(token), user_id=user_id)
        if stepped_up:
            from server.clock import utcnow

            # Long enough for the growth runs: the bench's own session, never a real one.
            row.stepped_up_at = row.last_assertion_at = row.review_active_at = utcnow()
        db.session.add(row)
        db.session.commit()
        signer = app.session_interface.get_signing_serializer(app)
        cookie = signer.dumps(
            {SESSION_TOKEN_KEY: token, "csrf_token": raw_csrf, "_permanent": True}
        )
        db.session.remove()
    csrf = URLSafeTimedSerializer(app.secret_key, salt="wtf-csrf-token").dumps(raw_csrf)
    return f"{app.config['SESSION_COOKIE_NAME']}={cookie}", csrf


# --- Counting queries in-process ------------------------------------------------------------


@contextmanager
def counted_queries():
    import sqlalchemy as sa

    from server.extensions import db

    counts = {"queries": 0}

    def count(*_args):
        counts["queries"] += 1

    engine = db.engine
    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        yield counts
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)


def request_queries(app, cookie: str, csrf: str, method: str, path: str, body=None) -> int:
    client = app.test_client()
    name, value = cookie.split("=", 1)
    client.set_cookie(name, value, domain="127.0.0.1")
    headers = {"X-CSRFToken": csrf, "Accept": "application/json", "Host": "127.0.0.1"}

    def fresh(body):
        return None if body is None else {**body, "uuid": str(_uuid4())}

    # Warm (compiled statements, the settings cache): accepted, so it warms what a POST uses.
    client.open(path, method=method, json=fresh(body), headers=headers)
    body = fresh(body)
    with app.app_context(), counted_queries() as counts:
        response = client.open(path, method=method, json=body, headers=headers)
    assert response.status_code < 400, (path, response.status_code, response.get_data()[:300])
    return counts["queries"]


def _uuid4():
    import uuid

    return uuid.uuid4()


# --- gunicorn and wrk ----------------------------------------------------------------------


@contextmanager
def gunicorn(
    tree: Path,
    env: dict[str, str],
    port: int,
    *options: str,
    app: str = "bench.floor_app:create_bench_app()",
    ready_path: str = "/bare/json",
):
    """gunicorn serving `app` from `tree` with these options, once it answers `ready_path`
    (bench.form_ready starts Haven itself the same way)."""
    command = [
        str(Path(sys.executable).with_name("gunicorn")),
        *options,
        "--bind", f"127.0.0.1:{port}",
        "--log-level", "warning",
        app,
    ]  # fmt: skip
    process = subprocess.Popen(  # noqa: S603 (our own command line)
        command, cwd=tree, env={**os.environ, **env, "PYTHONPATH": str(tree)}
    )
    try:
        _wait_until_up(f"http://127.0.0.1:{port}{ready_path}", process)
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_until_up(url: str, process) -> None:
    deadline = time.monotonic() + 300  # eight workers on a loaded two-core machine are slow
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("gunicorn exited before it answered")
        try:
            urllib.request.urlopen(url, timeout=2).read()  # noqa: S310
            return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError("gunicorn did not answer within five minutes")


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _millis(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text.strip()).groups()
    return float(number) * _UNITS[unit]


def wrk(url: str, *, connections: int, duration: float, headers: dict, args=()):
    command = [
        "wrk",
        "-t2",
        f"-c{connections}",
        f"-d{duration:g}s",
        "--latency",
        "--timeout",
        "10s",
    ]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    command += ["-s", str(LUA_SCRIPT)]
    command.append(url)
    if args:
        command += ["--", *args]
    done = subprocess.run(command, capture_output=True, text=True)  # noqa: S603
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed: {done.stderr or done.stdout}")
    output = done.stdout
    latency = dict(re.findall(r"^\s+(50|99)%\s+(\S+)\s*$", output, re.MULTILINE))
    if not {"50", "99"} <= latency.keys():
        raise RuntimeError(f"wrk measured nothing at {url}:\n{output}")
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    socket_errors = re.search(r"Socket errors: (.*)$", output, re.MULTILINE)
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),
        "p50": _millis(latency["50"]),
        "p99": _millis(latency["99"]),
        "bad": int(errors.group(1)) if errors else 0,
        "socket": socket_errors.group(1) if socket_errors else "",
    }


def _check_answers(method: str, url: str, headers: dict, template: str) -> None:
    """One request before measuring: an endpoint that refuses the bench is not measured."""
    import uuid

    body = None
    if method == "POST":
        body = template.replace("%UUID%", str(uuid.uuid4())).encode()
        headers = {**headers, "Content-Type": "application/json"}
    request = urllib.request.Request(url, data=body, headers=headers, method=method)  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            status = response.status
    except urllib.error.HTTPError as error:
        raise RuntimeError(f"{method} {url}: {error.code} {error.read()[:500]!r}") from None
    if status >= 300:
        raise RuntimeError(f"{method} {url} answered {status}")


def submission_body(ids: dict) -> dict:
    occurred = (datetime.now(UTC) - timedelta(hours=1)).replace(microsecond=0)
    return {
        "pupil_id": ids["pupil"],
        "occurred_at": occurred.isoformat(),
        "location": "Playground",
        "account": "Bench: said they were pushed at the climbing frame; graze on the left knee.",
        "parents_contacted": "yes",
        "medical_attention": "not_needed",
        "category_ids": [ids["category"]],
        "urgent": False,
    }


# --- Growth: the inbox and the roster --------------------------------------------------------


def grow_alerts(total: int, dsl_id: int, author_id: int, unread: int | None = None) -> None:
    """Incidents (Core executemany) each alerting the DSL, until she has `total` alerts; every
    other one read, and a few urgent, as a school's history would have."""
    import hashlib
    import uuid

    import sqlalchemy as sa

    from server.alerts.models import Alert, IncidentRead
    from server.extensions import db
    from server.incidents.models import Category, Incident, incident_categories
    from server.pupils.models import Pupil

    have = db.session.scalar(sa.select(sa.func.count(Alert.id)).where(Alert.user_id == dsl_id))
    pupils = list(db.session.scalars(sa.select(Pupil.id).order_by(Pupil.id).limit(500)))
    behaviour = db.session.scalar(sa.select(Category.id).where(Category.name == "Behaviour"))
    next_id = (db.session.scalar(sa.select(sa.func.max(Incident.id))) or 0) + 1
    number = (db.session.scalar(sa.select(sa.func.max(Incident.number))) or 1000) + 1
    start = datetime(2023, 9, 4, 9, tzinfo=UTC)
    todo = total - have
    for first in range(0, todo, 5000):
        batch = range(first, min(todo, first + 5000))
        incidents, categories, alerts, reads = [], [], [], []
        for offset in batch:
            incident_id, moment = next_id + offset, start + timedelta(minutes=7 * (have + offset))
            incidents.append(
                {
                    "id": incident_id,
                    "number": number + offset,
                    "uuid": str(uuid.uuid4()),
                    "content_hash": hashlib.sha256(str(incident_id).encode()).hexdigest(),
                    "pupil_id": pupils[offset % len(pupils)],
                    "occurred_at": moment,
                    "account": "Bench history: upset at lunchtime.",
                    "parents_contacted": "yes",
                    "medical_attention": "not_needed",
                    "urgent": offset % 97 == 0,
                    "author_id": author_id,
                    "created_at": moment,
                }
            )
            categories.append({"incident_id": incident_id, "category_id": behaviour})
            alerts.append(
                {
                    "user_id": dsl_id,
                    "incident_id": incident_id,
                    "reason": "dsl",
                    "created_at": moment,
                }
            )
            if (offset % 2 == 0) if unread is None else (offset < todo - unread):
                reads.append(
                    {
                        "incident_id": incident_id,
                        "user_id": dsl_id,
                        "read_at": moment + timedelta(hours=1),
                    }
                )
        db.session.execute(sa.insert(Incident), incidents)
        db.session.execute(sa.insert(incident_categories), categories)
        db.session.execute(sa.insert(Alert), alerts)
        if reads:  # an empty executemany would insert one row of defaults
            db.session.execute(sa.insert(IncidentRead), reads)
        db.session.commit()
    if db.engine.dialect.name == "postgresql":
        sequence = db.session.scalar(sa.text("SELECT pg_get_serial_sequence('incidents', 'id')"))
        db.session.execute(sa.text(f"SELECT setval('{sequence}', (SELECT max(id) FROM incidents))"))  # noqa: S608
        db.session.execute(sa.text("ANALYZE"))
        db.session.commit()


def timed_get(app, cookie: str, path: str, runs: int = 7) -> tuple[float, int, int]:
    """(median ms, queries, bytes) of GET `path` in-process with a signed-in cookie."""
    client = app.test_client()
    name, value = cookie.split("=", 1)
    client.set_cookie(name, value, domain="127.0.0.1")
    headers = {"Host": "127.0.0.1", "Accept": "text/html,application/json"}
    response = client.get(path, headers=headers)
    assert response.status_code == 200, (path, response.status_code)
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        response = client.get(path, headers=headers)
        times.append((time.perf_counter() - started) * 1000)
    with app.app_context(), counted_queries() as counts:
        response = client.get(path, headers=headers)
    return statistics.median(times), counts["queries"], len(response.get_data())


def roster_server_time(app, user_id: int, runs: int = 7) -> tuple[float, float]:
    """Median ms of the roster's domain functions alone (the '≤ 5 ms server time'): what the
    view calls per request (`roster_json`, kept per process until the roll changes), and
    building it afresh (`roster`), which happens once per change."""
    from server.auth.models import User
    from server.extensions import db
    from server.incidents import form_data

    medians = []
    for function in (form_data.roster_json, form_data.roster):
        times = []
        with app.test_request_context():
            user = db.session.get(User, user_id)
            function(user)
            for _ in range(runs):
                started = time.perf_counter()
                function(user)
                times.append((time.perf_counter() - started) * 1000)
            db.session.remove()
        medians.append(statistics.median(times))
    return medians[0], medians[1]


# --- The run -------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, nargs="*", default=[2, 8])
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--duration", type=float, default=8)
    parser.add_argument("--pupils", type=int, default=2000, help="the roll during the wrk runs")
    parser.add_argument("--alerts", type=int, nargs="*", default=[1000, 10_000, 100_000])
    parser.add_argument("--roster-sizes", type=int, nargs="*", default=[2000, 10_000])
    parser.add_argument(
        "--unread",
        type=int,
        default=None,
        help="keep only this many of the DSL's newest alerts unread (default: every other one)",
    )
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--tree", type=Path, default=TREE, help="the Haven tree gunicorn serves")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed (Debian: apt-get install wrk).")
    with tempfile.TemporaryDirectory() as tmp, bench_database() as url:
        instance = Path(tmp) / "instance"
        instance.mkdir()
        env = app_environment(url, instance, args.port)
        os.environ.update(env)
        from server import create_app

        app = create_app()
        print(f"Seeding the demo school with {args.pupils:,} pupils …", flush=True)
        ids = seed(app, args.pupils)
        grow_alerts_in_app(app, args.alerts[0] if args.alerts else 0, ids, args.unread)
        raw_csrf = secrets.token_hex(20)
        # One session per connection: 32 people at 32 devices, as at 8.45 in a school.
        people = [session_cookie(app, ids["teacher"], raw_csrf) for _ in range(args.connections)]
        cookie, csrf = people[0]
        dsl_cookie, _ = session_cookie(app, ids["dsl"], raw_csrf)
        body = submission_body(ids)
        endpoints = _endpoints(args.port, body)
        queries = {
            label: request_queries(app, cookie, csrf, method, path, payload)
            for label, (method, path, payload, _floor) in endpoints.items()
            if not path.startswith("/bare")
        }
        template = _template(body)
        nonce = secrets.token_hex(4)
        headers = {"X-CSRFToken": csrf, "Accept": "application/json"}
        for workers in args.workers:
            rows = {}
            options = ("--workers", str(workers), "--backlog", "2048")
            with gunicorn(args.tree, env, args.port, *options):
                for label, (method, path, _payload, _floor) in endpoints.items():
                    target = f"http://127.0.0.1:{args.port}{path}"
                    lua_args = [nonce, method, template if method == "POST" else ""]
                    lua_args += [value for value, _csrf in people]
                    page_headers = headers if path.startswith(("/api", "/bare")) else {
                        **headers, "Accept": "text/html"
                    }  # fmt: skip
                    _check_answers(method, target, {**page_headers, "Cookie": cookie}, template)
                    wrk(
                        target,
                        connections=args.connections,
                        duration=1,
                        headers=page_headers,
                        args=lua_args,
                    )  # fmt: skip  (warm-up, not counted)
                    rows[label] = wrk(
                        target, connections=args.connections, duration=args.duration,
                        headers=page_headers, args=lua_args,
                    )  # fmt: skip
                    analyse(url)
            _print_table(workers, args, rows, endpoints, queries)
        _growth(app, args, ids, dsl_cookie, cookie)
        from server.extensions import db

        with app.app_context():
            db.engine.dispose()


def analyse(url: str) -> None:
    """ANALYZE after each endpoint's run, as autovacuum would: the submissions grow the bench
    teacher's history from nothing to thousands of incidents in seconds, and a PostgreSQL with
    autovacuum off (as on the development machine) would plan the pages that follow for the
    empty tables of the start, nested loops over thousands of rows included. A server's
    autovacuum analyses a table that grew this much within its naptime (one minute)."""
    import sqlalchemy as sa

    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(sa.text("ANALYZE"))
    engine.dispose()


def grow_alerts_in_app(app, total: int, ids: dict, unread: int | None = None) -> None:
    if total:
        with app.test_request_context():
            from server.extensions import db

            grow_alerts(total, ids["dsl"], ids["teacher"], unread)
            db.session.remove()


def _endpoints(port: int, body: dict) -> dict:
    return {
        PAGE_FLOOR: ("GET", "/bare/json", None, None),
        SUBMISSION_FLOOR: ("POST", "/bare/insert", body, None),
        "POST /api/incidents": ("POST", "/api/incidents", body, SUBMISSION_FLOOR),
        "GET /api/roster": ("GET", "/api/roster", None, PAGE_FLOOR),
        "GET /incidents/new": ("GET", "/incidents/new", None, PAGE_FLOOR),
        "GET / (home)": ("GET", "/", None, PAGE_FLOOR),
    }


def _template(body: dict) -> str:
    import json

    return json.dumps({**body, "uuid": "%UUID%"}, separators=(",", ":"))


def _print_table(workers: int, args, rows: dict, endpoints: dict, queries: dict) -> None:
    print(
        f"\ngunicorn {workers} sync workers, {args.connections} connections, "
        f"{args.duration:g} s each, {args.pupils:,} pupils on the roll"
    )
    print(
        f"  {'endpoint':<22} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'× floor':>8} {'queries':>8}  errors"  # noqa: E501 (a table row)
    )
    for label, (_method, _path, _payload, floor) in endpoints.items():
        row = rows[label]
        ratio = f"{row['rps'] / rows[floor]['rps']:.2f}" if floor else "—"
        count = str(queries.get(label, 0 if label == PAGE_FLOOR else 1))
        errors = (f"{row['bad']} non-2xx " if row["bad"] else "") + row["socket"]
        print(
            f"  {label:<22} {row['rps']:8.0f} {row['p50']:8.1f} {row['p99']:8.1f} {ratio:>8} "
            f"{count:>8}  {errors}"
        )
    submission = rows["POST /api/incidents"]
    print(
        f"  goal: submission ≥ 0.50 × one-INSERT with p99 ≤ 100 ms "
        f"(now {submission['rps'] / rows[SUBMISSION_FLOOR]['rps']:.2f}, {submission['p99']:.0f} ms); "  # noqa: E501 (a table row)
        "pages ≥ 0.25 × bare JSON", flush=True,
    )  # fmt: skip


def _growth(app, args, ids: dict, dsl_cookie: str, cookie: str) -> None:
    if args.alerts:
        print("\nThe DSL's alert inbox as her alerts grow (in-process, median of 7)")
        print(
            f"  {'alerts':>8} {'page 1 ms':>10} {'queries':>8} {'page 2 ms':>10} {'home ms':>8} {'queries':>8} {'home† ms':>9} {'queries':>8}"  # noqa: E501 (a table row)
        )
        print("  († the DSL's home page with review unlocked: the whole school's incidents)")
    for total in args.alerts:
        grow_alerts_in_app(app, total, ids, args.unread)
        first, first_queries, _ = timed_get(app, dsl_cookie, "/alerts")
        second_path = _second_page(app, dsl_cookie)
        second, _, _ = timed_get(app, dsl_cookie, second_path)
        home, home_queries, _ = timed_get(app, dsl_cookie, "/")
        # A fresh step-up each time: review locks 15 minutes after it (growing takes a while).
        review_cookie, _ = session_cookie(app, ids["dsl"], secrets.token_hex(20), stepped_up=True)
        review, review_queries, _ = timed_get(app, review_cookie, "/")
        print(
            f"  {total:>8,} {first:10.1f} {first_queries:8d} {second:10.1f} {home:8.1f} {home_queries:8d} {review:9.1f} {review_queries:8d}",  # noqa: E501 (a table row)
            flush=True,
        )
    if args.roster_sizes:
        print("\nThe roster as the roll grows (in-process, median of 7)")
        print(
            f"  {'pupils':>8} {'server ms':>10} {'build ms':>9} {'request ms':>11} {'queries':>8} {'bytes':>10} {'bytes/pupil':>12}"  # noqa: E501 (a table row)
        )
    for total in args.roster_sizes:
        with app.test_request_context():
            from server.extensions import db

            grow_roll(total)
            db.session.remove()
        request_ms, queries, size = timed_get(app, cookie, "/api/roster")
        server_ms, build_ms = roster_server_time(app, ids["teacher"])
        print(
            f"  {total:>8,} {server_ms:10.1f} {build_ms:9.1f} {request_ms:11.1f} {queries:8d} "
            f"{size:10,} {size / total:12.1f}", flush=True,
        )  # fmt: skip


def _second_page(app, cookie: str) -> str:
    """The inbox's link to its next page, whatever form it takes (page number or cursor)."""
    client = app.test_client()
    name, value = cookie.split("=", 1)
    client.set_cookie(name, value, domain="127.0.0.1")
    html = client.get("/alerts", headers={"Host": "127.0.0.1"}).get_data(as_text=True)
    found = re.search(r'href="(/alerts\?[^"]*(?:page|after)=[^"]+)"', html)
    return found.group(1).replace("&amp;", "&") if found else "/alerts?page=2"


if __name__ == "__main__":
    main()
