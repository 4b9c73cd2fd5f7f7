"""What the service worker keeps for use with no connection, and the web app manifest.

Only public, versioned things are precached: the static files (CSS, JS modules, icons), the
manifest, and two pages with nothing personal in them — the Add Incident form's app shell and
the offline page. The version is a hash of all of them, so any change to one installs a new
service worker (which then waits: pages offer "A new version is ready — reload").
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
    """service_worker/service-worker.js with its build (version and precache list) written in."""
    source = (SERVICE_WORKER_DIR / "service-worker.js").read_text()
    build = {"version": build_version(), "precache": precache_urls()}
    return source.replace(BUILD_PLACEHOLDER, json.dumps(build), 1)


def manifest() -> dict:
    school = current_app.config["SCHOOL_NAME"]
    icon = lambda name: url_for("static", filename=f"icons/{name}")  # noqa: E731
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
