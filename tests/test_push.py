"""Web push (SPEC §4): VAPID keys, subscriptions and the allow-list, what a notification says
(decrypted at a local push service), the outbox and its outcomes, and escalation.

Pushes go to `tests.push_service.LocalPushService` on 127.0.0.1; without REDIS_URL the jobs
run in-process, with it a real rq worker runs them (`deliver_jobs`).
"""

import base64
import json
import time
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy import select

from server.alerts.models import Alert
from server.audit.models import AuditEvent
from server.auth.accounts import set_active
from server.auth.models import User
from server.auth.roles import Role
from server.extensions import db
from server.incidents.models import Incident
from server.push import delivery, subscriptions
from server.push.models import DeliveryStatus, PushDelivery, PushSubscription

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday morning


def _incident(number) -> Incident:
    return db.session.scalar(select(Incident).where(Incident.number == number))


def _deliveries(**where) -> list[PushDelivery]:
    query = select(PushDelivery).order_by(PushDelivery.id)
    for name, value in where.items():
        query = query.where(getattr(PushDelivery, name) == value)
    return list(db.session.scalars(query))


# --- VAPID keys --------------------------------------------------------------------------


def _decoded(value: str) -> bytes:
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


def test_push_keys_prints_a_pair_for_the_environment(runner):
    result = runner.invoke(args=["push", "keys"])
    assert result.exit_code == 0, result.output
    lines = dict(line.split("=", 1) for line in result.output.strip().splitlines())
    assert set(lines) == {"HAVEN_VAPID_PUBLIC_KEY", "HAVEN_VAPID_PRIVATE_KEY"}
    public = _decoded(lines["HAVEN_VAPID_PUBLIC_KEY"])
    assert len(public) == 65 and public[0] == 4  # an uncompressed P-256 point
    assert len(_decoded(lines["HAVEN_VAPID_PRIVATE_KEY"])) == 32


def test_push_keys_kept_in_the_instance_are_not_replaced_by_accident(runner, app, tmp_path):
    before = app.instance_path
    app.instance_path = str(tmp_path)
    try:
        first = runner.invoke(args=["push", "keys", "--instance"])
        assert first.exit_code == 0, first.output
        kept = json.loads((tmp_path / "vapid.json").read_text())
        again = runner.invoke(args=["push", "keys", "--instance"])
        assert again.exit_code != 0 and "--replace" in again.output
        assert json.loads((tmp_path / "vapid.json").read_text()) == kept
        assert (tmp_path / "vapid.json").stat().st_mode & 0o077 == 0
    finally:
        app.instance_path = before


def test_the_public_key_is_served_to_the_app(client, make_user, sign_in, app):
    sign_in(make_user(Role.STAFF))
    response = client.get("/push/key")
    assert response.get_json() == {"public_key": app.config["VAPID_PUBLIC_KEY"]}
    page = client.get("/push/notifications").get_data(as_text=True)
    assert f'data-public-key="{app.config["VAPID_PUBLIC_KEY"]}"' in page


# --- Which endpoints Haven will call -----------------------------------------------------


@pytest.mark.parametrize(
    "endpoint",
    [
        "https://fcm.googleapis.com/fcm/send/abc",
        "https://updates.push.services.mozilla.com/wpush/v2/abc",
        "https://web.push.apple.com/QGx",
        "https://wns2-par02p.notify.windows.com/w/?token=abc",
    ],
)
def test_the_browsers_push_services_are_accepted(app_context, endpoint):
    assert subscriptions.endpoint_refusal(endpoint) is None


@pytest.mark.parametrize(
    "endpoint",
    [
        "http://fcm.googleapis.com/fcm/send/abc",  # not https
        "https://fcm.googleapis.com:8443/fcm/send/abc",  # another port
        "https://user:pw@fcm.googleapis.com/fcm/send/abc",
        "https://fcm.googleapis.com.evil.example/x",
        "https://push.services.mozilla.com.evil.example/x",
        "https://10.0.0.5/internal",
        "https://169.254.169.254/latest/meta-data",
        "https://intranet.school.local/push",
        "http://127.0.0.1:6379/",  # the local service is not admitted unless configured
        "javascript:alert(1)",
        "",
        None,
        42,
        "https://fcm.googleapis.com/" + "a" * 1100,
    ],
)
def test_other_endpoints_are_refused(app_context, endpoint):
    assert subscriptions.endpoint_refusal(endpoint) is not None


