"""The Notifications page and the JSON endpoints its script (and every page) calls."""

from flask import flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user

from server.auth.access import requires
from server.auth.roles import Permission
from server.extensions import db
from server.push import bp, subscriptions, vapid
from server.push.outbox import queue_for_users
from server.push.subscriptions import SubscriptionRefused


def _me():
    return current_user._get_current_object()


@bp.errorhandler(SubscriptionRefused)
def refused(error: SubscriptionRefused):
    db.session.rollback()
    if request.is_json or request.path.endswith((".json", "/key")):
        return jsonify(error="refused", message=error.message), error.status
    flash(error.message, "error")
    return redirect(url_for("push.notifications"))


@bp.get("/notifications")
@requires(Permission.RECORD_INCIDENTS)
def notifications():
    return render_template(
        "push/notifications.html",
        devices=subscriptions.own_subscriptions(_me()),
        public_key=vapid.public_key(),
    )


@bp.get("/key")
@requires(Permission.RECORD_INCIDENTS)
def public_key():
    return jsonify(public_key=vapid.public_key())


def enrolled_device_id(user, body) -> int | None:
    """The sender's own enrolled device named in the body, if it is one (anything else: none)."""
    from server.ids import parse_id
    from server.offline.devices import find_device

    device = find_device(parse_id(body.get("device_id")) if isinstance(body, dict) else None)
    return device.id if device is not None and device.user_id == user.id and device.active else None


@bp.post("/subscriptions")
@requires(Permission.RECORD_INCIDENTS)
def subscribe():
    body = request.get_json(silent=True)
    subscription = subscriptions.subscribe(_me(), body, enrolled_device_id(_me(), body))
    db.session.commit()
    return jsonify(id=subscription.id, name=subscription.name), 201


@bp.post("/subscriptions/unsubscribe")
@requires(Permission.RECORD_INCIDENTS)
def unsubscribe():
    removed = subscriptions.unsubscribe_endpoint(_me(), request.get_json(silent=True))
    db.session.commit()
    return jsonify(removed=removed)


@bp.post("/subscriptions/<int:subscription_id>/remove")
@requires(Permission.RECORD_INCIDENTS)
def remove(subscription_id: int):
    subscriptions.remove_own_subscription(_me(), subscription_id)
    db.session.commit()
    flash("That device will no longer receive notifications.", "success")
    return redirect(url_for("push.notifications"))


@bp.post("/test")
@requires(Permission.RECORD_INCIDENTS)
def send_test():
    sent_to = queue_for_users([current_user.id], high_urgency=False)
    db.session.commit()
    if sent_to:
        flash(f"A test notification is on its way to {len(sent_to)} device(s).", "success")
    else:
        flash("No device of yours receives notifications yet.", "info")
    return redirect(url_for("push.notifications"))


@bp.before_app_request
def _start_in_process_loop():
    from server.push.loop import start_if_needed

    start_if_needed()
