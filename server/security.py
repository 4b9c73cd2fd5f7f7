"""Response headers every page gets: CSP with a per-request nonce, no caching of personal data."""

import secrets

from flask import current_app, g, request

from server.assets import STATIC_ENDPOINTS


def csp_nonce() -> str:
    if "csp_nonce" not in g:
        g.csp_nonce = secrets.token_urlsafe(16)
    return g.csp_nonce


def apply_security_headers(response):
    nonce = csp_nonce()
    response.headers["Content-Security-Policy"] = "; ".join(
        [
            "default-src 'self'",
            f"script-src 'self' 'nonce-{nonce}'",
            f"style-src 'self' 'nonce-{nonce}'",
            "img-src 'self' data: blob:",
            "connect-src 'self'",
            "font-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
            "manifest-src 'self'",
            "worker-src 'self'",
        ]
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=()"
    response.headers["Cross-Origin-Opener-Policy"] = "same-origin"
    # Only public, versioned assets may be cached; anything else may carry personal data.
    if request.endpoint not in STATIC_ENDPOINTS or response.status_code >= 400:
        response.headers["Cache-Control"] = "no-store"
    if request.is_secure and _hsts_enabled():
        response.headers["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"
    return response


def _hsts_enabled() -> bool:
    return current_app.config["HSTS"] or current_app.config["SESSION_COOKIE_SECURE"]
