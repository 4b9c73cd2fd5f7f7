"""One home for errors: an unexpected failure answers 500 with a plain message and saves nothing."""

import pytest

from server import create_app
from server.config import TestConfig
from server.errors import Refused


@pytest.fixture
def failing_app(tmp_path):
    app = create_app(TestConfig, SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'e.sqlite3'}")

    @app.route("/boom")
    def boom():
        raise RuntimeError("a bug")

    @app.route("/api/boom")
    def api_boom():
        raise RuntimeError("a bug")

    @app.route("/refused")
    def refused():
        raise Refused("That cannot be accepted.", 409)

    return app


def test_an_unexpected_error_is_a_plain_page(failing_app):
    response = failing_app.test_client().get("/boom")
    assert response.status_code == 500
    page = response.get_data(as_text=True)
    assert "Something went wrong" in page and "nothing was saved" in page
    assert "property object" not in page and "a bug" not in page


def test_an_unexpected_api_error_is_json(failing_app):
    response = failing_app.test_client().get("/api/boom")
    assert response.status_code == 500
    assert response.get_json() == {
        "error": "Something went wrong",
        "message": "Something went wrong on our side and nothing was saved. Please try again; "
        "if it keeps happening, tell the school office.",
    }


def test_a_refusal_that_escapes_a_view_keeps_its_status_and_message(failing_app):
    response = failing_app.test_client().get("/refused", headers={"Accept": "application/json"})
    assert response.status_code == 409
    assert response.get_json()["message"] == "That cannot be accepted."
