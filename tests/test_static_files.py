"""Static files, compression and page loading (server/assets): fingerprinted URLs cached for a
year with no cookie, compression, the module graph each page preloads, the Add Incident data
asked for with the page, and the app shell's size budget."""

import gzip
import re
from html.parser import HTMLParser
from pathlib import Path

import brotli
import pytest
from flask import url_for

from server.assets import module_preloads
from server.assets.compression import compress_response
from server.assets.modules import ModuleGraph, static_imports
from server.auth.roles import Role
from server.config import PROJECT_ROOT

PWA = PROJECT_ROOT / "pwa"
A_YEAR = "public, max-age=31536000, immutable"
SHELL_BUDGET_BYTES = 100 * 1024  # the Add Incident app shell, gzipped (issue 12)


@pytest.fixture
def build(app) -> str:
    return app.extensions["haven.assets"].build


class _Page(HTMLParser):
    def __init__(self, html: str):
        super().__init__()
        self.modules: list[str] = []
        self.modulepreloads: list[str] = []
        self.fetch_preloads: list[dict] = []
        self.stylesheets: list[str] = []
        self.static_urls: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        url = attributes.get("src") or attributes.get("href") or ""
        if url.startswith("/static/"):
            self.static_urls.append(url)
        if tag == "script" and attributes.get("type") == "module":
            self.modules.append(attributes["src"])
        if tag == "link" and attributes.get("rel") == "modulepreload":
            self.modulepreloads.append(url)
        if tag == "link" and attributes.get("rel") == "preload" and attributes.get("as") == "fetch":
            self.fetch_preloads.append(attributes)
        if tag == "link" and attributes.get("rel") == "stylesheet":
            self.stylesheets.append(url)


def _file_of(url: str) -> str:
    return re.sub(r"^/static/(?:[0-9a-f]{16}/)?", "", url)


def _imports_as_a_browser_would(name: str, seen: set[str]) -> set[str]:
    """The modules `name` loads, however deep, found without server/assets: every `from '…'`
    or `import '…'` anywhere in the file (a dynamic `import(…)` is not loaded with the page)."""
    if name in seen:
        return seen
    seen.add(name)
    source = (PWA / name).read_text()
    for specifier in re.findall(r"""(?:\bfrom|\bimport)\s*['"](\.{1,2}/[^'"]+)['"]""", source):
        _imports_as_a_browser_would(_normalise(Path(name).parent, specifier), seen)
    return seen


def _normalise(folder: Path, specifier: str) -> str:
    parts = list(folder.parts)
    for piece in specifier.split("/"):
        if piece == "..":
            parts.pop()
        elif piece != ".":
            parts.append(piece)
    return "/".join(parts)


# --- Static responses ------------------------------------------------------------------------


def test_a_fingerprinted_file_is_kept_for_a_year_and_sets_no_cookie(client, make_user, sign_in,
                                                                  build):
    sign_in(make_user(Role.STAFF))  # a browser with a session asks for it
    response = client.get(f"/static/{build}/js/app.js")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == A_YEAR
    assert "Set-Cookie" not in response.headers
    assert "Cookie" not in response.headers.get("Vary", "")
    assert response.mimetype == "text/javascript"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.data == (PWA / "js/app.js").read_bytes()


def test_a_plain_url_still_works_and_is_revalidated(client):
    response = client.get("/static/js/app.js")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-cache"
    assert "Cookie" not in response.headers.get("Vary", "")
    again = client.get("/static/js/app.js", headers={"If-None-Match": response.headers["ETag"]})
    assert again.status_code == 304 and again.data == b""


def test_another_builds_url_is_served_but_not_kept(client):
    # A page from the build before (a deploy under way) still loads; only the current build
    # may be cached for a year, so another process's files are never pinned under its name.
    response = client.get("/static/0123456789abcdef/js/app.js")
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-cache"


@pytest.mark.parametrize(
    ("accept", "encoding", "decode"),
    [
        ("gzip, deflate, br", "br", brotli.decompress),
        ("gzip", "gzip", gzip.decompress),
        ("", None, lambda data: data),
        ("br;q=0, gzip;q=0.5", "gzip", gzip.decompress),
    ],
)
def test_static_files_are_compressed_as_the_browser_accepts(client, build, accept, encoding,
                                                            decode):
    response = client.get(f"/static/{build}/js/incident-form.js",
                          headers={"Accept-Encoding": accept})
    assert response.headers.get("Content-Encoding") == encoding
    assert "Accept-Encoding" in response.headers["Vary"]
    assert decode(response.data) == (PWA / "js/incident-form.js").read_bytes()
    assert response.headers["Cache-Control"] == A_YEAR


