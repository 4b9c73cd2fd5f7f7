"""Offline capture in Chromium (SPEC §5, issue 8): installable, the form with no connection,
encrypted drafts, the sealed outbox and exactly-once replay.

Every test runs twice: with Background Sync, and with it taken away as Safari has none. "No
connection" is the browser offline *and* every request to the server aborted, so nothing can
slip through; what arrived is always counted in the server's database.
"""

import functools
import json
import re
import threading
import time

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import func, select

from server.auth.models import User
from server.auth.sessions import end_all_sessions
from server.extensions import db
from server.incidents.models import Incident
from server.offline.devices import revoke_device
from server.offline.models import Device
from tests.browser.test_record_incident import (
    add_and_confirm,
    fill_required,
    incident_for,
    open_form,
    receipt_heading,
    seed_school,
    sign_in,
)

PIN = "246810"
NO_BACKGROUND_SYNC = """
  delete window.SyncManager;
  if (window.ServiceWorkerRegistration) delete ServiceWorkerRegistration.prototype.sync;
"""

DUMP_STORAGE = """async () => {
  const asText = (bytes) => Array.from(bytes, (b) => String.fromCharCode(b)).join('');
  const replacer = (key, value) => {
    if (value instanceof ArrayBuffer) return asText(new Uint8Array(value));
    if (ArrayBuffer.isView(value)) {
      return asText(new Uint8Array(value.buffer, value.byteOffset, value.byteLength));
    }
    if (value instanceof CryptoKey) return '[CryptoKey]';
    return value;
  };
  const db = await new Promise((resolve, reject) => {
    const request = indexedDB.open('haven');
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
  const parts = [];
  for (const name of db.objectStoreNames) {
    const rows = await new Promise((resolve) => {
      const request = db.transaction(name).objectStore(name).getAll();
      request.onsuccess = () => resolve(request.result);
    });
    parts.push(name + ': ' + JSON.stringify(rows, replacer));
  }
  db.close();
  for (const cacheName of await caches.keys()) {
    const cache = await caches.open(cacheName);
    for (const request of await cache.keys()) {
      const body = new Uint8Array(await (await cache.match(request)).arrayBuffer());
      parts.push('cache ' + request.url + ': ' + asText(body));
    }
  }
  return parts.join('\\n');
}"""

OUTBOX_ENTRIES = """async () => {
  const db = await new Promise((resolve) => {
    const request = indexedDB.open('haven');
    request.onsuccess = () => resolve(request.result);
  });
  const rows = await new Promise((resolve) => {
    const request = db.transaction('outbox').objectStore('outbox').getAll();
    request.onsuccess = () => resolve(request.result);
  });
  db.close();
  const b64 = (bytes) => btoa(Array.from(bytes, (b) => String.fromCharCode(b)).join(''));
  return rows.map((row) => ({
    envelope: row.envelope, sealed: b64(row.sealed), refusal: row.refusal, lastError: row.lastError,
  }));
}"""


@pytest.fixture(params=["background-sync", "no-background-sync"])
def app_page(request, browser, live_server):
    """An iPad-sized page; without Background Sync in the second run, like Safari."""
    context = browser.new_context(
        viewport={"width": 820, "height": 1180}, base_url=live_server.url, has_touch=True
    )
    if request.param == "no-background-sync":
        context.add_init_script(NO_BACKGROUND_SYNC)
    page = context.new_page()
    page.set_default_timeout(15_000)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda message: print("console:", message.text))
    page.on("dialog", lambda dialog: dialog.accept())
    yield page
    context.close()
    assert errors == []


class Connection:
    """The device's connection to Haven: cut means offline and every request aborted."""

    def __init__(self, page: Page):
        self.context = page.context

    def cut(self):
        self.context.route("**/*", lambda route: route.abort("internetdisconnected"))
        self.context.set_offline(True)

    def restore(self):
        self.context.unroute("**/*")
        self.context.set_offline(False)


def set_up_device(page: Page, live_server, school) -> None:
    """Signed in, the form open, the service worker in control and an offline PIN set."""
    sign_in(page, school.assistant_email)
    open_form(page)
    page.evaluate("() => navigator.serviceWorker.ready.then(() => true)")
    if not page.evaluate("() => navigator.serviceWorker.controller !== null"):
        # The worker activated while this page was loading: it controls pages from the next
        # load on (clients.claim() had already run), as on a real first visit.
        page.reload()
        page.wait_for_selector("html[data-incident-form=ready]", state="attached")
    page.wait_for_function("() => navigator.serviceWorker.controller !== null", timeout=30_000)
    panel = page.locator("#pin-setup")
    expect(panel).to_be_visible()
    panel.get_by_label("New PIN (6 to 12 digits)").fill(PIN)
    panel.get_by_label("The same PIN again").fill(PIN)
    panel.get_by_role("button", name="Set PIN").click()
    expect(panel).to_contain_text("Offline PIN set")


