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
    their commits become savepoints. Browser tests, which need real commits, opt out.
    """
    if request.node.get_closest_marker("browser"):
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
        from rq import SimpleWorker

        with app.app_context():
            queue = jobs.queue()
            pending = queue.count
            SimpleWorker([queue], connection=queue.connection).work(burst=True)
            return pending

    return _run