def test_each_encoding_has_its_own_etag(client, build):
    url = f"/static/{build}/css/haven.css"
    tags = {client.get(url, headers={"Accept-Encoding": accept}).headers["ETag"]
            for accept in ("br", "gzip", "")}
    assert len(tags) == 3


def test_images_are_not_compressed_again(client, build):
    response = client.get(f"/static/{build}/icons/icon-512.png",
                          headers={"Accept-Encoding": "gzip, br"})
    assert response.status_code == 200 and "Content-Encoding" not in response.headers
    assert response.headers["Cache-Control"] == A_YEAR


@pytest.mark.parametrize("path", ["/static/js/nothing.js", "/static/../server/config.py",
                                  "/static/js", "/static/.hidden"])
def test_nothing_outside_or_missing_is_served(client, path):
    response = client.get(path)
    assert response.status_code == 404
    assert response.headers["Cache-Control"] == "no-store"
    assert "Set-Cookie" not in response.headers


# --- Pages name fingerprinted URLs ---------------------------------------------------------


def test_pages_name_this_builds_static_urls(client, make_user, sign_in, build):
    for path in ("/auth/sign-in", "/offline/incident"):
        page = _Page(client.get(path).get_data(as_text=True))
        assert page.static_urls
        assert all(url.startswith(f"/static/{build}/") for url in page.static_urls), path


def test_the_service_worker_precaches_the_same_urls(client, build):
    source = client.get("/service-worker.js").get_data(as_text=True)
    shell = _Page(client.get("/offline/incident").get_data(as_text=True))
    for url in shell.static_urls:
        assert f'"{url}"' in source, url
    assert f'"version": "{build}"' in source


def test_the_build_is_the_app_shells_version(app, build):
    from server.offline.app_shell import build_version

    with app.app_context():
        assert build == build_version()


# --- The module graph ------------------------------------------------------------------------


def test_static_imports_are_read_however_they_are_written():
    source = """
import { a } from './a.js';
import {
  b,
  c,
} from "./b.js";
import './side-effect.js';
export { d } from './d.js';
export * from '../e.js';
const later = await import('./dynamic.js');
export function f() { return 'from ./not-an-import.js'; }
"""
    assert static_imports(source) == ["./a.js", "./b.js", "./side-effect.js", "./d.js", "../e.js"]


def test_the_closure_follows_imports_however_deep(tmp_path):
    js = tmp_path / "js"
    js.mkdir()
    (js / "page.js").write_text("import { x } from './one.js';\n")
    (js / "one.js").write_text("import './two.js';\nexport const x = 1;\n")
    (js / "two.js").write_text("import { y } from './three.js';\n")
    (js / "three.js").write_text("export const y = import('./lazy.js');\n")
    (js / "lazy.js").write_text("")
    graph = ModuleGraph(tmp_path)
    assert graph.closure(["js/page.js"]) == ["js/page.js", "js/one.js", "js/two.js", "js/three.js"]


def _check_every_import_is_preloaded(html: str) -> _Page:
    page = _Page(html)
    preloaded = {_file_of(url) for url in page.modulepreloads}
    assert len(preloaded) == len(page.modulepreloads), "each module once"
    for script in page.modules:
        for module in _imports_as_a_browser_would(_file_of(script), set()):
            if module != _file_of(script):
                assert module in preloaded, f"{script} imports {module}, not preloaded"
    return page


def test_add_incident_preloads_its_whole_module_graph(client, make_user, sign_in):
    sign_in(make_user(Role.STAFF))
    page = _check_every_import_is_preloaded(client.get("/incidents/new").get_data(as_text=True))
    assert "js/device.js" in {_file_of(url) for url in page.modulepreloads}  # three levels down


@pytest.mark.parametrize(
    ("path", "role"),
    [
        ("/offline/incident", None),
        ("/auth/sign-in", None),
        ("/", Role.STAFF),
        ("/passkeys/", Role.DSL),
        ("/push/notifications", Role.STAFF),
    ],
)
def test_every_page_preloads_what_its_scripts_import(client, make_user, sign_in, path, role):
    if role:
        sign_in(make_user(role))
    response = client.get(path)
    assert response.status_code == 200, path
    _check_every_import_is_preloaded(response.get_data(as_text=True))


