"""Sending the outbox with pywebpush, from rq jobs (or in-process without Redis).

Each delivery is claimed by one conditional UPDATE before it is sent, so two workers (or a job
and the sweep) never send it twice; a claim left by a worker that died is taken again after
the lease (`PUSH_SEND_LEASE_SECONDS`). The device itself collapses a repeat by the
notification's tag. Outcomes: 2xx sent; 404/410 the subscription is removed; 429 waits for
Retry-After; 5xx and network errors back off; anything else fails for good.
"""

import logging
import threading
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime

import requests
from flask import current_app
from pywebpush import WebPushException, webpush
from sqlalchemy import and_, or_, select, update

from server import jobs
from server.alerts.models import Alert, Escalation
from server.auth.models import User
from server.clock import utcnow
from server.extensions import db
from server.push import payload, vapid
from server.push.models import DeliveryStatus, PushDelivery
from server.push.subscriptions import endpoint_refusal, remove_expired

log = logging.getLogger(__name__)

SWEEP_BATCH = 500
# One HTTP session per thread: connections (and TLS) to a push service are kept and reused.
_http = threading.local()
MAX_BACKOFF = timedelta(hours=1)
MAX_RETRY_AFTER = timedelta(hours=6)


# --- Handing over after commit ------------------------------------------------------------


def hand_over(delivery_ids: list[int]) -> None:
    """Committed deliveries to a job: rq with Redis; a thread (or, in tests, at once) without."""
    queue = jobs.queue()
    if queue is not None:
        queue.enqueue(deliver, delivery_ids, job_timeout=_job_timeout(len(delivery_ids)))
        return
    app = current_app._get_current_object()
    if app.config["PUSH_IN_PROCESS_LOOP"]:
        threading.Thread(target=_deliver_in_context, args=(app, delivery_ids), daemon=True).start()
    else:
        _deliver_in_context(app, delivery_ids)


def _job_timeout(count: int) -> int:
    return 60 + count * current_app.config["PUSH_TIMEOUT_SECONDS"]


def _deliver_in_context(app, delivery_ids: list[int]) -> None:
    # A fresh application context: its own database session, never the committing one's.
    with app.app_context():
        try:
            deliver(delivery_ids)
        except Exception:
            # The rows stay due: the sweep sends them.
            log.exception("in-process push delivery failed")
        finally:
            db.session.remove()


# --- The jobs -------------------------------------------------------------------------------


@jobs.job
def deliver(delivery_ids: list[int]) -> int:
    """Send these deliveries (those still due); returns how many were sent."""
    return sum(send_one(delivery_id) for delivery_id in delivery_ids)


@jobs.job
def sweep() -> dict:
    """Take every escalation step that is due, then send everything due that no job took
    (Redis was down, a worker died, a push service failed). Safe to run anywhere, any number
    of times, at once."""
    from server.alerts.escalation import escalate_due
    from server.transfer.reminders import remind_due

    # Escalation and transfer reminders first, so what they queue goes out in this same sweep.
    escalated = escalate_due()
    try:
        reminded = remind_due()
    except Exception:
        # A transfer reminder must never hold up an alert (a bad HAVEN_SCHOOL_CLOSED_DAYS, say).
        log.exception("transfer reminders failed; alerts are sent all the same")
        db.session.rollback()
        reminded = []
    due = due_deliveries()
    sent = deliver(due)
    return {"due": len(due), "sent": sent, "escalated": len(escalated), "reminded": len(reminded)}


def due_deliveries(limit: int = SWEEP_BATCH) -> list[int]:
    return list(
        db.session.scalars(
            select(PushDelivery.id).where(_is_due(utcnow())).order_by(PushDelivery.id).limit(limit)
        )
    )


def _is_due(now: datetime):
    lease = timedelta(seconds=current_app.config["PUSH_SEND_LEASE_SECONDS"])
    return or_(
        and_(PushDelivery.status == DeliveryStatus.PENDING, PushDelivery.next_attempt_at <= now),
        and_(PushDelivery.status == DeliveryStatus.SENDING, PushDelivery.claimed_at < now - lease),
    )


# --- One delivery ---------------------------------------------------------------------------


