"""Small helpers shared by every blueprint's views."""

from urllib.parse import urlsplit

from flask import current_app, request, url_for


def safe_next_url(target: str | None) -> str:
    """A local path to return to after sign-in or unlock; anything else goes home."""
    if not target:
        return url_for("home.index")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return url_for("home.index")
    if "\\" in target:
        return url_for("home.index")
    return target


def wants_json() -> bool:
    """JSON for the API and for clients that prefer it; HTML for browsers and for anything that
    takes whatever it is given (`Accept: */*`, as curl sends): a tie goes to the page."""
    return request.path.startswith("/api/") or (
        request.accept_mimetypes.best_match(["text/html", "application/json"]) == "application/json"
    )


def external_url(endpoint: str, **values) -> str:
    """An absolute link for an email, built on the configured base URL (`HAVEN_BASE_URL`),
    never on the Host header of whichever request asked for it."""
    base = urlsplit(current_app.config["SERVER_BASE_URL"])
    adapter = current_app.url_map.bind(
        base.netloc, script_name=base.path or "/", url_scheme=base.scheme or "https"
    )
    return adapter.build(endpoint, values, force_external=True)


def request_json_object() -> dict:
    """The request's JSON body when it is an object, else {} (not JSON, another JSON value,
    or nested so deep that Python's reader runs out of recursion: refused by the caller as
    a missing field, never a 500)."""
    try:
        body = request.get_json(silent=True)
    except RecursionError:
        return {}
    return body if isinstance(body, dict) else {}