def test_the_local_push_service_is_admitted_only_when_configured(app, local_push):
    with app.test_request_context():
        assert subscriptions.endpoint_refusal(local_push.origin + "/push/x") is None
        # Only that origin: not another port on the same machine, not a prefix trick.
        assert subscriptions.endpoint_refusal("http://127.0.0.1:1/push/x") is not None
        assert subscriptions.endpoint_refusal(local_push.origin + ".evil/x") is not None


# --- Subscribing -------------------------------------------------------------------------


def test_a_device_subscribes_and_resubscribing_refreshes_it(
    client, make_user, sign_in, local_push, app
):
    person = make_user(Role.STAFF)
    sign_in(person)
    device = local_push.device()
    first = client.post("/push/subscriptions", json={**device.subscription, "name": "Chrome"})
    assert first.status_code == 201
    again = client.post("/push/subscriptions", json=device.subscription)  # at the next app start
    assert again.status_code == 201 and again.get_json()["id"] == first.get_json()["id"]
    with app.app_context():
        rows = db.session.scalars(select(PushSubscription)).all()
        assert [(r.user_id, r.endpoint, r.name) for r in rows] == [
            (person.id, device.endpoint, "Chrome")
        ]
        assert db.session.scalars(
            select(AuditEvent.action).where(AuditEvent.action == "push.subscribed")
        ).all() == ["push.subscribed"]


@pytest.mark.parametrize(
    "body",
    [
        {"endpoint": "https://intranet.school.local/push", "keys": "valid"},
        {"endpoint": "valid", "keys": {"p256dh": "short", "auth": "AAAAAAAAAAAAAAAAAAAAAA"}},
        {"endpoint": "valid", "keys": {"p256dh": "valid"}},
        {"endpoint": "valid"},
        ["not", "an", "object"],
    ],
)
def test_a_bad_subscription_is_refused_and_nothing_is_written(
    client, make_user, sign_in, local_push, app, body
):
    device = local_push.device()
    good = device.subscription
    if isinstance(body, dict):
        body = {k: (good[k] if v == "valid" else v) for k, v in body.items()}
        if isinstance(body.get("keys"), dict):
            body["keys"] = {
                k: good["keys"][k] if v == "valid" else v for k, v in body["keys"].items()
            }
        if body.get("keys") == "valid":
            body["keys"] = good["keys"]
    sign_in(make_user(Role.STAFF))
    response = client.post("/push/subscriptions", json=body)
    assert response.status_code in (400, 422)
    assert response.get_json()["message"]
    with app.app_context():
        assert db.session.scalar(select(sa.func.count()).select_from(PushSubscription)) == 0


def test_a_shared_device_belongs_to_whoever_subscribed_it_last(app, school, subscribed):
    device = subscribed(school.teacher)
    subscribed_again = {**device.subscription}
    with app.test_request_context():
        subscriptions.subscribe(db.session.get(User, school.slt.id), subscribed_again)
        db.session.commit()
        rows = db.session.scalars(select(PushSubscription)).all()
        assert [r.user_id for r in rows] == [school.slt.id]


def test_unsubscribe_and_remove_a_listed_device(client, school, sign_in, subscribed, app):
    phone, ipad = subscribed(school.slt, "Phone"), subscribed(school.slt, "iPad")
    other = subscribed(school.dsl)
    sign_in(school.slt)
    page = client.get("/push/notifications").get_data(as_text=True)
    assert "Phone" in page and "iPad" in page and "Send a test notification" in page
    assert client.post(
        "/push/subscriptions/unsubscribe", json={"endpoint": phone.endpoint}
    ).get_json() == {"removed": True}
    # Someone else's endpoint or device: nothing happens to it.
    assert client.post(
        "/push/subscriptions/unsubscribe", json={"endpoint": other.endpoint}
    ).get_json() == {"removed": False}
    with app.app_context():
        ipad_id = db.session.scalar(
            select(PushSubscription.id).where(PushSubscription.endpoint == ipad.endpoint)
        )
        other_id = db.session.scalar(
            select(PushSubscription.id).where(PushSubscription.endpoint == other.endpoint)
        )
    assert client.post(f"/push/subscriptions/{other_id}/remove").status_code == 302
    assert client.post(f"/push/subscriptions/{ipad_id}/remove").status_code == 302
    with app.app_context():
        left = db.session.scalars(select(PushSubscription.endpoint)).all()
        assert left == [other.endpoint]


