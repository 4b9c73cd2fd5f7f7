"""Web push (SPEC §4): VAPID keys, device subscriptions, the delivery outbox and its jobs.

Alert rows (`server.alerts`) are the record; this feature carries them to each subscribed
device. The service worker's half is `service_worker/push.js`.
"""

from flask import Blueprint

bp = Blueprint("push", __name__)

from server.push import routes  # noqa: E402,F401
