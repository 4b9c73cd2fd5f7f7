"""The offline flow in WebKit, Safari's engine (SPEC §5, issue 8): WebKitGTK's MiniBrowser
driven by WebKitWebDriver under Xvfb. WebDriver has no offline switch, so the server is
stopped instead: the incident is recorded while it is down, the page is relaunched, the server
starts again, and the outbox empties by itself — exactly once. WebKit has no Background Sync,
like Safari: only the page's own triggers send it.

Needs `apt-get install -y webkit2gtk-driver xvfb` and the `selenium` package; like Chromium,
missing pieces skip locally and fail in CI (HAVEN_REQUIRE_BROWSER=1).
"""

import os
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select
from werkzeug.serving import make_server

from server.extensions import db
from server.incidents.models import Incident
from tests.browser.conftest import LiveServer
from tests.browser.test_record_incident import seed_school
from tests.conftest import DEFAULT_PASSWORD, make_database_url, make_test_app

MINIBROWSER = Path("/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser")
WEBDRIVER = Path("/usr/bin/WebKitWebDriver")
PIN = "135790"


def _missing() -> str | None:
    for path in (MINIBROWSER, WEBDRIVER):
        if not path.exists():
            return f"{path} is missing (apt-get install -y webkit2gtk-driver)"
    if not shutil.which("Xvfb"):
        return "Xvfb is missing (apt-get install -y xvfb)"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed"
    return None


