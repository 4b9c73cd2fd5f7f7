"""Routes of the installable app: the service worker and the modules it imports."""

from flask import send_from_directory

from server.auth.access import public_while_locked
from server.config import PROJECT_ROOT
from server.offline import bp

SERVICE_WORKER_DIR = PROJECT_ROOT / "service_worker"


@bp.get("/service-worker.js")
@public_while_locked
def service_worker():
    # Served from the root so that it controls every page; never cached by HTTP, so an update
    # is seen at the next navigation.
    response = send_from_directory(SERVICE_WORKER_DIR, "service-worker.js", max_age=0)
    response.headers["Service-Worker-Allowed"] = "/"
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.get("/sw/<path:filename>")
@public_while_locked
def service_worker_module(filename: str):
    response = send_from_directory(SERVICE_WORKER_DIR, filename, max_age=0)
    response.headers["Cache-Control"] = "no-cache"
    return response
