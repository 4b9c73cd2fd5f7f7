"""A database of a test's own, with real commits, and a small school recorded in it.

Integrity, role and backup tests attack or copy the database as a whole, from outside the
application (the `sqlite3` module, `psql`'s rights, a dump), so they cannot share the suite's
rolled-back transaction. Mark such tests `own_database`; they build one with `fresh_school`.
"""

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

import sqlalchemy as sa
from flask import Flask, g
from sqlalchemy.engine import make_url

from server.auth.accounts import create_user
from server.auth.models import User
from server.auth.roles import Role
from server.clock import utcnow
from server.extensions import db
from server.incidents.files import Upload
from server.incidents.models import Category
from server.incidents.operations import add_action, change_status, incident_by_number
from server.incidents.submission import submit_incident
from server.incidents.vocabulary import install_default_vocabulary
from server.pupils.models import Pupil, SchoolClass
from tests.conftest import DEFAULT_PASSWORD, make_database_url, make_test_app

PHOTO_NOTE = b"Plain notes about the graze, written by the first aider.\n"


@dataclass
class OwnSchool:
    app: Flask
    database_url: str
    instance: Path
    people: SimpleNamespace
    pupil_id: int
    category_id: int
    numbers: list[int] = field(default_factory=list)

    def record(self, account: str = "Said: “I slipped on the steps.”", files=()) -> int:
        with self.app.test_request_context():
            author = db.session.get(User, self.people.staff.id)
            receipt = submit_incident(
                author,
                {
                    "uuid": str(uuid.uuid4()),
                    "pupil_id": self.pupil_id,
                    "occurred_at": utcnow().replace(microsecond=0).isoformat(),
                    "location": "Playground",
                    "account": account,
                    "parents_contacted": "yes",
                    "medical_attention": "not_needed",
                    "category_ids": [self.category_id],
                    "body_marks": [
                        {"side": "front", "x": 0.25, "y": 0.5, "kind": "cut", "note": "Knee"}
                    ],
                },
                list(files),
            )
            db.session.commit()
        self.numbers.append(receipt.number)
        return receipt.number

    def add_action(self, number: int, text: str = "Phoned home.") -> None:
        with self.app.test_request_context():
            g.user_session = SimpleNamespace(
                last_assertion_at=utcnow(), stepped_up_at=None, review_active_at=None
            )
            teacher = db.session.get(User, self.people.teacher.id)
            add_action(teacher, incident_by_number(number), text)
            db.session.commit()

    def close(self, number: int) -> None:
        with self.app.test_request_context():
            g.user_session = SimpleNamespace(
                last_assertion_at=utcnow(), stepped_up_at=None, review_active_at=None
            )
            dsl = db.session.get(User, self.people.dsl.id)
            change_status(dsl, incident_by_number(number), "closed", "Resolved with parents.")
            db.session.commit()

    def count(self, table: str) -> int:
        with self.app.app_context():
            return db.session.scalar(sa.text(f"SELECT count(*) FROM {table}"))  # noqa: S608


def fresh_school(
    tmp_path_factory, label: str = "own", app_role: str | None = None, **config
) -> Iterator[OwnSchool]:
    """A migrated database of its own with three staff, a class, a pupil and one incident
    carrying a file and an action; yields it, then drops the database.

    With `app_role` (PostgreSQL), migrations run as the owner and the app as that role.
    """
    database = make_database_url(tmp_path_factory, f"{label}-db")
    url = next(database)
    if app_role:
        config.update(MIGRATION_DATABASE_URL=url, DB_APP_ROLE=app_role)
        url = make_url(url).set(username=app_role).render_as_string(hide_password=False)
    instance = tmp_path_factory.mktemp(f"{label}-instance")
    app = make_test_app(url, instance, AUDIT_HEAD_FILE=str(instance / "audit-heads"), **config)
    try:
        school = _populate(app, url, instance)
        yield school
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
        database.close()


def _populate(app: Flask, url: str, instance: Path) -> OwnSchool:
    with app.test_request_context():
        install_default_vocabulary()
        people = SimpleNamespace()
        for name, role in (("staff", Role.STAFF), ("teacher", Role.CLASS_TEACHER),
                           ("dsl", Role.DSL)):  # fmt: skip
            user = create_user(
                email=f"{name}@school.example",
                full_name=f"Test {name.title()}",
                roles=[role.value],
                password=DEFAULT_PASSWORD,
            )
            setattr(people, name, user)
        db.session.flush()
        school_class = SchoolClass(name="4B", year_group="4", teachers=[people.teacher])
        pupil = Pupil(
            upn="T000000000001",
            legal_first_name="Ada",
            legal_last_name="Quill",
            date_of_birth=utcnow().date().replace(year=2017),
            year_group="4",
            school_class=school_class,
            on_roll=True,
        )
        db.session.add_all([school_class, pupil])
        db.session.commit()
        category_id = db.session.scalar(
            sa.select(Category.id).where(Category.name == "Behaviour")
        )
        people = SimpleNamespace(
            **{name: SimpleNamespace(id=user.id) for name, user in vars(people).items()}
        )
        school = OwnSchool(app, url, instance, people, pupil.id, category_id)
    number = school.record(files=[Upload("note.txt", PHOTO_NOTE)])
    school.add_action(number)
    return school