class RestartableServer:
    """The app on a fixed port that can be stopped and started again, as a school's would be."""

    def __init__(self, app):
        self.app = app
        with socket.socket() as probe:
            probe.bind(("localhost", 0))
            self.port = probe.getsockname()[1]
        self.url = f"http://localhost:{self.port}"
        app.config.update(WEBAUTHN_ORIGIN=self.url, SERVER_BASE_URL=self.url)
        self.server = None

    def start(self):
        self.server = make_server("localhost", self.port, self.app, threaded=True)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def display():
    problem = _missing()
    if problem:
        if os.environ.get("HAVEN_REQUIRE_BROWSER") == "1":
            pytest.fail(problem)
        pytest.skip(problem)
    number = 90 + os.getpid() % 9
    xvfb = subprocess.Popen(
        ["Xvfb", f":{number}", "-screen", "0", "1280x1024x24", "-nolisten", "tcp"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(1)
    yield f":{number}"
    xvfb.terminate()
    xvfb.wait()


@pytest.fixture
def webkit_server(tmp_path_factory):
    database = make_database_url(tmp_path_factory, "webkit-db")
    app = make_test_app(next(database), tmp_path_factory.mktemp("webkit-instance"))
    server = RestartableServer(app)
    server.start()
    yield server
    server.stop()
    with app.app_context():
        db.engine.dispose()
    database.close()


@pytest.fixture
def webkit(display, tmp_path, monkeypatch):
    from selenium import webdriver
    from selenium.webdriver.webkitgtk.options import Options
    from selenium.webdriver.webkitgtk.service import Service

    monkeypatch.setenv("DISPLAY", display)
    options = Options()
    options.binary_location = str(MINIBROWSER)
    options.add_argument("--automation")
    driver = webdriver.WebKitGTK(
        options=options,
        service=Service(executable_path=str(WEBDRIVER), log_output=str(tmp_path / "driver.log")),
    )
    driver.set_window_size(1024, 1366)
    yield driver
    driver.quit()


def wait_until(condition, timeout=60.0, message="condition", driver=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.25)
    seen = ""
    if driver is not None:  # what the page showed instead, to tell a slow server from a miss
        text = driver.find_element("tag name", "body").text
        seen = f" at {driver.current_url}, which showed: {text[:600]!r}"
    raise AssertionError(f"timed out waiting for {message}{seen}")


def count(server, pupil_id) -> int:
    with server.app.app_context():
        return db.session.scalar(
            select(func.count(Incident.id)).where(Incident.pupil_id == pupil_id)
        )


def visible(driver, css):
    elements = driver.find_elements("css selector", css)
    return elements[0] if elements and elements[0].is_displayed() else None


def js(driver, script, *args):
    return driver.execute_script(script, *args)


def test_recorded_while_the_server_is_down_it_arrives_once_it_is_back(webkit, webkit_server):
    from selenium.webdriver.common.by import By

    driver, server = webkit, webkit_server
    school = seed_school(LiveServer(server.url, server.app))
    # WebKit has no Background Sync, no push and no passkeys here: like Safari, and the app
    # must not depend on any of them.
    assert js(driver, "return 1") == 1
    driver.get(f"{server.url}/auth/sign-in")
    assert js(driver, "return typeof SyncManager") == "undefined"
    driver.find_element(By.ID, "email").send_keys(school.assistant_email)
    driver.find_element(By.ID, "password").send_keys(DEFAULT_PASSWORD)
    driver.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    wait_until(lambda: "Hello" in driver.page_source, message="the home page", driver=driver)
    driver.get(f"{server.url}/incidents/new")
    wait_until(
        lambda: js(driver, "return document.documentElement.dataset.incidentForm") == "ready",
        message="the form",
    )
    wait_until(
        lambda: js(driver, "return navigator.serviceWorker.controller !== null"),
        message="the service worker in control",
    )
    pin_panel = wait_until(
        lambda: visible(driver, "#pin-setup"), message="the PIN panel", driver=driver
    )
    pin_panel.find_element(By.ID, "new-pin").send_keys(PIN)
    pin_panel.find_element(By.ID, "new-pin-again").send_keys(PIN)
    pin_panel.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait_until(lambda: "Offline PIN set" in pin_panel.text, message="the PIN set", driver=driver)

    server.stop()
    driver.get(f"{server.url}/incidents/new")  # the app shell, from the service worker
    unlock(driver)
    record(driver, school, "Recorded in WebKit while the server was down.")
    wait_until(lambda: visible(driver, "#queued"), message="saved on this device", driver=driver)
    assert count(server, school.pupil_id) == 0

    driver.get(f"{server.url}/incidents/new")  # relaunch the page, still no server
    unlock(driver)
    wait_until(
        lambda: "1 incident is waiting to send" in driver.find_element(By.ID, "outbox").text,
        message="one waiting",
    )

    server.start()
    wait_until(
        lambda: count(server, school.pupil_id) == 1, timeout=40, message="the incident to arrive"
    )
    wait_until(
        lambda: not visible(driver, "#outbox-badge"), message="the badge to clear", driver=driver
    )
    time.sleep(3)
    assert count(server, school.pupil_id) == 1


def unlock(driver):
    from selenium.webdriver.common.by import By

    cover = wait_until(
        lambda: visible(driver, "#device-lock"), message="the PIN lock", driver=driver
    )
    cover.find_element(By.ID, "unlock-pin").send_keys(PIN)
    cover.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait_until(
        lambda: js(driver, "return document.documentElement.dataset.incidentForm") == "ready",
        message="the form, unlocked",
    )


def record(driver, school, account):
    from selenium.webdriver.common.by import By

    driver.find_element(By.ID, "pupil-search").send_keys(school.last[:4])
    option = wait_until(
        lambda: next(
            (
                o
                for o in driver.find_elements(By.CSS_SELECTOR, "#pupil-options li")
                if school.pupil_name in o.text
            ),
            None,
        ),
        message="the pupil in the list",
    )
    option.click()
    driver.find_element(By.ID, "account").send_keys(account)
    driver.find_element(By.ID, "parents-yes").click()
    driver.find_element(By.ID, "medical-no").click()
    behaviour = next(
        label
        for label in driver.find_elements(By.CSS_SELECTOR, "#categories label")
        if label.text.strip() == "Behaviour"
    )
    behaviour.click()
    driver.find_element(By.CSS_SELECTOR, "[data-submit]").click()
    # "Check before you send": one tap on "Yes, add it now" sends it.
    wait_until(
        lambda: visible(driver, "#check-before-send"),
        message="the check before sending",
        driver=driver,
    )
    driver.find_element(By.CSS_SELECTOR, "[data-confirm-send]").click()
