"""The outbox: a delivery row per alert per device, written in the alert's own transaction.

Nothing is sent here. Once the transaction commits, the new deliveries are handed to a job
(`server.push.delivery.deliver`); if that hand-over is lost (Redis down, a worker killed), the
periodic sweep finds the rows still pending and sends them. A rolled-back transaction leaves
no rows, so nothing is ever sent for an incident that was not recorded.
"""

import logging
from collections.abc import Iterable

from flask import has_app_context
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from server.extensions import db
from server.push.models import PushDelivery, PushSubscription

log = logging.getLogger(__name__)
_PENDING_KEY = "haven_push_deliveries"


def queue_for_users(user_ids: Iterable[int], *, high_urgency: bool, **about) -> list[int]:
    """Pending deliveries to every device of these users; `about` names the alert, the
    escalation, or neither (a test notification). Returns their ids."""
    user_ids = list(user_ids)
    if not user_ids:
        return []
    subscriptions = db.session.execute(
        select(PushSubscription.id, PushSubscription.user_id).where(
            PushSubscription.user_id.in_(user_ids)
        )
    ).all()
    return _queue(
        [
            PushDelivery(
                subscription_id=row.id, user_id=row.user_id, high_urgency=high_urgency, **about
            )
            for row in subscriptions
        ]
    )


def devices_of(user_ids) -> dict[int, list[int]]:
    """{user id: the ids of their push subscriptions}, for those who have any."""
    devices: dict[int, list[int]] = {}
    if not user_ids:
        return devices
    for row in db.session.execute(
        select(PushSubscription.id, PushSubscription.user_id).where(
            PushSubscription.user_id.in_(set(user_ids))
        )
    ):
        devices.setdefault(row.user_id, []).append(row.id)
    return devices


def queue_for_alerts(alerts, devices: dict[int, list[int]] | None = None) -> list[int]:
    """A pending delivery for each alert to each device of its recipient; `devices` as
    `devices_of` gives them, when the caller already asked (before taking a lock)."""
    alerts = list(alerts)
    if not alerts:
        return []
    if devices is None:
        devices = devices_of({alert.user_id for alert in alerts})
    deliveries = []
    for alert in alerts:
        high = bool(alert.incident.urgent or alert.incident.is_sensitive)
        for subscription_id in devices.get(alert.user_id, ()):
            deliveries.append(
                PushDelivery(
                    subscription_id=subscription_id,
                    user_id=alert.user_id,
                    alert_id=alert.id,
                    high_urgency=high,
                )
            )
    return _queue(deliveries)


def _queue(deliveries: list[PushDelivery]) -> list[int]:
    if not deliveries:
        return []
    db.session.add_all(deliveries)
    db.session.flush()
    ids = [delivery.id for delivery in deliveries]
    db.session.info.setdefault(_PENDING_KEY, []).extend(ids)
    return ids


@event.listens_for(Session, "after_commit")
def _hand_over_after_commit(session: Session) -> None:
    # Releasing a SAVEPOINT fires this too, while the real transaction is still open (and, on
    # SQLite, holding the write lock): wait for the outermost commit.
    if session.in_nested_transaction():
        return
    ids = session.info.pop(_PENDING_KEY, None)
    if not ids or not has_app_context():
        return
    from server.push.delivery import hand_over

    try:
        hand_over(ids)
    except Exception:
        # The rows are committed: the sweep sends them. A commit must never fail because of it.
        log.exception("could not hand %d push deliveries to a job", len(ids))


@event.listens_for(Session, "after_rollback")
def _forget_after_rollback(session: Session) -> None:
    session.info.pop(_PENDING_KEY, None)
