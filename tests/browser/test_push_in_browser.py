"""Web push in Chromium (SPEC §4): notifications granted, subscribing from a tap reaches the
server, and the service worker's push handler shows what the server sent and opens the incident.

Headless Chromium cannot reach a real push service (no network here), so the page's
`PushManager` hands back a subscription at the local push service whose keys the test holds;
everything else is real: the server encrypts to it, the test decrypts what arrived, and CDP
delivers that message to the service worker as the browser's push service would.
"""

import base64
import json
import time
import uuid
from datetime import date

import pytest
import sqlalchemy as sa
from playwright.sync_api import Page, expect

from server.auth.models import User
from server.auth.roles import Role
from server.extensions import db
from server.incidents.models import Category
from server.incidents.submission import submit_incident
from server.incidents.vocabulary import install_default_vocabulary
from server.pupils.models import Pupil
from server.push.models import PushSubscription
from tests.browser.test_record_incident import sign_in
from tests.push_service import LocalPushService

# The browser's side of a push service it cannot reach: a subscription the test made.
FAKE_PUSH_MANAGER = """
(() => {
  const KEY = 'haven-test-push-subscription';
  const subscription = (json) => json && {
    endpoint: json.endpoint,
    toJSON: () => json,
    unsubscribe: async () => { localStorage.removeItem(KEY); return true; },
  };
  PushManager.prototype.subscribe = async function (options) {
    if (!options.userVisibleOnly) throw new Error('userVisibleOnly is required');
    const key = btoa(String.fromCharCode(...new Uint8Array(options.applicationServerKey)));
    const json = { ...SUBSCRIPTION, applicationServerKey: key };
    localStorage.setItem(KEY, JSON.stringify(json));
    return subscription(json);
  };
  PushManager.prototype.getSubscription = async function () {
    return subscription(JSON.parse(localStorage.getItem(KEY) || 'null'));
  };
})();
"""


@pytest.fixture
def push_service(live_server):
    with LocalPushService() as service:
        # As `make run` sends: from a thread of the web process once the commit is done.
        live_server.app.config.update(PUSH_LOCAL_SERVICE=service.origin, PUSH_IN_PROCESS_LOOP=True)
        yield service
        live_server.app.config.update(PUSH_LOCAL_SERVICE="", PUSH_IN_PROCESS_LOOP=False)


def _school(live_server) -> dict:
    n = uuid.uuid4().hex[:6]
    lead = live_server.create_user(
        Role.DSL, email=f"lead{n}@school.example", full_name="Rhian Lead"
    )
    author = live_server.create_user(
        Role.STAFF, email=f"author{n}@school.example", full_name="Owen Author"
    )
    with live_server.app.test_request_context():
        install_default_vocabulary()
        pupil = Pupil(
            upn=f"P{n}000001",
            legal_first_name="Wren",
            legal_last_name="Hollis",
            date_of_birth=date(2017, 2, 1),
            year_group="3",
        )
        db.session.add(pupil)
        db.session.commit()
        behaviour = db.session.scalar(sa.select(Category.id).where(Category.name == "Behaviour"))
        return {"lead": lead, "author": author, "pupil": pupil.id, "category": behaviour}


def _record(live_server, school) -> int:
    with live_server.app.test_request_context():
        receipt = submit_incident(
            db.session.get(User, school["author"].id),
            {
                "uuid": str(uuid.uuid4()),
                "pupil_id": school["pupil"],
                "occurred_at": "2026-03-02T09:00:00+00:00",
                "account": "Wren said she was scared to go home.",
                "parents_contacted": "not_yet",
                "parents_reason": "Waiting for the DSL",
                "medical_attention": "not_needed",
                "category_ids": [school["category"]],
                "urgent": True,
            },
        )
        db.session.commit()
    _run_jobs(live_server.app)
    return receipt.number


