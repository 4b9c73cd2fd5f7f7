"""The installable app and offline capture (SPEC §5): the service worker, the manifest, device
enrolment and the sealed outbox that replays incidents written with no connection."""

from flask import Blueprint

bp = Blueprint("offline", __name__)

from server.offline import routes  # noqa: E402,F401