def unlock_with_pin(page: Page) -> None:
    cover = page.locator("#device-lock")
    expect(cover).to_be_visible()
    cover.get_by_label("Offline PIN").fill(PIN)
    cover.get_by_role("button", name="Unlock").click()
    page.wait_for_selector("html[data-incident-form=ready]", state="attached")


def record_offline(page: Page, school, account: str) -> None:
    fill_required(page, school)
    page.get_by_label("Your account").fill(account)
    # "Check before you send" works with no connection: the pupil is shown, and it says that
    # who will be alerted cannot be known until Haven is reached.
    page.get_by_role("button", name="Add incident").click()
    check = page.get_by_role("dialog", name="Check before you send")
    expect(check).to_contain_text(school.pupil_name)
    expect(check).to_contain_text("who will be alerted is not known yet")
    check.get_by_role("button", name="Yes, add it now").click()
    expect(
        page.get_by_role("heading", name="Saved on this device, waiting to send")
    ).to_be_visible()
    page.locator("#queued").get_by_role("button", name="Record another").click()


def waiting_badge(page: Page):
    return page.locator("#outbox-badge")


def count_for(live_server, pupil_id: int) -> int:
    with live_server.app.app_context():
        return db.session.scalar(
            select(func.count(Incident.id)).where(Incident.pupil_id == pupil_id)
        )


def wait_for_count(page: Page, live_server, pupil_id: int, expected: int) -> None:
    for _ in range(60):
        if count_for(live_server, pupil_id) == expected:
            return
        page.wait_for_timeout(250)
    waiting = [
        (e["envelope"]["uuid"], e["lastError"], e["refusal"]) for e in page.evaluate(OUTBOX_ENTRIES)
    ]
    assert count_for(live_server, pupil_id) == expected, waiting


def test_installable_and_records_three_incidents_offline_that_arrive_once(app_page, live_server):
    page = app_page
    school = seed_school(live_server)
    set_up_device(page, live_server, school)

    cdp = page.context.new_cdp_session(page)
    manifest = cdp.send("Page.getAppManifest")
    assert manifest["errors"] == [] and json.loads(manifest["data"])["display"] == "standalone"
    # Playwright's contexts are incognito profiles, where Chromium never offers to install;
    # apart from that, nothing stands in the way.
    errors = cdp.send("Page.getInstallabilityErrors")["installabilityErrors"]
    assert [e["errorId"] for e in errors if e["errorId"] != "in-incognito"] == []

    connection = Connection(page)
    connection.cut()
    page.reload()
    unlock_with_pin(page)  # the app shell, from the service worker, opened with the PIN
    accounts = [f"Offline account number {n}: said “my knee hurts” at the farm." for n in (1, 2, 3)]
    for account in accounts:
        record_offline(page, school, account)
    expect(waiting_badge(page)).to_contain_text("3 waiting to send")

    page.reload()
    unlock_with_pin(page)
    expect(page.locator("#outbox")).to_contain_text("3 incidents are waiting to send")
    stored = page.evaluate(DUMP_STORAGE)
    assert "outbox:" in stored and "cache " in stored
    for secret in [*accounts, school.pupil_name, school.first, school.last, "Ashworth", "Yardley"]:
        assert secret not in stored, f"{secret!r} is readable on the device"
    sealed_entries = page.evaluate(OUTBOX_ENTRIES)
    assert count_for(live_server, school.pupil_id) == 0

    connection.restore()
    wait_for_count(page, live_server, school.pupil_id, 3)
    expect(waiting_badge(page)).to_be_hidden()
    recorded = sorted(i.account for i in incident_for(live_server, school.pupil_id))
    assert recorded == sorted(accounts)

    # The same outbox replayed again, as a device restored from a backup would: still three.
    for entry in sealed_entries:
        answer = page.evaluate(
            """async ({ envelope, sealed }) => {
                const form = new FormData();
                form.append('envelope', JSON.stringify(envelope));
                const bytes = Uint8Array.from(atob(sealed), (c) => c.charCodeAt(0));
                form.append('sealed', new Blob([bytes]), 'sealed');
                const response = await fetch('/api/outbox',
                    { method: 'POST', body: form, credentials: 'omit' });
                return response.status;
            }""",
            entry,
        )
        assert answer == 200
    assert count_for(live_server, school.pupil_id) == 3