def test_module_preloads_takes_a_templates_rendered_scripts(app, build):
    with app.test_request_context():
        html = f'<script type="module" nonce="n" src="/static/{build}/js/outbox-panel.js">'
        links = str(module_preloads(html))
    assert f'<link rel="modulepreload" href="/static/{build}/js/outbox.js">' in links
    assert links.count("js/idb.js") == 1


# --- Add Incident's data, in the page --------------------------------------------------------


def test_add_incident_carries_its_data_and_asks_for_none(client, make_user, sign_in):
    """The data is in the page (tests/test_incident_form_page.py checks what), so nothing is
    asked for after the scripts, and nothing is fetched twice."""
    sign_in(make_user(Role.STAFF))
    html = client.get("/incidents/new").get_data(as_text=True)
    assert _Page(html).fetch_preloads == []
    assert '<script type="application/json" id="form-data">' in html
    form_script = (PWA / "js/incident-form.js").read_text()
    assert "getElementById('form-data')" in form_script
    assert all(f"'{url}'" not in form_script for url in ("/api/roster", "/api/staff"))


def test_the_app_shell_asks_for_no_data(client):
    assert _Page(client.get("/offline/incident").get_data(as_text=True)).fetch_preloads == []


# --- Budget ----------------------------------------------------------------------------------


def test_the_add_incident_app_shell_is_within_its_budget(client):
    """The page, its stylesheets and every module it loads, gzipped: what a first visit costs
    before any data (the service worker then keeps the same files)."""
    headers = {"Accept-Encoding": "gzip"}
    shell = client.get("/offline/incident", headers=headers)
    page = _Page(gzip.decompress(shell.data).decode())
    urls = set(page.stylesheets) | set(page.modules) | set(page.modulepreloads)
    sizes = {url: len(client.get(url, headers=headers).data) for url in urls}
    total = len(shell.data) + sum(sizes.values())
    assert {_file_of(url) for url in urls} >= {"js/incident-form.js", "css/incident-form.css"}
    assert total <= SHELL_BUDGET_BYTES, f"{total} bytes gzipped: {sorted(sizes.items())}"


# --- Pages and JSON compressed ---------------------------------------------------------------


def test_pages_are_compressed_for_the_browser_that_takes_it(client):
    response = client.get("/auth/sign-in", headers={"Accept-Encoding": "gzip"})
    assert response.headers["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in response.headers["Vary"]
    assert response.headers["Cache-Control"] == "no-store"  # still never kept
    assert b"Sign in" in gzip.decompress(response.data)


def test_json_is_compressed(client, school, sign_in, make_pupil):
    for n in range(20):
        make_pupil(f"Pupil{n}", "Roll", class_id=school.class_4b)
    sign_in(school.staff)
    response = client.get("/api/roster", headers={"Accept-Encoding": "br"})
    assert response.headers["Content-Encoding"] == "br"
    assert b"Pupil19" in brotli.decompress(response.data)


@pytest.mark.parametrize(("site", "compressed"),
                         [("same-origin", True), ("none", True), (None, True),
                          ("cross-site", False), ("same-site", False)])
def test_a_request_another_site_started_gets_no_compression(client, site, compressed):
    """BREACH needs many requests from the victim's browser that another site starts, with
    its guesses reflected beside a secret: those answers are not compressed."""
    headers = {"Accept-Encoding": "gzip"} | ({"Sec-Fetch-Site": site} if site else {})
    response = client.get("/auth/sign-in?next=/guess", headers=headers)
    assert ("Content-Encoding" in response.headers) is compressed


def test_a_strong_etag_becomes_weak_when_compressed(app):
    with app.test_request_context(headers={"Accept-Encoding": "gzip"}):
        response = app.response_class("x" * 2000, mimetype="application/json")
        response.set_etag("roster-1")
        compressed = compress_response(response)
        assert compressed.headers["ETag"] == 'W/"roster-1"'
        assert gzip.decompress(compressed.get_data()) == b"x" * 2000


def test_small_answers_and_downloads_are_left_alone(app):
    with app.test_request_context(headers={"Accept-Encoding": "gzip"}):
        small = compress_response(app.response_class("{}", mimetype="application/json"))
        assert "Content-Encoding" not in small.headers
        pdf = compress_response(app.response_class(b"%PDF" * 1000, mimetype="application/pdf"))
        assert "Content-Encoding" not in pdf.headers


def test_url_for_static_names_the_build(app, build):
    with app.test_request_context():
        assert url_for("static", filename="css/haven.css") == f"/static/{build}/css/haven.css"
        assert url_for("static_unversioned", filename="css/haven.css") == "/static/css/haven.css"
