"""Browser tests: the real app served on http://localhost:PORT, driven in /usr/bin/chromium.

The app runs in a thread of the test process against its own database (real commits), so
`time_machine` moves its clock too. Without Chromium these tests skip, unless
HAVEN_REQUIRE_BROWSER=1 (as in CI), where a missing browser is a failure.
"""

import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from flask import Flask
from playwright.sync_api import expect
from werkzeug.serving import make_server

from server.auth.accounts import create_user
from server.auth.models import User
from server.auth.roles import Role
from server.extensions import db
from tests.conftest import DEFAULT_PASSWORD, make_database_url, make_test_app

# The live server shares this process (and its two cores) with the browser and, in a full run,
# with other suites: an assertion waits for its condition up to 15 s, not Playwright's 5 s.
# Waiting longer never makes a wrong page pass; it only stops a slow one failing.
expect.set_options(timeout=15_000)

CHROMIUM = Path(os.environ.get("HAVEN_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
IPAD_PORTRAIT = {"width": 820, "height": 1180}


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/browser/" in str(item.fspath):
            item.add_marker(pytest.mark.browser)


@dataclass
class LiveServer:
    url: str
    app: Flask

    def create_user(
        self, *roles: Role, email: str, full_name: str, password: str = DEFAULT_PASSWORD
    ) -> User:
        """A committed user in the live app's database."""
        with self.app.test_request_context():
            user = create_user(
                email=email,
                full_name=full_name,
                roles=[role.value for role in roles],
                password=password,
            )
            db.session.commit()
            db.session.refresh(user)
            db.session.expunge(user)
            return user


@pytest.fixture(scope="session")
def live_server(tmp_path_factory) -> Iterator[LiveServer]:
    database = make_database_url(tmp_path_factory, "browser-db")
    app = make_test_app(next(database), tmp_path_factory.mktemp("browser-instance"))
    server = make_server("localhost", 0, app, threaded=True)
    base_url = f"http://localhost:{server.server_port}"
    app.config.update(WEBAUTHN_ORIGIN=base_url, SERVER_BASE_URL=base_url)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield LiveServer(base_url, app)
    finally:
        server.shutdown()
        with app.app_context():
            db.engine.dispose()
        database.close()


@pytest.fixture(scope="session")
def browser():
    if not CHROMIUM.exists():
        if os.environ.get("HAVEN_REQUIRE_BROWSER") == "1":
            pytest.fail(f"Chromium is required but missing at {CHROMIUM}")
        pytest.skip(f"Chromium is not installed at {CHROMIUM} (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(viewport=IPAD_PORTRAIT, base_url=live_server.url, has_touch=True)
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()