def test_a_reply_lost_after_the_server_committed_is_not_a_second_incident(app_page, live_server):
    page = app_page
    school = seed_school(live_server)
    set_up_device(page, live_server, school)

    def commit_then_lose_the_reply(route):
        route.fetch()
        route.abort("connectionreset")

    page.context.route("**/api/outbox", commit_then_lose_the_reply)
    fill_required(page, school)
    add_and_confirm(page)
    expect(
        page.get_by_role("heading", name="Saved on this device, waiting to send")
    ).to_be_visible()
    assert count_for(live_server, school.pupil_id) == 1
    page.context.unroute("**/api/outbox")
    page.locator("#outbox").get_by_role("button", name="Send now").click()
    expect(receipt_heading(page)).to_be_visible()  # the original receipt, for the same UUID
    expect(page.locator("#outbox")).to_be_hidden()
    assert count_for(live_server, school.pupil_id) == 1


def test_the_service_worker_stopped_mid_replay_loses_nothing_and_doubles_nothing(
    app_page, live_server
):
    page = app_page
    school = seed_school(live_server)
    set_up_device(page, live_server, school)
    connection = Connection(page)
    connection.cut()
    record_offline(page, school, "Written on the coach, replayed by the worker.")
    context = page.context
    page.close()  # no page of ours is left to replay: only the service worker will

    # The server commits, then takes its time to answer: the worker is stopped meanwhile.
    committed = threading.Event()
    views = live_server.app.view_functions
    receive = views["offline.receive"]

    @functools.wraps(receive)  # the same view to the app (CSRF exemption and all)
    def commit_then_answer_slowly(*args, **kwargs):
        response = receive(*args, **kwargs)
        committed.set()
        time.sleep(3)
        return response

    views["offline.receive"] = commit_then_answer_slowly
    try:
        connection.restore()  # Background Sync, where the browser has it, replays now
        worker_page = context.new_page()
        cdp = context.new_cdp_session(worker_page)
        cdp.send("ServiceWorker.enable")
        # A navigation with no script of ours: the worker's fetch handler replays too.
        worker_page.goto("/manifest.webmanifest")
        assert committed.wait(timeout=30), "the service worker did not replay the outbox"
        cdp.send("ServiceWorker.stopAllWorkers")
    finally:
        views["offline.receive"] = receive
    assert count_for(live_server, school.pupil_id) == 1
    assert len(worker_page.evaluate(OUTBOX_ENTRIES)) == 1  # no receipt came: it is kept
    worker_page.goto("/incidents/new")  # the worker starts again; the page replays too
    expect(waiting_badge(worker_page)).to_be_hidden()
    assert worker_page.evaluate(OUTBOX_ENTRIES) == []
    assert count_for(live_server, school.pupil_id) == 1


def test_the_outbox_still_sends_after_the_session_ended_and_after_sign_out(app_page, live_server):
    page = app_page
    school = seed_school(live_server)
    set_up_device(page, live_server, school)
    connection = Connection(page)
    connection.cut()
    record_offline(page, school, "Written on the trip; the session ends before the coach is back.")
    with live_server.app.test_request_context():
        assistant = db.session.scalar(select(User).where(User.email == school.assistant_email))
        end_all_sessions(assistant, "idle")
        db.session.commit()
    connection.restore()
    page.evaluate("window.dispatchEvent(new Event('online'))")
    wait_for_count(page, live_server, school.pupil_id, 1)

    # Signed out with one still waiting: sign-out deletes the keys, never the outbox.
    sign_in(page, school.assistant_email)
    open_form(page)
    page.context.route("**/api/outbox", lambda route: route.abort("internetdisconnected"))
    fill_required(page, school)
    add_and_confirm(page)
    expect(
        page.get_by_role("heading", name="Saved on this device, waiting to send")
    ).to_be_visible()
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/auth/sign-in")
    assert len(page.evaluate(OUTBOX_ENTRIES)) == 1
    stored = page.evaluate(DUMP_STORAGE)
    assert 'serverWrapped":null' in stored.replace(" ", "") and "drafts: []" in stored
    page.context.unroute("**/api/outbox")
    page.reload()  # app start on the sign-in page replays it
    wait_for_count(page, live_server, school.pupil_id, 2)


