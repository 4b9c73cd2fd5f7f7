"""Subscribing devices to push, and the rule for which push services Haven will call.

An endpoint is a URL the server will POST to, sent by a browser: so it is accepted only over
https, on the default port, at a host on the allow-list (`PUSH_SERVICES`), or at the one local
push service named by `PUSH_LOCAL_SERVICE` for tests and trials.
"""

import base64
import binascii
from urllib.parse import urlsplit

from flask import current_app
from sqlalchemy import select, update

from server.audit.operations import record
from server.auth.models import User
from server.auth.roles import Permission
from server.clock import utcnow
from server.errors import Refused
from server.extensions import db
from server.ids import row_by_id
from server.push.models import DeliveryStatus, PushDelivery, PushSubscription

MAX_ENDPOINT_LENGTH = 1024
MAX_NAME_LENGTH = 120


class SubscriptionRefused(Refused):
    def __init__(self, message: str, status: int = 422):
        super().__init__(message, status)


def _host_allowed(host: str) -> bool:
    for pattern in current_app.config["PUSH_SERVICES"]:
        if pattern.startswith("*."):
            if host.endswith(pattern[1:]) and len(host) > len(pattern) - 1:
                return True
        elif host == pattern:
            return True
    return False


def _is_local_service(endpoint: str) -> bool:
    local = current_app.config["PUSH_LOCAL_SERVICE"]
    return bool(local) and endpoint.startswith(local + "/")


def endpoint_refusal(endpoint) -> str | None:
    """Why Haven will not send to this endpoint, or None when it will."""
    if not isinstance(endpoint, str) or not endpoint or len(endpoint) > MAX_ENDPOINT_LENGTH:
        return "The subscription has no usable endpoint."
    if _is_local_service(endpoint):
        return None
    try:
        parts = urlsplit(endpoint)
        port = parts.port
    except ValueError:
        return "The subscription's endpoint is not a web address."
    if parts.scheme != "https":
        return "Push services are reached over https only."
    if parts.username or parts.password or port not in (None, 443):
        return "The subscription's endpoint is not a push service."
    if not _host_allowed((parts.hostname or "").lower()):
        return "That push service is not one Haven sends to."
    return None


def _key(value, length: int) -> str | None:
    """A base64url key of exactly `length` bytes, as the browser sent it, or None."""
    if not isinstance(value, str) or len(value) > 200:
        return None
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError):
        return None
    return value.rstrip("=") if len(raw) == length else None


def _parse(body) -> tuple[str, str, str, str]:
    if not isinstance(body, dict):
        raise SubscriptionRefused("Send the subscription as JSON.", 400)
    endpoint = body.get("endpoint")
    refusal = endpoint_refusal(endpoint)
    if refusal:
        raise SubscriptionRefused(refusal)
    keys = body.get("keys") if isinstance(body.get("keys"), dict) else {}
    p256dh, auth = _key(keys.get("p256dh"), 65), _key(keys.get("auth"), 16)
    if p256dh is None or auth is None or not p256dh.startswith("B"):
        raise SubscriptionRefused("The subscription's keys are missing or not valid.")
    name = body.get("name") if isinstance(body.get("name"), str) else ""
    return endpoint, p256dh, auth, name.strip()[:MAX_NAME_LENGTH]


def may_subscribe(user: User) -> bool:
    """Only people who are alerted (SPEC §4) have anything to be notified of."""
    return user.active and user.can(Permission.RECORD_INCIDENTS)


def subscribe(user: User, body, device_id=None) -> PushSubscription:
    """Add this device's subscription for `user`, or refresh it (sent again at each app start).

    An endpoint belongs to one browser: if someone else had subscribed it (a shared iPad), it
    is theirs no longer, and what was waiting for them is not sent to it.
    """
    if not may_subscribe(user):
        raise SubscriptionRefused("Your account does not receive alerts.", 403)
    endpoint, p256dh, auth, name = _parse(body)
    now = utcnow()
    subscription = db.session.scalar(
        select(PushSubscription).where(PushSubscription.endpoint == endpoint)
    )
    if subscription is not None and subscription.user_id != user.id:
        _remove(subscription, "moved to another account")
        subscription = None
    if subscription is None:
        subscription = PushSubscription(
            user_id=user.id,
            endpoint=endpoint,
            p256dh=p256dh,
            auth=auth,
            created_at=now,
            name=name or "This device",
        )
        db.session.add(subscription)
        record(
            "push.subscribed",
            object_type="user",
            object_id=user.id,
            actor=user,
            details={"device": subscription.name},
        )
    subscription.p256dh, subscription.auth, subscription.last_seen_at = p256dh, auth, now
    if name:
        subscription.name = name
    if device_id is not None:
        subscription.device_id = device_id
    db.session.flush()
    return subscription


def own_subscriptions(user: User) -> list[PushSubscription]:
    return list(
        db.session.scalars(
            select(PushSubscription)
            .where(PushSubscription.user_id == user.id)
            .order_by(PushSubscription.created_at, PushSubscription.id)
        )
    )


def unsubscribe_endpoint(user: User, body) -> bool:
    """This browser stops receiving: remove its subscription if it is the user's own."""
    endpoint = body.get("endpoint") if isinstance(body, dict) else None
    if not isinstance(endpoint, str):
        raise SubscriptionRefused("Send the subscription's endpoint.", 400)
    subscription = db.session.scalar(
        select(PushSubscription).where(
            PushSubscription.endpoint == endpoint, PushSubscription.user_id == user.id
        )
    )
    if subscription is None:
        return False
    _remove(subscription, "unsubscribed", actor=user)
    return True


def remove_own_subscription(user: User, subscription_id) -> None:
    subscription = row_by_id(PushSubscription, subscription_id)
    if subscription is None or subscription.user_id != user.id:
        raise SubscriptionRefused("There is no such device.", 404)
    _remove(subscription, "removed by its owner", actor=user)


def remove_user_subscriptions(user: User, why: str) -> int:
    """Every device of a user stops receiving (their account was disabled)."""
    return _remove_all(select(PushSubscription).where(PushSubscription.user_id == user.id), why)


def remove_device_subscriptions(device_id: int, why: str = "device revoked") -> int:
    """The subscriptions of an enrolled device that was revoked (SPEC §5: a lost iPad)."""
    return _remove_all(select(PushSubscription).where(PushSubscription.device_id == device_id), why)


def _remove_all(query, why: str) -> int:
    removed = 0
    for subscription in db.session.scalars(query).all():
        _remove(subscription, why)
        removed += 1
    return removed


def remove_expired(subscription_id: int, status_code: int) -> None:
    """The push service says the subscription is gone (404/410): forget it."""
    subscription = db.session.get(PushSubscription, subscription_id)
    if subscription is not None:
        _remove(subscription, f"expired at the push service ({status_code})")


def _remove(subscription: PushSubscription, why: str, actor: User | None = None) -> None:
    """Delete the subscription; what was waiting for it will never be sent, and says so."""
    db.session.execute(
        update(PushDelivery)
        .where(
            PushDelivery.subscription_id == subscription.id,
            PushDelivery.status.in_([DeliveryStatus.PENDING, DeliveryStatus.SENDING]),
        )
        .values(status=DeliveryStatus.GONE, last_error=why[:200])
        .execution_options(synchronize_session=False)
    )
    record(
        "push.unsubscribed",
        object_type="user",
        object_id=subscription.user_id,
        actor=actor,
        details={"device": subscription.name, "why": why},
    )
    db.session.delete(subscription)
    db.session.flush()
