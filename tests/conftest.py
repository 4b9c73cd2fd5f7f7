"""Shared fixtures: one migrated database per test run, a rolled-back transaction per test.

Set DATABASE_URL to a PostgreSQL server to run against it (a fresh database is created and
dropped for the run); REDIS_URL to send jobs through a real rq queue. Otherwise SQLite and
in-process jobs are used.
"""

import os
import secrets
import uuid
from collections.abc import Callable, Iterator
from urllib.parse import urlsplit, urlunsplit

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from flask_migrate import upgrade
from flask_sqlalchemy.session import _app_ctx_id
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy.orm import scoped_session, sessionmaker

from server import create_app, jobs
from server.auth.accounts import create_user
from server.auth.models import User, UserSession
from server.auth.roles import Role
from server.auth.sessions import SESSION_TOKEN_KEY, token_digest
from server.clock import utcnow
from server.config import TestConfig
from server.extensions import db

DEFAULT_PASSWORD = "Correct-Horse-42!"


def _postgres_test_database(base_url: str) -> Iterator[str]:
    """A throw-away database beside the one named in DATABASE_URL, so parallel runs never meet."""
    parts = urlsplit(base_url.replace("postgresql://", "postgresql+psycopg://", 1))
    name = f"haven_test_{secrets.token_hex(4)}"
    admin = sa.create_engine(urlunsplit(parts), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield urlunsplit(parts._replace(path=f"/{name}"))
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def make_database_url(tmp_path_factory, label: str) -> Iterator[str]:
    base = os.environ.get("DATABASE_URL", "")
    if base.startswith(("postgres://", "postgresql")):
        yield from _postgres_test_database(base.replace("postgres://", "postgresql://", 1))
    else:
        yield f"sqlite:///{tmp_path_factory.mktemp(label) / 'haven.sqlite3'}"


def make_test_app(database_url: str, instance_dir, **overrides) -> Flask:
    app = create_app(
        TestConfig,
        SQLALCHEMY_DATABASE_URI=database_url,
        MAIL_DEV_DIR=instance_dir / "mail",
        UPLOAD_DIR=instance_dir / "uploads",
        REDIS_URL=os.environ.get("REDIS_URL", ""),
        RQ_QUEUE=f"haven-test-{uuid.uuid4().hex[:8]}",
        **overrides,
    )
    app.instance_path = str(instance_dir)
    with app.app_context():
        upgrade(revision="heads")
    return app


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> Iterator[str]:
    yield from make_database_url(tmp_path_factory, "db")


@pytest.fixture(scope="session")
def app(database_url, tmp_path_factory) -> Flask:
    return make_test_app(database_url, tmp_path_factory.mktemp("instance"))


@pytest.fixture(autouse=True)
def _rolled_back(request, app) -> Iterator[None]:
    """Each test runs inside one outer transaction that is rolled back at the end.

    Every app context (each test request too) gets its own session on that one connection;
    their commits become savepoints. Browser tests, which need real commits, opt out, as do
    tests marked `own_database` (tests/own_database.py: integrity, roles, backup) and
    `real_commits` (whose other processes must see the data).
    """
    if (
        request.node.get_closest_marker("browser")
        or request.node.get_closest_marker("own_database")
        or request.node.get_closest_marker("real_commits")
    ):
        yield
        return
    # No app context is held during the test: each request (and each `app_context` fixture)
    # pushes its own, exactly as in production, so nothing leaks between requests through `g`.
    with app.app_context():
        connection = db.engine.connect()
    outer = connection.begin()
    factory = sessionmaker(bind=connection, join_transaction_mode="create_savepoint")
    original = db.session
    db.session = scoped_session(factory, scopefunc=_app_ctx_id)
    try:
        yield
    finally:
        db.session = original
        outer.rollback()
        connection.close()


@pytest.fixture
def app_context(app) -> Iterator[Flask]:
    with app.test_request_context():
        yield app


class HavenClient(FlaskClient):
    """A test client that sends a valid CSRF token with every unsafe request, as a browser would.

    Pass `csrf=False` to leave it out and see the protection refuse the request.
    """

    def csrf_token(self) -> str:
        with self.session_transaction() as session:
            raw = session.setdefault("csrf_token", secrets.token_hex(20))
        serializer = URLSafeTimedSerializer(self.application.secret_key, salt="wtf-csrf-token")
        return serializer.dumps(raw)

    def open(self, *args, csrf: bool = True, **kwargs):
        method = (kwargs.get("method") or "GET").upper()
        if csrf and method not in {"GET", "HEAD", "OPTIONS"}:
            headers = dict(kwargs.pop("headers", None) or {})
            headers.setdefault("X-CSRFToken", self.csrf_token())
            kwargs["headers"] = headers
        return super().open(*args, **kwargs)


@pytest.fixture
def client(app) -> FlaskClient:
    app.test_client_class = HavenClient
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def make_user(app) -> Callable[..., User]:
    """make_user(Role.DSL, email=..., password=..., active=...) -> a committed user."""
    counter = iter(range(1, 10_000))

    def _make(
        *roles: Role,
        email: str | None = None,
        password: str = DEFAULT_PASSWORD,
        full_name: str | None = None,
        active: bool = True,
    ) -> User:
        number = next(counter)
        roles = roles or (Role.STAFF,)
        with app.test_request_context():
            user = create_user(
                email=email or f"{roles[0].value}{number}@school.example",
                full_name=full_name or f"Test {roles[0].value.replace('_', ' ').title()} {number}",
                roles=[role.value for role in roles],
                password=password,
            )
            user.active = active
            db.session.commit()
            return db.session.get(User, user.id)

    return _make


@pytest.fixture
def sign_in(client) -> Callable:
    """sign_in(user) signs the test client in through the real sign-in form."""

    def _sign_in(user: User, password: str = DEFAULT_PASSWORD, test_client=None):
        target = test_client or client
        response = target.post("/auth/sign-in", data={"email": user.email, "password": password})
        assert response.status_code == 302, response.get_data(as_text=True)
        return response

    return _sign_in


@pytest.fixture
def step_up(app, client) -> Callable:
    """step_up() marks the signed-in test client's session as just stepped up with a passkey.

    For tests about something else that needs review unlocked; the passkey ceremony itself is
    tested in tests/test_passkeys.py.
    """

    def _step_up(test_client=None) -> None:
        target = test_client or client
        with target.session_transaction() as cookie:
            token = cookie[SESSION_TOKEN_KEY]
        with app.test_request_context():
            row = db.session.scalar(
                sa.select(UserSession).where(UserSession.token_hash == token_digest(token))
            )
            now = utcnow()
            row.stepped_up_at = row.last_assertion_at = row.review_active_at = now
            db.session.commit()

    return _step_up


@pytest.fixture
def run_jobs(app) -> Callable[[], int]:
    """run_jobs() runs every queued background job, as an rq worker would; returns how many.

    With REDIS_URL set, jobs went to a real Redis queue and a real rq worker runs them here;
    without it they already ran in-process, so there is nothing left to do.
    """

    def _run() -> int:
        if not app.config["REDIS_URL"]:
            return 0
        return run_queued_jobs(app)

    return _run


def run_queued_jobs(app: Flask) -> int:
    """Run the app's queued jobs in this process with a real rq worker, in burst mode."""
    from rq import SimpleWorker

    class BurstWorker(SimpleWorker):
        # rq's command channel (pubsub) is for stopping a long-lived worker remotely; a burst
        # worker has no use for it, and its thread can hold teardown for up to 60 s.
        def subscribe(self):
            pass

        def unsubscribe(self):
            pass

    with app.app_context():
        queue = jobs.queue()
        pending = queue.count
        BurstWorker([queue], connection=queue.connection).work(burst=True)
        return pending


# --- Incidents: a small fictional school to record against (tests/test_incident*.py) --------


@pytest.fixture
def vocabulary(app) -> dict[str, int]:
    """The default categories and agencies installed; {full name: id} for both."""
    from server.incidents.models import Agency, Category
    from server.incidents.vocabulary import install_default_vocabulary

    with app.test_request_context():
        install_default_vocabulary()
        db.session.commit()
        names = {c.full_name: c.id for c in db.session.scalars(sa.select(Category))}
        names.update({a.name: a.id for a in db.session.scalars(sa.select(Agency))})
        return names


@pytest.fixture
def make_class(app) -> Callable[..., int]:
    """make_class("4B", "4", teachers=[user]) -> the new class's id."""
    from server.auth.models import User
    from server.pupils.models import SchoolClass

    def _make(name: str, year_group: str = "4", teachers=()) -> int:
        with app.test_request_context():
            school_class = SchoolClass(name=name, year_group=year_group)
            school_class.teachers = [db.session.get(User, t.id) for t in teachers]
            db.session.add(school_class)
            db.session.commit()
            return school_class.id

    return _make


@pytest.fixture
def make_pupil(app) -> Callable[..., int]:
    """make_pupil("Ada", "Quill", class_id=..., on_roll=True) -> the new pupil's id."""
    from datetime import date

    from server.pupils.models import Pupil

    counter = iter(range(1, 100_000))

    def _make(
        first: str = "Ada",
        last: str = "Quill",
        class_id: int | None = None,
        on_roll: bool = True,
        year_group: str = "4",
        date_of_birth: date = date(2017, 3, 4),
    ) -> int:
        with app.test_request_context():
            pupil = Pupil(
                upn=f"T{next(counter):012d}",
                legal_first_name=first,
                legal_last_name=last,
                date_of_birth=date_of_birth,
                year_group=year_group,
                class_id=class_id,
                on_roll=on_roll,
            )
            db.session.add(pupil)
            db.session.commit()
            return pupil.id

    return _make


@pytest.fixture
def record_incident(app, vocabulary) -> Callable[..., int]:
    """record_incident(author, pupil_id, categories=["Behaviour"], **fields) -> its number.

    Goes through the real domain function (alerts and audit included) and commits.
    """
    from server.auth.models import User
    from server.incidents.submission import submit_incident

    def _record(author, pupil_id: int, categories=("Behaviour",), files=(), **fields) -> int:
        payload = {
            "uuid": str(uuid.uuid4()),
            "pupil_id": pupil_id,
            "occurred_at": utcnow().replace(microsecond=0).isoformat(),
            "location": "Playground",
            "account": "Said: “I fell off the climbing frame.” Graze on the left knee.",
            "parents_contacted": "yes",
            "medical_attention": "not_needed",
            "category_ids": [vocabulary[name] for name in categories],
            **fields,
        }
        with app.test_request_context():
            receipt = submit_incident(db.session.get(User, author.id), payload, list(files))
            db.session.commit()
            return receipt.number

    return _record


@pytest.fixture
def school(make_user, make_class, make_pupil, vocabulary):
    """Two classes with a teacher each and a pupil each, plus one of every other role.

    school.ada is in 4B (teacher school.teacher); school.ben is in 5C (school.other_teacher).
    """
    from types import SimpleNamespace

    people = SimpleNamespace(
        staff=make_user(Role.STAFF, full_name="Tess Assistant"),
        teacher=make_user(Role.CLASS_TEACHER, full_name="Carl Teacher"),
        other_teacher=make_user(Role.CLASS_TEACHER, full_name="Orla Teacher"),
        pastoral=make_user(Role.PASTORAL, full_name="Pat Pastoral"),
        slt=make_user(Role.SLT, full_name="Sam Leader"),
        dsl=make_user(Role.DSL, full_name="Dee Lead"),
        admin=make_user(Role.ADMIN, full_name="Ada Office"),
        vocabulary=vocabulary,
    )
    people.class_4b = make_class("4B", "4", teachers=[people.teacher])
    people.class_5c = make_class("5C", "5", teachers=[people.other_teacher])
    people.ada = make_pupil("Ada", "Quill", class_id=people.class_4b)
    people.ben = make_pupil("Ben", "Marsh", class_id=people.class_5c, year_group="5")
    return people


# --- Passkeys (tests/test_passkeys.py, tests/test_access.py) -------------------------------


@pytest.fixture
def make_passkey(app) -> Callable:
    """make_passkey(user, authenticator=None, name=...) -> the stored passkey's id.

    Stores a credential held by a `tests.webauthn_authenticator.SoftwareAuthenticator` directly,
    for tests about something other than the registration ceremony.
    """
    from server.passkeys.models import PasskeyCredential
    from tests.webauthn_authenticator import AAGUID, SoftwareAuthenticator

    def _make(user: User, authenticator=None, name: str = "Test iPad") -> int:
        authenticator = authenticator or SoftwareAuthenticator()
        stored = authenticator.new_credential(app.config["WEBAUTHN_RP_ID"])
        with app.test_request_context():
            passkey = PasskeyCredential(
                user_id=user.id,
                name=name,
                credential_id=stored.credential_id,
                public_key=stored.cose_public_key,
                sign_count=0,
                user_handle=stored.user_handle,
                aaguid=str(uuid.UUID(bytes=AAGUID)),
                transports="internal",
                backed_up=False,
                created_at=utcnow(),
            )
            db.session.add(passkey)
            db.session.commit()
            return passkey.id

    return _make


@pytest.fixture
def make_device(app) -> Callable:
    """make_device(user) -> a SoftwareDevice enrolled to `user` (device_id set)."""
    from server.offline.devices import enrol_device
    from tests.offline_device import SoftwareDevice

    def _make(user: User, name: str = "Year 4 iPad"):
        device = SoftwareDevice()
        with app.test_request_context():
            stored = enrol_device(db.session.get(User, user.id), name, device.public_key)
            db.session.commit()
            device.device_id = stored.id
        return device

    return _make


# --- Web push (tests/test_push.py, test_escalation.py): a local push service on 127.0.0.1 --


@pytest.fixture(scope="session")
def push_service():
    from tests.push_service import LocalPushService

    with LocalPushService() as service:
        yield service


@pytest.fixture
def local_push(app, push_service):
    """The app admits the local push service (HAVEN_PUSH_LOCAL_SERVICE) for this test."""
    before = app.config["PUSH_LOCAL_SERVICE"]
    app.config["PUSH_LOCAL_SERVICE"] = push_service.origin
    yield push_service
    app.config["PUSH_LOCAL_SERVICE"] = before


@pytest.fixture
def deliver_jobs(run_jobs):
    """Run what was queued: in-process jobs already ran; with Redis, an rq worker runs them."""
    return run_jobs


@pytest.fixture
def subscribed(app, local_push):
    """subscribed(user) -> a new device of `user` at the local push service, registered."""

    def _subscribe(user, name="Test iPad"):
        from server.push import subscriptions

        device = local_push.device()
        with app.test_request_context():
            subscriptions.subscribe(
                db.session.get(User, user.id), {**device.subscription, "name": name}
            )
            db.session.commit()
        return device

    return _subscribe
