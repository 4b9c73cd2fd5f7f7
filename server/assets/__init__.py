"""Static files (pwa/, at /static): fingerprinted URLs cached for a year, compression of
everything worth it, and the module graph each page asks for at once.

`url_for("static", filename="js/app.js")` gives `/static/<build>/js/app.js`. The build is the
installable app's version (`server.offline.app_shell.build_version`: a hash of the static files,
the service worker and the app shell), computed once at start-up. Every file moves to a new
prefix together, so the ES modules, which import each other by relative URL, always load from
one build, and the service worker's precache names the same URLs. `/static/<filename>` still
serves the current file for anything that cannot know the build, revalidated on each use.
"""

import re
from html.parser import HTMLParser

from flask import Flask, current_app, g, has_request_context, request, url_for
from markupsafe import Markup

from server.assets.files import StaticFiles
from server.assets.modules import ModuleGraph

EXTENSION = "haven.assets"
STATIC_ENDPOINTS = frozenset({"static", "static_unversioned"})
BUILD_PATTERN = "[0-9a-f]{16}"
_NONCE = re.compile(r"\snonce=\"[^\"]*\"")


class Assets:
    def __init__(self, root):
        self.files = StaticFiles(root)
        self.modules = ModuleGraph(root)
        self.build: str | None = None
        # The preload links of each page's scripts, by (scripts, build, script root): the same
        # for every request, so not parsed, walked and built again for each.
        self.preloads: dict[tuple, Markup] = {}


def init_assets(app: Flask, root) -> None:
    """Routes, the URL default that fingerprints `url_for('static', …)`, compression and the
    template helper. The build itself is fixed by `fix_build` once the app is complete."""
    from server.assets import routes
    from server.assets.compression import compress_response

    app.extensions[EXTENSION] = Assets(root)
    routes.register(app)
    app.url_defaults(_fingerprint_static_urls)
    # Registered before every other after_request hook, so it runs last, on the final body.
    app.after_request(compress_response)
    app.jinja_env.globals["module_preloads"] = module_preloads


def fix_build(app: Flask) -> None:
    from server.offline.app_shell import build_version

    with app.app_context():
        assets(app).build = build_version()


def assets(app: Flask | None = None) -> Assets:
    return (app or current_app).extensions[EXTENSION]


def current_build() -> str:
    """The build every fingerprinted URL carries. In debug mode it follows edits to the files
    (each request hashes them again), so a developer never sees a stale module."""
    if current_app.debug:
        from server.offline.app_shell import build_version

        if "haven_build" not in g:
            g.haven_build = build_version()
        return g.haven_build
    return assets().build


def _fingerprint_static_urls(endpoint: str, values: dict) -> None:
    if endpoint == "static":
        values.setdefault("build", current_build())


def module_preloads(*entries) -> Markup:
    """`<link rel="modulepreload">` for every module the given scripts import, however deep,
    in the order of the scripts given.

    Each entry is a file name under pwa/ ('js/app.js') or rendered HTML (a template's
    `self.scripts()`), whose `<script type="module" src>` are taken as entries."""
    root = request.script_root if has_request_context() else None
    # A script's nonce differs on every request; where it loads from does not.
    scripts = tuple(_NONCE.sub("", str(entry)) for entry in entries)
    key = (scripts, current_build(), root)
    found = assets().preloads.get(key)
    if found is None:
        found = assets().preloads[key] = _module_preloads(entries)
    return found


def _module_preloads(entries) -> Markup:
    names: list[str] = []
    for entry in entries:
        names.extend(module_sources(str(entry)) if "<" in str(entry) else [entry])
    # Each script's whole graph before the next script's: the browser asks in this order, and
    # the first script's deepest module should not wait behind the second's.
    ordered = dict.fromkeys(name for entry in names for name in assets().modules.closure([entry]))
    link = Markup('<link rel="modulepreload" href="{}">')
    return Markup("\n  ").join(link.format(url_for("static", filename=name)) for name in ordered)


def module_sources(html: str) -> list[str]:
    """The files under pwa/ that the `<script type="module" src>` in `html` load."""
    parser = _ModuleScripts()
    parser.feed(html)
    prefix = re.compile(rf"^{re.escape(current_app.static_url_path)}/(?:{BUILD_PATTERN}/)?")
    return [prefix.sub("", src) for src in parser.sources if prefix.match(src)]


class _ModuleScripts(HTMLParser):
    def __init__(self):
        super().__init__()
        self.sources: list[str] = []

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "script" and attributes.get("type") == "module" and attributes.get("src"):
            self.sources.append(attributes["src"])