def test_disabling_a_user_removes_their_subscriptions(app, school, subscribed, make_user):
    subscribed(school.teacher)
    kept = subscribed(school.slt)
    with app.test_request_context():
        set_active(
            db.session.get(User, school.teacher.id), False, by=db.session.get(User, school.dsl.id)
        )
        db.session.commit()
        assert db.session.scalars(select(PushSubscription.endpoint)).all() == [kept.endpoint]


def test_revoking_a_device_removes_its_subscriptions(app, school, subscribed, make_device):
    device = subscribed(school.teacher)
    kept = subscribed(school.teacher)
    enrolled = make_device(school.teacher).device_id
    with app.test_request_context():
        row = db.session.scalar(
            select(PushSubscription).where(PushSubscription.endpoint == device.endpoint)
        )
        row.device_id = enrolled
        db.session.commit()
        assert subscriptions.remove_device_subscriptions(enrolled) == 1
        db.session.commit()
        assert db.session.scalars(select(PushSubscription.endpoint)).all() == [kept.endpoint]


def test_an_administrator_cannot_subscribe(app, make_user, local_push):
    with app.test_request_context():
        office = make_user(Role.ADMIN)
        with pytest.raises(subscriptions.SubscriptionRefused):
            subscriptions.subscribe(
                db.session.get(User, office.id), local_push.device().subscription
            )


# --- What a notification says ------------------------------------------------------------


def test_the_notification_names_who_and_the_category_never_the_child_or_the_account(
    app, school, subscribed, record_incident, deliver_jobs, local_push
):
    device = subscribed(school.dsl)
    number = record_incident(school.staff, school.ada, categories=["Behaviour"])
    deliver_jobs()
    [message] = local_push.to(device)
    shown = device.decrypt(message)
    with app.app_context():
        alert_id = db.session.scalar(select(Alert.id).where(Alert.user_id == school.dsl.id))
    assert shown == {
        "title": "New concern: Behaviour",
        "body": f"Raised by Tess Assistant · #{number}",
        "url": f"/incidents/{number}",
        "tag": f"alert-{alert_id}",
        "urgent": False,
        "badge": 1,
    }
    plain = json.dumps(shown)
    for secret in ("Ada", "Quill", "climbing frame", "Graze", "Playground", "2017"):
        assert secret not in plain
    assert message.urgency == "normal"
    assert int(message.headers["ttl"]) == app.config["PUSH_TTL_SECONDS"]
    assert message.headers["content-encoding"] == "aes128gcm"
    assert f"k={app.config['VAPID_PUBLIC_KEY']}" in message.headers["authorization"]
    claims = _vapid_claims(message)
    assert claims["aud"] == local_push.origin and claims["sub"].startswith("mailto:")
    assert 0 < claims["exp"] - time.time() <= 24 * 60 * 60  # Apple refuses more than a day


def _vapid_claims(message) -> dict:
    token = message.headers["authorization"].split("t=", 1)[1].split(",", 1)[0]
    return json.loads(_decoded(token.split(".")[1]))


def test_each_send_signs_fresh_claims_for_its_own_push_service(
    app, school, subscribed, record_incident, local_push, time_machine
):
    time_machine.move_to(START, tick=False)
    device = subscribed(school.slt)
    for hours, pupil in ((0, school.ada), (1, school.ben)):
        time_machine.move_to(START + timedelta(hours=hours), tick=False)
        record_incident(school.staff, pupil)
        with app.app_context():
            delivery.sweep()  # sends now, in-process or with Redis alike
    first, second = (_vapid_claims(m) for m in local_push.to(device))
    # A claims dict reused across sends would keep its first expiry (and audience).
    assert second["exp"] - first["exp"] == 60 * 60


def test_an_urgent_safeguarding_alert_is_high_urgency_and_names_only_the_family(
    app, school, subscribed, record_incident, deliver_jobs, local_push
):
    device = subscribed(school.slt)
    number = record_incident(
        school.dsl, school.ada, categories=["Safeguarding – Sexual abuse"], urgent=True
    )
    deliver_jobs()
    [message] = local_push.to(device)
    shown = device.decrypt(message)
    assert shown["title"] == "Urgent – New concern: Safeguarding"
    assert shown["body"] == f"Raised by Dee Lead · #{number}" and shown["urgent"] is True
    assert "abuse" not in json.dumps(shown).lower()
    assert message.urgency == "high"


