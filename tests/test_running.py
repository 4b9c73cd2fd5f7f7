"""Running Haven as the README says: `make run` (gunicorn, as Procfile's `web`), the `flask`
commands as printed, and what a plain client such as curl gets."""

import http.client
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import click
import pytest
from flask.cli import FlaskGroup, ScriptInfo

from server.config import PROJECT_ROOT
from server.web import wants_json

README = (PROJECT_ROOT / "README.md").read_text()
FLASK = Path(sys.executable).parent / "flask"


def _clean_env(**extra) -> dict:
    """This environment without anything that names the app or a shared database: a command
    must find the app by itself (.flaskenv) and never touch the suite's databases."""
    env = {k: v for k, v in os.environ.items()
           if k not in {"FLASK_APP", "DATABASE_URL", "REDIS_URL", "MIGRATION_DATABASE_URL"}}
    return env | extra


# --- Who gets JSON -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "accept", "json"),
    [
        ("/", "*/*", False),  # curl
        ("/", None, False),
        ("/", "text/html,application/xhtml+xml,*/*;q=0.8", False),  # a browser
        ("/", "application/json", True),
        ("/", "application/json, text/plain, */*", True),
        ("/api/roster", "*/*", True),
        ("/api/roster", "text/html", True),
    ],
)
def test_json_only_for_the_api_and_clients_that_prefer_it(app, path, accept, json):
    headers = {"Accept": accept} if accept else {}
    with app.test_request_context(path, headers=headers):
        assert wants_json() is json


def test_curl_gets_the_sign_in_page_not_json(client):
    response = client.get("/", headers={"Accept": "*/*"})
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/auth/sign-in")
    page = client.get(response.headers["Location"], headers={"Accept": "*/*"})
    assert page.status_code == 200 and page.mimetype == "text/html"


def test_a_script_that_asks_for_json_still_gets_json(client):
    response = client.get("/", headers={"Accept": "application/json"})
    assert response.status_code == 401 and response.get_json()["error"] == "signed_out"


# --- The README's flask commands -----------------------------------------------------------


def _readme_flask_commands() -> list[list[str]]:
    """The command words of every `flask …` line in the README's code blocks."""
    commands = []
    for block in re.findall(r"```(?:sh|bash)?\n(.*?)```", README, re.S):
        for line in block.splitlines():
            words = line.split("#")[0].split()
            if words[:1] == ["flask"]:
                words = words[1:]
                if words[:1] == ["--app"]:
                    words = words[2:]
                commands.append([w for w in words if re.fullmatch(r"[a-z][a-z-]*", w)][:2])
    return commands


def test_every_flask_command_in_the_readme_exists(app):
    commands = _readme_flask_commands()
    assert len(commands) >= 10
    cli = FlaskGroup(create_app=lambda: app)
    with click.Context(cli, obj=ScriptInfo(create_app=lambda: app)) as context:
        for words in commands:
            command = cli.get_command(context, words[0])
            assert command is not None, f"flask {words[0]}: no such command"
            if isinstance(command, click.Group) and len(words) > 1:
                assert command.get_command(context, words[1]) is not None, f"flask {words}"


def test_a_readme_command_works_as_printed_from_the_project(tmp_path):
    """`flask db heads`, typed as the README prints it: no --app, no FLASK_APP (.flaskenv)."""
    assert "flask db upgrade heads" in README
    result = subprocess.run(
        [str(FLASK), "db", "heads"],
        cwd=PROJECT_ROOT,
        env=_clean_env(HAVEN_INSTANCE_DIR=str(tmp_path)),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "(head)" in result.stdout


# --- make run ------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("localhost", 0))
        return probe.getsockname()[1]


def _get(port: int, path: str) -> tuple[http.client.HTTPResponse, str]:
    """What curl gets: `Accept: */*`, no redirect followed."""
    connection = http.client.HTTPConnection("localhost", port, timeout=10)
    try:
        connection.request("GET", path, headers={"Accept": "*/*"})
        response = connection.getresponse()
        return response, response.read().decode()
    finally:
        connection.close()


def test_procfile_web_is_gunicorn_and_make_run_uses_it():
    procfile = (PROJECT_ROOT / "Procfile").read_text()
    web = re.search(r"^web: (.*)$", procfile, re.M).group(1)
    assert web.startswith("gunicorn ") and "${HOST:-0.0.0.0}:${PORT:-8000}" in web
    makefile = (PROJECT_ROOT / "Makefile").read_text()
    assert "s/^web: //p' Procfile" in makefile


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_make_run_serves_through_gunicorn_on_the_port_given(tmp_path):
    port = _free_port()
    server = subprocess.Popen(
        ["make", "--no-print-directory", "run", f"PORT={port}", "HOST=localhost"],
        cwd=PROJECT_ROOT,
        env=_clean_env(HAVEN_INSTANCE_DIR=str(tmp_path)),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: make, sh and gunicorn end together
    )
    try:
        deadline = time.monotonic() + 240  # migrating and seeding the demo school come first
        response = None
        while time.monotonic() < deadline and server.poll() is None:
            try:
                response, _ = _get(port, "/")
                break
            except OSError:
                time.sleep(1)
        assert response is not None, server.stdout.read().decode() if server.poll() else "no answer"
        assert response.headers["Server"].startswith("gunicorn")
        assert response.status == 302 and "/auth/sign-in" in response.headers["Location"]
        sign_in, page = _get(port, "/auth/sign-in")
        assert sign_in.status == 200 and "Sign in" in page
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        server.stdout.close()
