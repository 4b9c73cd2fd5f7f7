"""Benchmark (not a test): time and query count for a 500-entry chronology, the DSL's home
lists and each report, as the school's total number of incidents grows.

    .venv/bin/python -m bench.workspace                 # 10,000 then 100,000 incidents
    .venv/bin/python -m bench.workspace --totals 10000 100000 1000000

Uses a throw-away SQLite database unless DATABASE_URL names PostgreSQL (a throw-away database
is made beside it). Rows are bulk-inserted with SQLAlchemy Core `insert()` executemany, not
the ORM, so building a large school takes seconds rather than hours. Timings vary with the
machine and are printed, never asserted; the query counts are held by tests.
"""

import argparse
import hashlib
import os
import random
import tempfile
import time
import uuid
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

from server.alerts.models import IncidentRead
from server.auth.accounts import create_user
from server.auth.models import User
from server.chronology.build import build_chronology
from server.extensions import db
from server.home.workspace import workspace
from server.incidents.models import (
    Action,
    Agency,
    Category,
    Incident,
    IncidentEvent,
    incident_agencies,
    incident_categories,
)
from server.incidents.vocabulary import install_default_vocabulary
from server.pupils.models import Pupil, SchoolClass
from server.reports import governors, inspection, render
from server.reports.documents import build_document
from server.reports.names import NameHider
from server.reports.periods import year
from tests.conftest import make_test_app

PUPILS = 1000
SUBJECT_INCIDENTS = 250  # with one action each: a 500-entry chronology
FIRST_DAY = datetime(2024, 9, 2, 8, tzinfo=UTC)
SPAN = timedelta(days=800)
BATCH = 5000
BENCH_PASSWORD = "Correct-Horse-42!"  # noqa: S105 (a throw-away database)


def _database_url(tmp: Path):
    base = os.environ.get("DATABASE_URL", "")
    if base.startswith(("postgres://", "postgresql")):
        from tests.conftest import _postgres_test_database

        return _postgres_test_database(base.replace("postgres://", "postgresql://", 1))
    return iter([f"sqlite:///{tmp / 'bench.sqlite3'}"])


def _school():
    """Staff, classes, pupils and the vocabulary, through the ordinary functions."""
    install_default_vocabulary()
    dsl = create_user(
        email="bench.dsl@school.example",
        full_name="Bench Lead",
        roles=["dsl"],
        password=BENCH_PASSWORD,
    )
    staff = create_user(
        email="bench.ta@school.example",
        full_name="Bench Assistant",
        roles=["staff"],
        password=BENCH_PASSWORD,
    )
    classes = [SchoolClass(name=f"C{n}", year_group=str(n % 6 + 1)) for n in range(30)]
    db.session.add_all(classes)
    db.session.flush()
    db.session.execute(
        sa.insert(Pupil),
        [
            {
                "upn": f"B{n:012d}",
                "legal_first_name": f"Pupil{n}",
                "legal_last_name": f"Surname{n}",
                "date_of_birth": date(2015, 1, 1) + timedelta(days=n % 2000),
                "year_group": "4",
                "class_id": classes[n % len(classes)].id,
                "on_roll": True,
            }
            for n in range(PUPILS)
        ],
    )
    db.session.commit()
    pupil_ids = list(db.session.scalars(sa.select(Pupil.id).order_by(Pupil.id)))
    # Leaf categories only, as staff choose them.
    parents = sa.select(Category.parent_id).where(Category.parent_id.isnot(None))
    categories = list(db.session.scalars(sa.select(Category.id).where(Category.id.not_in(parents))))
    agencies = list(db.session.scalars(sa.select(Agency.id)))
    return dsl.id, staff.id, pupil_ids, categories, agencies


