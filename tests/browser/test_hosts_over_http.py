"""A forged Host header over real HTTP (issue 11, finding 1): refused, and never in a link.

No browser is needed: `http.client` sends the Host header as given. Python HTTP clients match
cookies against the Host header they send, so the session cookie is sent by hand (PITFALLS).
"""

import http.client
import re
from urllib.parse import urlencode, urlsplit

from server.auth.roles import Role
from tests.conftest import run_queued_jobs


def _open(live_server, method: str, path: str, *, host: str, cookie: str = "", body=None):
    port = urlsplit(live_server.url).port
    connection = http.client.HTTPConnection("localhost", port, timeout=10)
    headers = {"Host": host}
    if cookie:
        headers["Cookie"] = cookie
    if body is not None:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    connection.request(method, path, body=body, headers=headers)
    response = connection.getresponse()
    return response.status, dict(response.getheaders()), response.read().decode()


def _form_and_cookie(live_server) -> tuple[str, str]:
    """The reset form's CSRF token and the session cookie it belongs to, asked of localhost."""
    host = urlsplit(live_server.url).netloc
    _status, headers, page = _open(live_server, "GET", "/auth/reset-password", host=host)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    cookie = headers["Set-Cookie"].split(";", 1)[0]
    return token, cookie


def _mails_to(live_server, address: str) -> list[str]:
    _run_queued_jobs(live_server)
    folder = live_server.app.config["MAIL_DEV_DIR"]
    texts = [path.read_text() for path in sorted(folder.glob("*.eml"))] if folder.exists() else []
    return [text for text in texts if f"To: {address}" in text]


def _run_queued_jobs(live_server) -> None:
    """With REDIS_URL set the mail job waits on a real queue: run it as a worker would."""
    if live_server.app.config["REDIS_URL"]:
        run_queued_jobs(live_server.app)


def test_a_forged_host_is_refused_and_mails_nothing(live_server):
    user = live_server.create_user(
        Role.STAFF, email="forged.host@school.example", full_name="Forged Host"
    )
    token, cookie = _form_and_cookie(live_server)
    body = urlencode({"csrf_token": token, "email": user.email})
    status, _headers, text = _open(
        live_server, "POST", "/auth/reset-password", host="evil.example", cookie=cookie, body=body
    )
    assert status == 400 and "does not answer for that host name" in text
    assert _mails_to(live_server, user.email) == []


def test_a_link_is_built_on_the_base_url_for_any_trusted_host(live_server):
    user = live_server.create_user(
        Role.STAFF, email="trusted.alias@school.example", full_name="Trusted Alias"
    )
    token, cookie = _form_and_cookie(live_server)
    alias = f"127.0.0.1:{urlsplit(live_server.url).port}"
    body = urlencode({"csrf_token": token, "email": user.email})
    status, _headers, _text = _open(
        live_server, "POST", "/auth/reset-password", host=alias, cookie=cookie, body=body
    )
    assert status == 302
    (mail,) = _mails_to(live_server, user.email)
    assert f"{live_server.url}/auth/reset-password/" in mail
    assert "127.0.0.1" not in mail