def _claim(delivery_id: int) -> bool:
    now = utcnow()
    claimed = db.session.execute(
        update(PushDelivery)
        .where(PushDelivery.id == delivery_id, _is_due(now))
        .values(status=DeliveryStatus.SENDING, claimed_at=now, attempts=PushDelivery.attempts + 1)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.commit()
    return claimed == 1


def send_one(delivery_id: int) -> bool:
    """Claim, send and record one delivery; True when the push service accepted it."""
    if not _claim(delivery_id):
        return False
    delivery = db.session.get(PushDelivery, delivery_id)
    try:
        if delivery.subscription is None:
            _finish(delivery, DeliveryStatus.GONE, "the device no longer receives")
            return False
        # Checked again at sending: the allow-list may have been narrowed since it subscribed.
        refusal = endpoint_refusal(delivery.subscription.endpoint)
        if refusal:
            _finish(delivery, DeliveryStatus.FAILED, refusal)
            return False
        response = _post(delivery)
    except WebPushException as error:
        _after_refusal(delivery, error.response)
        return False
    except (requests.RequestException, OSError) as error:
        _retry_later(delivery, f"network: {type(error).__name__}")
        return False
    except Exception:
        log.exception("push delivery %s could not be sent", delivery_id)
        _retry_later(delivery, "error preparing the notification")
        return False
    _finish(delivery, DeliveryStatus.SENT, f"accepted ({response.status_code})")
    return True


def _message(delivery: PushDelivery) -> dict:
    if delivery.alert_id is not None:
        return payload.for_alert(db.session.get(Alert, delivery.alert_id))
    if delivery.escalation_id is not None:
        return payload.for_escalation(db.session.get(Escalation, delivery.escalation_id))
    if delivery.transfer_reminder_id is not None:
        from server.transfer.models import TransferReminder

        return payload.for_transfer_reminder(
            db.session.get(TransferReminder, delivery.transfer_reminder_id)
        )
    return payload.for_test()


def _post(delivery: PushDelivery):
    config = current_app.config
    data = payload.encode(_message(delivery), db.session.get(User, delivery.user_id))
    headers = {"Urgency": "high" if delivery.high_urgency else "normal"}
    # A newer message with the same topic replaces one the service still holds.
    headers["Topic"] = f"haven-{delivery.id}"
    return webpush(
        delivery.subscription.as_webpush_info(),
        data=data,
        vapid_private_key=vapid.signer(),
        vapid_claims=vapid.fresh_claims(),
        ttl=config["PUSH_TTL_SECONDS"],
        timeout=config["PUSH_TIMEOUT_SECONDS"],
        headers=headers,
        requests_session=_session(),
    )


class _NoRedirects(requests.Session):
    """A push service answers; it never sends us elsewhere (a redirect could point inside the
    school's network, which the allow-list of endpoints is there to prevent)."""

    def request(self, *args, **kwargs):
        kwargs["allow_redirects"] = False
        return super().request(*args, **kwargs)


def _session() -> requests.Session:
    if not hasattr(_http, "session"):
        _http.session = _NoRedirects()
    return _http.session


def _after_refusal(delivery: PushDelivery, response) -> None:
    status = getattr(response, "status_code", None)
    if status in (404, 410):
        subscription_id = delivery.subscription_id
        _finish(delivery, DeliveryStatus.GONE, f"subscription expired ({status})")
        remove_expired(subscription_id, status)
        db.session.commit()
    elif status == 429:
        _retry_later(delivery, "rate limited (429)", _retry_after(response))
    elif status is None or status >= 500:
        _retry_later(delivery, f"push service error ({status})")
    else:
        log.error("push service refused delivery %s: %s", delivery.id, status)
        _finish(delivery, DeliveryStatus.FAILED, f"refused by the push service ({status})")


def _retry_after(response) -> timedelta | None:
    value = (response.headers.get("Retry-After") or "").strip()
    if not value:
        return None
    if value.isdigit():
        wait = timedelta(seconds=int(value))
    else:
        try:
            wait = parsedate_to_datetime(value) - utcnow()
        except (TypeError, ValueError):
            return None
    return min(max(wait, timedelta(0)), MAX_RETRY_AFTER)


def _backoff(attempts: int) -> timedelta:
    return min(timedelta(seconds=10 * 2 ** max(attempts - 1, 0)), MAX_BACKOFF)


def _retry_later(delivery: PushDelivery, why: str, wait: timedelta | None = None) -> None:
    if wait is None and delivery.attempts >= current_app.config["PUSH_MAX_ATTEMPTS"]:
        log.error("push delivery %s gave up after %s attempts", delivery.id, delivery.attempts)
        _finish(delivery, DeliveryStatus.FAILED, f"gave up: {why}")
        return
    delivery.status = DeliveryStatus.PENDING
    delay = wait if wait is not None else _backoff(delivery.attempts)
    delivery.next_attempt_at = utcnow() + delay
    delivery.last_error = why[:200]
    db.session.commit()


def _finish(delivery: PushDelivery, status: str, note: str) -> None:
    delivery.status = status
    delivery.last_error = note[:200]
    if status == DeliveryStatus.SENT:
        delivery.sent_at = utcnow()
    db.session.commit()