def _run_jobs(app) -> None:
    """With Redis, the pushes wait in the queue: run them as a worker would."""
    if not app.config["REDIS_URL"]:
        return
    from rq import SimpleWorker

    from server import jobs

    with app.app_context():
        queue = jobs.queue()
        SimpleWorker([queue], connection=queue.connection).work(burst=True)


def _registration_id(cdp, scope: str) -> str:
    found: dict = {}
    cdp.on(
        "ServiceWorker.workerRegistrationUpdated",
        lambda event: found.update(
            {r["scopeURL"]: r["registrationId"] for r in event["registrations"]}
        ),
    )
    cdp.send("ServiceWorker.enable")
    deadline = time.monotonic() + 10
    while scope not in found and time.monotonic() < deadline:
        cdp.send("Runtime.evaluate", {"expression": "1"})  # lets the events arrive
        time.sleep(0.05)
    return found[scope]


def _notifications(page: Page) -> list[dict]:
    return page.evaluate(
        """navigator.serviceWorker.ready
             .then((registration) => registration.getNotifications())
             .then((shown) => shown.map((n) => ({
               title: n.title, body: n.body, tag: n.tag, url: n.data && n.data.url })))"""
    )


def test_subscribe_from_a_tap_then_a_pushed_alert_is_shown_and_opens_the_incident(
    page: Page, live_server, push_service
):
    school = _school(live_server)
    device = push_service.device()
    page.context.grant_permissions(["notifications"], origin=live_server.url)
    page.add_init_script(
        f"const SUBSCRIPTION = {json.dumps(device.subscription)};\n" + FAKE_PUSH_MANAGER
    )

    sign_in(page, school["lead"].email)
    page.get_by_role("link", name="Notifications").click()
    expect(page.get_by_text("This device does not receive notifications.")).to_be_visible()
    page.get_by_role("button", name="Turn on notifications on this device").tap()
    expect(page.get_by_text("This device receives notifications.")).to_be_visible()
    expect(page.locator("[data-device-id]")).to_have_count(1)

    with live_server.app.app_context():
        [stored] = db.session.scalars(
            sa.select(PushSubscription).where(PushSubscription.user_id == school["lead"].id)
        ).all()
        assert stored.endpoint == device.endpoint
        assert stored.p256dh == device.subscription["keys"]["p256dh"]
    sent_key = page.evaluate("JSON.parse(localStorage.getItem('haven-test-push-subscription'))")
    public_key = base64.urlsafe_b64decode(live_server.app.config["VAPID_PUBLIC_KEY"] + "==")
    assert base64.b64decode(sent_key["applicationServerKey"]) == public_key

    number = _record(live_server, school)
    deadline = time.monotonic() + 10
    while not push_service.to(device) and time.monotonic() < deadline:
        time.sleep(0.05)
    [message] = push_service.to(device)
    plaintext = json.dumps(device.decrypt(message))
    assert "Wren" not in plaintext and "Hollis" not in plaintext and "scared" not in plaintext

    page.goto("/alerts")  # an open Haven window, which the tap should take to the incident
    cdp = page.context.new_cdp_session(page)
    registration = _registration_id(cdp, live_server.url + "/")
    cdp.send(
        "ServiceWorker.deliverPushMessage",
        {"origin": live_server.url, "registrationId": registration, "data": plaintext},
    )
    deadline = time.monotonic() + 10
    while not (shown := _notifications(page)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert shown == [
        {
            "title": "Urgent – New concern: Behaviour",
            "body": f"Raised by Owen Author · #{number}",
            "tag": json.loads(plaintext)["tag"],
            "url": f"{live_server.url}/incidents/{number}",
        }
    ]

    [worker] = page.context.service_workers
    worker.evaluate(
        """self.registration.getNotifications().then(([shown]) => self.dispatchEvent(
             new NotificationEvent('notificationclick', { notification: shown })))"""
    )
    expect(page).to_have_url(f"{live_server.url}/incidents/{number}")
    # The incident itself (the page shows the child; the notification never did).
    expect(page.get_by_role("heading", name="Wren Hollis", level=1)).to_be_visible()
