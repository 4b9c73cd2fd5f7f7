"""Who may reach which route: one table, every route, every role.

A new route must join ROUTES, or `test_every_route_is_in_the_table` fails. Each entry names the
roles allowed; every other role must get 403, and a visitor who is not signed in must be sent
to sign in (401 for the JSON API).
"""

from dataclasses import dataclass

import pytest

from server.auth.roles import Role

ANYONE = "anyone"  # public: no sign-in needed
SIGNED_IN = frozenset(Role)  # any signed-in role


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # may name values from the `targets` fixture, such as {user_id}
    allowed: frozenset | str


ROUTES: dict[str, Route] = {
    "static": Route("GET", "/static/css/haven.css", ANYONE),
    "home.index": Route("GET", "/", SIGNED_IN),
    "auth.sign_in": Route("GET", "/auth/sign-in", ANYONE),
    "auth.sign_out": Route("POST", "/auth/sign-out", ANYONE),
    "auth.request_reset": Route("GET", "/auth/reset-password", ANYONE),
    "auth.reset_password": Route("GET", "/auth/reset-password/not-a-token", ANYONE),
    "auth.change_password": Route("GET", "/auth/account/password", SIGNED_IN),
    "auth.blank_screen": Route("POST", "/auth/blank", SIGNED_IN),
    "auth.unlock": Route("GET", "/auth/unlock", SIGNED_IN),
    "auth.session_status": Route("GET", "/auth/session", SIGNED_IN),
    "auth.keep_alive": Route("POST", "/auth/session/keep-alive", SIGNED_IN),
    "admin.index": Route("GET", "/admin/", frozenset({Role.ADMIN})),
    "admin.users": Route("GET", "/admin/users", frozenset({Role.ADMIN})),
    "admin.new_user": Route("GET", "/admin/users/new", frozenset({Role.ADMIN})),
    "admin.edit_user": Route("GET", "/admin/users/{user_id}", frozenset({Role.ADMIN})),
}


@pytest.fixture
def targets(make_user) -> dict:
    """Records that parametrised paths point at."""
    return {"user_id": make_user(Role.STAFF, full_name="Target Person").id}


def test_every_route_is_in_the_table(app):
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    assert endpoints - ROUTES.keys() == set(), "new routes must join ROUTES in tests/test_access.py"
    assert ROUTES.keys() - endpoints == set(), "ROUTES names endpoints that no longer exist"


def test_every_view_declares_its_access_rule(app):
    undeclared = [
        endpoint
        for endpoint, view in app.view_functions.items()
        if endpoint != "static" and not hasattr(view, "access_rule")
    ]
    assert undeclared == []


def _request(client, route: Route, targets: dict):
    return client.open(route.path.format(**targets), method=route.method)


def _sent_to_sign_in(response) -> bool:
    if response.status_code == 401:
        return True
    return response.status_code == 302 and "/auth/sign-in" in response.headers["Location"]


@pytest.mark.parametrize("endpoint", sorted(ROUTES))
def test_visitor_who_is_not_signed_in(endpoint, client, targets):
    route = ROUTES[endpoint]
    response = _request(client, route, targets)
    if route.allowed == ANYONE:
        assert response.status_code < 500 and response.status_code != 403
    else:
        assert _sent_to_sign_in(response), response.status_code


@pytest.mark.parametrize("role", list(Role), ids=lambda role: role.value)
@pytest.mark.parametrize("endpoint", sorted(ROUTES))
def test_each_role(endpoint, role, client, make_user, sign_in, targets):
    route = ROUTES[endpoint]
    sign_in(make_user(role))
    response = _request(client, route, targets)
    assert response.status_code < 500
    if route.allowed == ANYONE:
        assert response.status_code != 403
    elif role in route.allowed:
        assert response.status_code != 403 and not _sent_to_sign_in(response), response.status_code
    else:
        assert response.status_code == 403, response.status_code