def test_each_device_of_each_recipient_gets_the_alert_once(
    app, school, subscribed, record_incident, deliver_jobs, local_push
):
    ipad, phone = subscribed(school.slt), subscribed(school.slt)
    dsl = subscribed(school.dsl)
    author = subscribed(school.staff)  # the author is not alerted to their own incident
    record_incident(school.staff, school.ada)
    deliver_jobs()
    with app.app_context():
        delivery.deliver([d.id for d in _deliveries()])  # again: nothing is sent twice
        delivery.sweep()
    deliver_jobs()
    assert [len(local_push.to(d)) for d in (ipad, phone, dsl, author)] == [1, 1, 1, 0]


def test_the_badge_and_the_menu_show_the_same_unread_count(
    app, client, school, subscribed, record_incident, deliver_jobs, local_push, sign_in
):
    device = subscribed(school.slt)
    record_incident(school.staff, school.ada)
    deliver_jobs()
    record_incident(school.staff, school.ben)
    deliver_jobs()
    badges = [m["badge"] for m in local_push.received(device)]
    sign_in(school.slt)
    page = client.get("/alerts").get_data(as_text=True)
    assert badges == [1, 2]
    assert 'aria-label="2 unread"' in page and 'data-unread-count="2"' in page


def test_a_refused_incident_leaves_nothing_in_the_outbox(app, school, subscribed, record_incident):
    from server.incidents.errors import IncidentRefused

    subscribed(school.slt)
    with pytest.raises(IncidentRefused):
        record_incident(school.staff, school.ada, extra_recipient_ids=[school.admin.id])
    with app.app_context():
        assert _deliveries() == []


def test_send_a_test_notification(client, school, sign_in, subscribed, deliver_jobs, local_push):
    device = subscribed(school.teacher)
    sign_in(school.teacher)
    response = client.post("/push/test")
    assert response.status_code == 302
    deliver_jobs()
    [shown] = local_push.received(device)
    assert shown["title"] == "Haven test notification" and shown["url"] == "/push/notifications"


# --- Outcomes: gone, rate limited, failing ------------------------------------------------


def test_410_removes_the_subscription(
    app, school, subscribed, record_incident, deliver_jobs, local_push
):
    device = subscribed(school.slt)
    local_push.reply(device, 410)
    record_incident(school.staff, school.ada)
    deliver_jobs()
    with app.app_context():
        assert db.session.scalars(select(PushSubscription)).all() == []
        [row] = _deliveries()
        assert row.status == DeliveryStatus.GONE and row.subscription_id is None
        assert "push.unsubscribed" in db.session.scalars(select(AuditEvent.action)).all()


def test_404_removes_the_subscription_too(
    app, school, subscribed, record_incident, deliver_jobs, local_push
):
    device = subscribed(school.slt)
    local_push.reply(device, 404)
    record_incident(school.staff, school.ada)
    deliver_jobs()
    with app.app_context():
        assert db.session.scalars(select(PushSubscription)).all() == []


def test_429_is_retried_after_retry_after(
    app, school, subscribed, record_incident, deliver_jobs, local_push, time_machine
):
    time_machine.move_to(START, tick=False)
    device = subscribed(school.slt)
    local_push.reply(device, 429, {"Retry-After": "120"})
    record_incident(school.staff, school.ada)
    deliver_jobs()
    assert local_push.to(device) == []
    with app.app_context():
        [row] = _deliveries()
        assert row.status == DeliveryStatus.PENDING
        assert row.next_attempt_at == START + timedelta(seconds=120)
    time_machine.move_to(START + timedelta(seconds=119), tick=False)
    with app.app_context():
        assert delivery.sweep()["sent"] == 0
    time_machine.move_to(START + timedelta(seconds=120), tick=False)
    with app.app_context():
        assert delivery.sweep()["sent"] == 1
    assert len(local_push.to(device)) == 1


def test_a_failing_push_service_is_retried_with_back_off_until_it_answers(
    app, school, subscribed, record_incident, deliver_jobs, local_push, time_machine
):
    time_machine.move_to(START, tick=False)
    device = subscribed(school.slt)
    for _ in range(3):
        local_push.reply(device, 503)
    record_incident(school.staff, school.ada)
    deliver_jobs()
    waits = []
    for _ in range(3):
        with app.app_context():
            [row] = _deliveries()
            waits.append(row.next_attempt_at - START)
        time_machine.move_to(row.next_attempt_at, tick=False)
        with app.app_context():
            delivery.sweep()
    assert waits[0] == timedelta(seconds=10) and waits[1] > waits[0] and waits[2] > waits[1]
    assert len(local_push.to(device)) == 1
    with app.app_context():
        [row] = _deliveries()
        assert row.status == DeliveryStatus.SENT and row.attempts == 4