def test_a_revoked_device_has_its_entry_refused_and_shown(app_page, live_server):
    page = app_page
    school = seed_school(live_server)
    set_up_device(page, live_server, school)
    connection = Connection(page)
    connection.cut()
    record_offline(page, school, "Written on the iPad that was then reported lost.")
    with live_server.app.test_request_context():
        assistant = db.session.scalar(select(User).where(User.email == school.assistant_email))
        for device in db.session.scalars(select(Device).where(Device.user_id == assistant.id)):
            revoke_device(assistant, device)
        db.session.commit()
    connection.restore()
    outbox = page.locator("#outbox")
    outbox.get_by_role("button", name="Send now").click()
    expect(outbox).to_contain_text("Not accepted: This device has been removed from Haven")
    expect(outbox.get_by_role("button", name="Discard")).to_be_visible()
    assert count_for(live_server, school.pupil_id) == 0
    [entry] = page.evaluate(OUTBOX_ENTRIES)
    assert entry["refusal"]["code"] == "device_revoked"
    outbox.get_by_role("button", name="Discard").click()
    expect(outbox).to_be_hidden()


def test_a_draft_survives_a_reload_encrypted(app_page, live_server):
    page = app_page
    school = seed_school(live_server)
    set_up_device(page, live_server, school)
    fill_required(page, school)
    account = "Draft only: she said “don’t tell mum” and would not say more."
    page.get_by_label("Your account").fill(account)
    page.locator("#more-details > summary").click()
    page.get_by_label("Their name").fill("Marjorie Quayle")
    before = page.evaluate("Date.now()")
    page.get_by_role("button", name="Add a mark on the front").click()
    page.wait_for_function(  # saved after the last change, so the draft holds all of it
        "(before) => Number(document.querySelector('main').dataset.draftSaved || 0) > before",
        arg=before,
    )
    stored = page.evaluate(DUMP_STORAGE)
    assert account not in stored and school.pupil_name not in stored
    page.reload()
    page.wait_for_selector("html[data-incident-form=ready]", state="attached")
    expect(page.locator("#draft-restored")).to_be_visible()
    expect(page.get_by_label("Your account")).to_have_value(account)
    # What was folded under "More details" is shown again, not hidden away.
    expect(page.locator("#more-details")).to_have_attribute("open", "")
    expect(page.get_by_label("Their name")).to_have_value("Marjorie Quayle")
    expect(page.locator("#pupil-picker")).to_contain_text(school.pupil_name)
    expect(page.get_by_label("Behaviour")).to_be_checked()
    expect(page.locator("[data-body-marks] li")).to_have_count(1)


def test_wrong_pins_are_throttled_and_ten_wipe_the_keys(app_page, live_server):
    page = app_page
    school = seed_school(live_server)
    set_up_device(page, live_server, school)
    fill_required(page, school)
    page.wait_for_function(
        "() => Number(document.querySelector('main').dataset.draftSaved || 0) > 0"
    )
    Connection(page).cut()
    page.reload()
    cover = page.locator("#device-lock")
    for attempt in range(1, 5):
        cover.get_by_label("Offline PIN").fill("111111")
        cover.get_by_role("button", name="Unlock").click()
        expect(cover).to_contain_text(f"{10 - attempt} tries left")
    cover.get_by_label("Offline PIN").fill("111111")
    cover.get_by_role("button", name="Unlock").click()
    expect(cover).to_contain_text("Wait 30 seconds")
    # Past the waits (the device's clock moved on), five more wrong PINs wipe the keys.
    for _ in range(5):
        page.evaluate("""async () => {
            const db = await new Promise((r) => {
                const q = indexedDB.open('haven');
                q.onsuccess = () => r(q.result);
            });
            const store = db.transaction('devices', 'readwrite').objectStore('devices');
            const rows = await new Promise((r) => {
                const q = store.getAll();
                q.onsuccess = () => r(q.result);
            });
            const tx = db.transaction('devices', 'readwrite');
            for (const row of rows) tx.objectStore('devices').put({ ...row, pinLockedUntil: 0 });
            await new Promise((r) => { tx.oncomplete = r; });
            db.close();
        }""")
        cover.get_by_label("Offline PIN").fill("111111")
        cover.get_by_role("button", name="Unlock").click()
        expect(cover.locator("[data-pin-unlock-error]")).not_to_have_text("Checking…")
    expect(cover).to_contain_text("the keys on this device have been wiped")
    stored = page.evaluate(DUMP_STORAGE)
    assert 'pinWrapped":null' in stored.replace(" ", "") and "drafts: []" in stored
    cover.get_by_label("Offline PIN").fill(PIN)
    cover.get_by_role("button", name="Unlock").click()
    expect(cover).to_contain_text("There is no offline PIN on this device")


