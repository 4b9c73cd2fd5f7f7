"""Links in mail come from HAVEN_BASE_URL, never from the Host header; other hosts are refused
(issue 11, finding 1). Over real HTTP in tests/browser/test_hosts_over_http.py."""

import pytest

from server import create_app
from server.auth.roles import Role
from server.config import Config, TestConfig


def mails_to(app, address: str) -> list[str]:
    folder = app.config["MAIL_DEV_DIR"]
    return (
        [
            path.read_text()
            for path in sorted(folder.glob("*.eml"))
            if f"To: {address}" in path.read_text()
        ]
        if folder.exists()
        else []
    )


@pytest.mark.parametrize("host", ["evil.example", "evil.example:5000", "localhost.evil.example"])
def test_a_request_for_a_host_the_school_has_not_configured_is_refused(client, make_user, host):
    user = make_user(Role.STAFF)
    response = client.post(
        "/auth/reset-password", data={"email": user.email}, headers={"Host": host}
    )
    assert response.status_code == 400
    assert client.get("/auth/sign-in", headers={"Host": host}).status_code == 400


def test_a_reset_link_uses_the_base_url_whatever_host_was_asked(
    app, client, make_user, monkeypatch, run_jobs
):
    """127.0.0.1 is trusted in development, yet the link is built on the base URL."""
    # The test client keeps the CSRF cookie for "localhost" only; CSRF is tested elsewhere.
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", False)
    user = make_user(Role.STAFF, email="link.reader@school.example")
    response = client.post(
        "/auth/reset-password", data={"email": user.email}, headers={"Host": "127.0.0.1:5000"}
    )
    assert response.status_code == 302
    run_jobs()
    (mail,) = mails_to(app, user.email)
    assert "http://localhost:5000/auth/reset-password/" in mail
    assert "127.0.0.1" not in mail


def test_trusted_hosts_default_to_this_machine_and_the_base_url(monkeypatch):
    from server.config import _trusted_hosts

    monkeypatch.delenv("HAVEN_TRUSTED_HOSTS", raising=False)
    assert _trusted_hosts("https://haven.larkfield.sch.uk") == [
        "127.0.0.1",
        "haven.larkfield.sch.uk",
        "localhost",
    ]
    monkeypatch.setenv("HAVEN_TRUSTED_HOSTS", "Haven.Larkfield.sch.uk, .larkfield.sch.uk")
    assert _trusted_hosts("http://localhost:5000") == [
        "haven.larkfield.sch.uk",
        ".larkfield.sch.uk",
    ]


def test_proxy_fix_is_off_unless_configured(tmp_path):
    plain = create_app(TestConfig, SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path}/a.db")
    assert plain.wsgi_app.__class__.__name__ != "ProxyFix"
    hops = {**Config.PROXY_FIX, "x_for": 1, "x_proto": 1}
    proxied = create_app(
        TestConfig, SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path}/b.db", PROXY_FIX=hops
    )
    assert proxied.wsgi_app.__class__.__name__ == "ProxyFix"
    assert (proxied.wsgi_app.x_for, proxied.wsgi_app.x_proto) == (1, 1)


def test_behind_a_configured_proxy_the_client_address_is_counted(app, client, monkeypatch):
    from sqlalchemy import select
    from werkzeug.middleware.proxy_fix import ProxyFix

    from server.auth.models import SignInAttempt
    from server.extensions import db

    monkeypatch.setattr(app, "wsgi_app", ProxyFix(app.wsgi_app, x_for=1))
    response = client.post(
        "/auth/sign-in",
        data={"email": "someone@school.example", "password": "Wrong-password-1!"},
        headers={"X-Forwarded-For": "203.0.113.9"},
        environ_base={"REMOTE_ADDR": "10.0.0.2"},
    )
    assert response.status_code == 401
    with app.app_context():
        addresses = db.session.scalars(select(SignInAttempt.ip_address)).all()
    assert addresses == ["203.0.113.9"]