def test_a_push_service_that_is_not_there_is_a_network_error_retried_later(
    app, school, record_incident, deliver_jobs, push_service
):
    app.config["PUSH_LOCAL_SERVICE"] = "http://127.0.0.1:9"  # the discard port: nobody there
    try:
        with app.test_request_context():
            keys = push_service.device().subscription["keys"]
            subscriptions.subscribe(
                db.session.get(User, school.slt.id),
                {"endpoint": "http://127.0.0.1:9/push/x", "keys": keys},
            )
            db.session.commit()
        record_incident(school.staff, school.ada)
        deliver_jobs()
        with app.app_context():
            [row] = _deliveries()
            assert row.status == DeliveryStatus.PENDING and row.last_error.startswith("network")
    finally:
        app.config["PUSH_LOCAL_SERVICE"] = ""


def test_a_claim_left_by_a_dead_worker_is_sent_again_after_the_lease(
    app, school, subscribed, record_incident, local_push, time_machine, deliver_jobs
):
    time_machine.move_to(START, tick=False)
    device = subscribed(school.slt)
    local_push.reply(device, 503)
    record_incident(school.staff, school.ada)
    deliver_jobs()
    with app.app_context():
        [row] = _deliveries()
        # As a worker killed after claiming it leaves it.
        row.status, row.claimed_at = DeliveryStatus.SENDING, START
        db.session.commit()
    time_machine.move_to(
        START + timedelta(seconds=app.config["PUSH_SEND_LEASE_SECONDS"] - 1), tick=False
    )
    with app.app_context():
        assert delivery.sweep()["sent"] == 0
    time_machine.move_to(
        START + timedelta(seconds=app.config["PUSH_SEND_LEASE_SECONDS"] + 1), tick=False
    )
    with app.app_context():
        assert delivery.sweep()["sent"] == 1
    assert len(local_push.to(device)) == 1


def test_a_redirect_from_a_push_service_is_never_followed(
    app, school, subscribed, record_incident, deliver_jobs, local_push
):
    device = subscribed(school.slt)
    elsewhere = local_push.device()
    local_push.reply(device, 307, {"Location": elsewhere.endpoint})
    record_incident(school.staff, school.ada)
    deliver_jobs()
    assert local_push.to(elsewhere) == [] and local_push.to(device) == []
    with app.app_context():
        [row] = _deliveries()
        assert row.status == DeliveryStatus.FAILED and "307" in row.last_error


@pytest.fixture
def own_app(tmp_path_factory, push_service):
    """An app on its own database with real commits, as the web process has."""
    from tests.conftest import make_database_url, make_test_app

    database = make_database_url(tmp_path_factory, "push-own-db")
    app = make_test_app(next(database), tmp_path_factory.mktemp("push-own"))
    app.config.update(REDIS_URL="", PUSH_LOCAL_SERVICE=push_service.origin)
    yield app
    with app.app_context():
        db.engine.dispose()
    database.close()


@pytest.mark.real_commits
def test_pushes_leave_only_when_the_whole_transaction_has_committed(own_app, push_service):
    """A SAVEPOINT released inside the incident's transaction is not its commit: nothing is
    sent until the transaction itself commits, and then it is (on SQLite this once deadlocked
    on the write lock the open transaction still held)."""
    from tests.test_push_chaos import _record, _school

    author, pupil, category, devices = _school(own_app, push_service)
    with own_app.test_request_context():
        from server.incidents.submission import submit_incident

        submit_incident(
            db.session.get(User, author),
            {
                "uuid": "7c6f8a52-3b7e-4d7c-9a0f-5d1f0e6b2a11",
                "pupil_id": pupil,
                "occurred_at": "2026-03-02T09:00:00+00:00",
                "account": "Fell in the playground.",
                "parents_contacted": "yes",
                "medical_attention": "not_needed",
                "category_ids": [category],
            },
        )  # its files and alerts are written inside a SAVEPOINT, released here
        assert sum(len(push_service.to(d)) for d in devices.values()) == 0
        db.session.commit()
    assert sorted(len(push_service.to(d)) for d in devices.values()) == [1, 1, 1, 1]
    _record(own_app, author, pupil, category, urgent=False)
    assert sorted(len(push_service.to(d)) for d in devices.values()) == [2, 2, 2, 2]