def _insert_incidents(start: int, count: int, school, subject_id: int, rng) -> None:
    """Incidents numbered from `start`, with categories, some agencies, closings, DSL reads
    and actions, in batches of Core executemany."""
    dsl_id, staff_id, pupil_ids, categories, agencies = school
    for first in range(start, start + count, BATCH):
        numbers = range(first, min(first + BATCH, start + count))
        rows, cats, agency_rows, events, reads, actions = [], [], [], [], [], []
        for number in numbers:
            subject = number < SUBJECT_INCIDENTS
            occurred = FIRST_DAY + SPAN * rng.random()
            rows.append(
                {
                    "id": number + 1,
                    "number": 1001 + number,
                    "uuid": str(uuid.UUID(int=rng.getrandbits(128))),
                    "content_hash": hashlib.sha256(str(number).encode()).hexdigest(),
                    "pupil_id": subject_id if subject else rng.choice(pupil_ids[1:]),
                    "occurred_at": occurred,
                    "account": f"Bench account {number}: Pupil{number % PUPILS} was upset.",
                    "parents_contacted": "yes",
                    "medical_attention": "not_needed",
                    "urgent": number % 50 == 0,
                    "author_id": staff_id,
                    "created_at": occurred + timedelta(minutes=5),
                }
            )
            cats.append({"incident_id": number + 1, "category_id": rng.choice(categories)})
            if number % 10 == 0:
                agency_rows.append({"incident_id": number + 1, "agency_id": rng.choice(agencies)})
            if number % 2 == 0 and not subject:
                events.append(
                    {
                        "incident_id": number + 1,
                        "kind": "closed",
                        "note": "Resolved.",
                        "author_id": dsl_id,
                        "created_at": occurred + timedelta(days=rng.randint(1, 20)),
                    }
                )
            reads.append(
                {
                    "incident_id": number + 1,
                    "user_id": dsl_id,
                    "read_at": occurred + timedelta(minutes=rng.randint(6, 240)),
                }
            )
            if subject:
                actions.append(
                    {
                        "incident_id": number + 1,
                        "author_id": dsl_id,
                        "text": f"Follow-up on {number}.",
                        "created_at": occurred + timedelta(hours=2),
                    }
                )
        db.session.execute(sa.insert(Incident), rows)
        db.session.execute(sa.insert(incident_categories), cats)
        for table, values in (
            (incident_agencies, agency_rows),
            (IncidentEvent, events),
            (IncidentRead, reads),
            (Action, actions),
        ):
            if values:
                db.session.execute(sa.insert(table), values)
        db.session.commit()


@contextmanager
def _measured(label: str, results: list, *, cold: bool = True):
    count = 0

    def counter(*_args):
        nonlocal count
        count += 1

    engine = db.session.get_bind()
    sa.event.listen(engine, "before_cursor_execute", counter)
    if cold:  # nothing already loaded: every query the work needs is counted
        db.session.expunge_all()
    started = time.perf_counter()
    try:
        yield
    finally:
        elapsed = time.perf_counter() - started
        sa.event.remove(engine, "before_cursor_execute", counter)
        results.append((label, elapsed, count))


def _measure(total: int, dsl_id: int, subject_id: int, with_pdf: bool) -> list:
    results: list = []
    user = lambda: db.session.get(User, dsl_id)  # noqa: E731
    # Once unmeasured, so the first figure does not carry SQL compilation and cold caches.
    build_chronology(user(), db.session.get(Pupil, subject_id), None, review=True)
    with _measured("chronology (500 entries)", results):
        chronology = build_chronology(
            user(), db.session.get(Pupil, subject_id), None, with_corrections=True, review=True
        )
        assert len(chronology.entries) == 2 * SUBJECT_INCIDENTS, len(chronology.entries)
    with _measured("DSL home lists", results):
        workspace(user(), None)
    params = {"pupil_id": subject_id, "filters": {}, "names": "initials"}
    with _measured("case conference: gather", results):
        document = build_document("case_conference", user(), params, None, review=True)
    if with_pdf:
        with _measured("case conference: PDF", results, cold=False):
            render.pdf_bytes(document)
    with _measured("governors (year): figures", results):
        governors.governors_report(year(2025))
    with _measured("governors (term): figures + PDF", results):
        build = build_document(
            "governors", user(), {"period": {"period": "term", "term": "autumn", "year": "2025"}},
            None, review=True,
        )  # fmt: skip
        render.pdf_bytes(build)
    with _measured("inspection (year): referrals + CSV", results):
        referrals = inspection.referrals(year(2025))
        hide = NameHider("initials", db.session.scalars(sa.select(Pupil)).all())
        render.csv_bytes(inspection.csv_rows(referrals, hide))
    print(f"\n{total:,} incidents ({len(referrals):,} referrals in the year)")
    for label, elapsed, count in results:
        print(f"  {label:<38} {elapsed * 1000:9.0f} ms  {count:4d} queries")
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--totals", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--no-pdf", action="store_true", help="skip the 500-entry PDF")
    args = parser.parse_args()
    rng = random.Random(42)  # noqa: S311
    with tempfile.TemporaryDirectory() as tmp:
        urls = _database_url(Path(tmp))
        app = make_test_app(next(urls), Path(tmp) / "instance")
        with app.test_request_context():
            school = _school()
            subject_id = school[2][0]
            inserted = 0
            for total in sorted(args.totals):
                started = time.perf_counter()
                _insert_incidents(inserted, total - inserted, school, subject_id, rng)
                print(
                    f"inserted {total - inserted:,} incidents with Core executemany "
                    f"in {time.perf_counter() - started:.1f} s"
                )
                inserted = total
                _measure(total, school[0], subject_id, not args.no_pdf)
            db.session.remove()
            db.engine.dispose()


if __name__ == "__main__":
    main()