def test_the_app_locks_itself_when_idle_offline_and_the_pin_unlocks(app_page, live_server):
    page = app_page
    school = seed_school(live_server)
    set_up_device(page, live_server, school)
    Connection(page).cut()
    page.clock.install()
    page.reload()
    unlock_with_pin(page)
    page.get_by_label("Your account").fill("Typed before the lock.")
    page.clock.fast_forward("11:00")  # ten minutes without activity, moved on, not slept
    cover = page.locator("#device-lock")
    expect(cover).to_be_visible(timeout=10_000)
    expect(cover).to_contain_text("locked itself after 10 minutes")
    cover.get_by_label("Offline PIN").fill(PIN)
    cover.get_by_role("button", name="Unlock").click()
    expect(cover).to_be_hidden()
    expect(page.get_by_label("Your account")).to_have_value("Typed before the lock.")


def ask_for_the_update(page: Page) -> None:
    """registration.update() until the page offers the new version: the page's own update
    check (each page load registers the worker again) may be under way and answer for ours."""
    banner = page.locator("#update-banner")
    deadline = time.monotonic() + 60
    while True:
        page.evaluate("navigator.serviceWorker.getRegistration().then((r) => r.update())")
        try:
            expect(banner).to_be_visible(timeout=5000)
            return
        except AssertionError:
            assert time.monotonic() < deadline, "no update was offered"


def test_an_update_swaps_every_file_for_the_new_builds(app_page, live_server):
    """Static URLs carry the build: after "Reload", the page, the service worker's cache and
    every module come from the new build, and the old build's cache is gone."""
    page = app_page
    school = seed_school(live_server)
    set_up_device(page, live_server, school)
    assets = live_server.app.extensions["haven.assets"]
    original, new = assets.build, "e" * 16
    assets.build = new
    try:
        ask_for_the_update(page)
        page.locator("[data-update-reload]").click()
        expect(page.locator(f'script[type="module"][src^="/static/{new}/"]').first).to_be_attached()
        expect(page.locator("html[data-incident-form=ready]")).to_be_attached()
        old_files = f'[src*="/static/{original}/"], [href*="/static/{original}/"]'
        assert page.locator(old_files).count() == 0
        deadline = time.monotonic() + 30
        while page.evaluate("caches.keys()") != [f"haven-{new}"]:
            assert time.monotonic() < deadline, page.evaluate("caches.keys()")
            page.wait_for_timeout(200)
        cached = page.evaluate(
            f"caches.open('haven-{new}').then((c) => c.keys()).then((k) => k.map((r) => r.url))"
        )
        assert f"{live_server.url}/static/{new}/js/incident-form.js" in cached
        assert not [url for url in cached if f"/static/{original}/" in url]
    finally:
        assets.build = original


def test_an_update_waits_for_a_reload_instead_of_reloading_under_the_author(app_page, live_server):
    page = app_page
    school = seed_school(live_server)
    set_up_device(page, live_server, school)
    page.get_by_label("Your account").fill("Half-way through when the school updated Haven.")
    # A new release: a new build, so new static URLs and a new service worker (fixed at start-up).
    assets = live_server.app.extensions["haven.assets"]
    original = assets.build
    assets.build = "f" * 16
    try:
        ask_for_the_update(page)
        expect(page.get_by_label("Your account")).to_have_value(
            "Half-way through when the school updated Haven."
        )
    finally:
        assets.build = original
    assert re.search(r"/incidents/new$", page.url)


def test_ready_to_work_offline_is_said_without_moving_what_is_about_to_be_tapped(
    app_page, live_server
):
    # The service worker installs seconds after the first page loads; the message that says so
    # once appeared above the page and pushed the sign-in button down under a finger (and
    # under WebDriver's click in the WebKit test, which then missed it).
    page = app_page
    page.goto("/auth/sign-in")
    button = page.get_by_role("button", name="Sign in")
    before = button.bounding_box()
    status = page.locator("#app-status")
    expect(status).to_have_text("Haven is ready to work offline on this device.")
    expect(status).to_be_visible()
    assert button.bounding_box() == before
    # Laid over the page, it never takes the tap meant for what is beneath it.
    assert status.evaluate("element => getComputedStyle(element).pointerEvents") == "none"
