"""What the service worker keeps for use with no connection, and the web app manifest.

Only public, versioned things are precached: the static files (CSS, JS modules, icons), the
manifest, and two pages with nothing personal in them — the Add Incident form's app shell and
the offline page. The version is a hash of all of them, so any change to one installs a new
service worker (which then waits: pages offer "A new version is ready — reload").

That version is Haven's one notion of a build: it is computed once at start-up
(`server.assets.fix_build`) and is also the prefix of every static URL
(`/static/<version>/js/app.js`), so the files a page loads and the ones the service worker
keeps are the same URLs, and a new build moves them all at once.
"""

import hashlib
import json
import os

from flask import current_app, url_for

from server.config import PROJECT_ROOT

SERVICE_WORKER_DIR = PROJECT_ROOT / "service_worker"
STATIC_DIR = PROJECT_ROOT / "pwa"
TEMPLATES_DIR = PROJECT_ROOT / "templates"
PRECACHED_STATIC = ("css", "js", "icons")
# The templates the two precached pages are made of: a change to one is a new version.
SHELL_TEMPLATES = (
    "base.html",
    "incidents/new.html",
    "incidents/_body_map.html",
    "offline/offline.html",
    "offline/_device_panels.html",
)
BUILD_PLACEHOLDER = '"__HAVEN_BUILD__"'
# The service worker's own static imports name this build's prefix.
STATIC_PLACEHOLDER = "__HAVEN_STATIC__"
THEME_COLOUR = "#2f3e74"


def precache_urls() -> list[str]:
    static = sorted(
        url_for("static", filename=str(path.relative_to(STATIC_DIR)))
        for folder in PRECACHED_STATIC
        for path in (STATIC_DIR / folder).rglob("*")
        if path.is_file()
    )
    pages = [
        url_for("offline.incident_shell"),
        url_for("offline.offline_page"),
        url_for("offline.manifest"),
    ]
    return pages + static


def build_version() -> str:
    digest = hashlib.sha256()
    files = [
        *(p for folder in PRECACHED_STATIC for p in sorted((STATIC_DIR / folder).rglob("*"))),
        *sorted(SERVICE_WORKER_DIR.glob("*.js")),
        *(TEMPLATES_DIR / name for name in SHELL_TEMPLATES),
    ]
    for path in files:
        if path.is_file():
            digest.update(os.path.relpath(path, PROJECT_ROOT).encode())
            digest.update(path.read_bytes())
    digest.update(json.dumps(manifest(), sort_keys=True).encode())
    return digest.hexdigest()[:16]


def service_worker_source() -> str:
    """service_worker/service-worker.js with its build (version and precache list) and the
    static files' prefix written in."""
    from server.assets import current_build

    source = (SERVICE_WORKER_DIR / "service-worker.js").read_text()
    build = {"version": current_build(), "precache": precache_urls()}
    static_prefix = url_for("static", filename="x")[: -len("/x")]
    source = source.replace(STATIC_PLACEHOLDER, static_prefix)
    return source.replace(BUILD_PLACEHOLDER, json.dumps(build), 1)


def manifest() -> dict:
    school = current_app.config["SCHOOL_NAME"]
    # Unversioned (revalidated) URLs: the manifest is part of what the build is a hash of, and
    # an installed app's icons should not change address with every release.
    icon = lambda name: f"{current_app.static_url_path}/icons/{name}"  # noqa: E731
    return {
        "name": f"Haven – {school}" if school else "Haven",
        "short_name": "Haven",
        "description": "Record safeguarding concerns, with or without a connection.",
        "id": "/",
        "start_url": "/?source=home-screen",
        "scope": "/",
        "display": "standalone",
        "orientation": "any",
        "lang": "en-GB",
        "dir": "ltr",
        "theme_color": THEME_COLOUR,
        "background_color": "#ffffff",
        "icons": [
            {"src": icon("icon-192.png"), "sizes": "192x192", "type": "image/png"},
            {"src": icon("icon-512.png"), "sizes": "512x512", "type": "image/png"},
            {
                "src": icon("maskable-512.png"),
                "sizes": "512x512",
                "type": "image/png",
                "purpose": "maskable",
            },
            {"src": icon("haven.svg"), "sizes": "any", "type": "image/svg+xml"},
        ],
        "shortcuts": [
            {
                "name": "Add incident",
                "url": "/incidents/new",
                "icons": [{"src": icon("icon-192.png"), "sizes": "192x192", "type": "image/png"}],
            },
        ],
    }
