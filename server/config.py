"""Configuration, read once from the environment with safe development defaults."""

import os
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

PROJECT_ROOT = Path(__file__).resolve().parent.parent
INSTANCE_DIR = Path(os.environ.get("HAVEN_INSTANCE_DIR", PROJECT_ROOT / "instance"))


def _env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value else default


def _env_list(name: str) -> list[str]:
    return [item.strip().lower() for item in os.environ.get(name, "").split(",") if item.strip()]


def _trusted_hosts(base_url: str) -> list[str]:
    """The host names this school serves Haven at; a request naming any other is refused (400),
    so nothing built from the Host header can point elsewhere. Unset: the base URL's host and
    this machine (development and tests)."""
    return _env_list("HAVEN_TRUSTED_HOSTS") or sorted(
        {"localhost", "127.0.0.1", urlsplit(base_url).hostname or "localhost"}
    )


def _database_url(variable: str = "DATABASE_URL") -> str:
    url = os.environ.get(variable, "")
    if not url:
        return f"sqlite:///{INSTANCE_DIR / 'haven.sqlite3'}" if variable == "DATABASE_URL" else ""
    # Hosting platforms hand out postgres:// URLs; SQLAlchemy wants the driver named.
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


class Config:
    SECRET_KEY = os.environ.get("SECRET_KEY", "")
    SCHOOL_NAME = os.environ.get("HAVEN_SCHOOL_NAME", "")
    SCHOOL_TIMEZONE = os.environ.get("HAVEN_TIMEZONE", "Europe/London")
    INSTANCE_DIR = INSTANCE_DIR

    SQLALCHEMY_DATABASE_URI = _database_url()
    SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}
    # PostgreSQL: migrate as the tables' owner, run as a role that owns nothing (it could
    # otherwise switch the append-only triggers off). `flask db upgrade` connects with this
    # URL when set, and grants the app's role (HAVEN_DB_APP_ROLE, else DATABASE_URL's user)
    # SELECT and INSERT on records; see `server.database.grant_app_role` and the README.
    MIGRATION_DATABASE_URL = _database_url("MIGRATION_DATABASE_URL")
    DB_APP_ROLE = os.environ.get("HAVEN_DB_APP_ROLE", "")
    REDIS_URL = os.environ.get("REDIS_URL", "")
    RQ_QUEUE = os.environ.get("HAVEN_RQ_QUEUE", "haven")

    # Sessions: the signed cookie holds only a random session token; the session itself
    # lives in the database so the server can end it (idle, sign-out, disabled user).
    IDLE_TIMEOUT = timedelta(seconds=_env_int("HAVEN_IDLE_TIMEOUT_SECONDS", 600))
    IDLE_WARNING = timedelta(seconds=_env_int("HAVEN_IDLE_WARNING_SECONDS", 60))
    SESSION_COOKIE_NAME = "haven_session"
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = _env_bool("HAVEN_SECURE_COOKIES", False)
    PERMANENT_SESSION_LIFETIME = timedelta(hours=12)
    PREFERRED_URL_SCHEME = os.environ.get("HAVEN_URL_SCHEME", "http")
    # Every link in an email is built on this, never on the request's Host header.
    SERVER_BASE_URL = os.environ.get("HAVEN_BASE_URL", "http://localhost:5000")
    TRUSTED_HOSTS = _trusted_hosts(SERVER_BASE_URL)
    # Behind a reverse proxy: how many proxies set each X-Forwarded-* header (0: ignore it).
    PROXY_FIX = {
        part: _env_int(f"HAVEN_PROXY_FIX_{part.upper()}", 0)
        for part in ("x_for", "x_proto", "x_host", "x_port", "x_prefix")
    }

    # Forms are filled in slowly by staff writing an account: a CSRF token must outlive them.
    WTF_CSRF_TIME_LIMIT = None
    MAX_CONTENT_LENGTH = _env_int("HAVEN_MAX_UPLOAD_BYTES", 21 * 1024 * 1024)

    # When set (comma-separated, e.g. "larkfield.sch.uk"), new staff accounts and changed email
    # addresses must be at one of these domains, so nobody can create an account at an address
    # of their own.
    STAFF_EMAIL_DOMAINS = frozenset(_env_list("HAVEN_STAFF_EMAIL_DOMAINS"))

    # Passwords (SPEC §9): the school's rule, configurable.
    PASSWORD_MIN_LENGTH = _env_int("HAVEN_PASSWORD_MIN_LENGTH", 8)
    PASSWORD_MAX_LENGTH = 128
    PASSWORD_REQUIRE_CLASSES = _env_bool("HAVEN_PASSWORD_REQUIRE_CLASSES", True)
    ARGON2_TIME_COST = 3
    ARGON2_MEMORY_COST = 65536

    # Throttling: failures counted in the database, so every process sees them.
    THROTTLE_WINDOW = timedelta(minutes=15)
    THROTTLE_ACCOUNT_FAILURES = _env_int("HAVEN_THROTTLE_ACCOUNT_FAILURES", 5)
    THROTTLE_ADDRESS_FAILURES = _env_int("HAVEN_THROTTLE_ADDRESS_FAILURES", 20)
    PASSWORD_RESET_LIFETIME = timedelta(minutes=_env_int("HAVEN_RESET_MINUTES", 60))

    MAIL_SERVER = os.environ.get("MAIL_SERVER", "")
    MAIL_PORT = _env_int("MAIL_PORT", 587)
    MAIL_USE_TLS = _env_bool("MAIL_USE_TLS", True)
    MAIL_USE_SSL = _env_bool("MAIL_USE_SSL", False)
    MAIL_USERNAME = os.environ.get("MAIL_USERNAME", "")
    MAIL_PASSWORD = os.environ.get("MAIL_PASSWORD", "")
    MAIL_FROM = os.environ.get("MAIL_FROM", "Haven <haven@localhost>")
    MAIL_TIMEOUT = _env_int("MAIL_TIMEOUT", 10)
    # With no MAIL_SERVER, mail is printed and kept here for a developer to read.
    MAIL_DEV_DIR = INSTANCE_DIR / "mail"

    UPLOAD_DIR = Path(os.environ.get("HAVEN_UPLOAD_DIR", INSTANCE_DIR / "uploads"))
    # Uploaded files are encrypted at rest under a key derived from this. Set it in production
    # and never change it: SECRET_KEY is only the fallback, and rotating that would strand files.
    FILE_ENCRYPTION_KEY = os.environ.get("HAVEN_FILE_KEY", "")
    # A pupil's records are kept until this birthday, then listed for review (SPEC §8).
    RETENTION_YEARS = _env_int("HAVEN_RETENTION_YEARS", 25)

    # The audit chain is keyed (HMAC) with this, kept outside the database: someone who can
    # write the table cannot recompute the chain. Development instances make one in instance/.
    AUDIT_KEY = os.environ.get("HAVEN_AUDIT_KEY", "")
    # A log begun before the chain was keyed: the id of its last unkeyed event, set by the
    # school when upgrading (here, outside the database, so nobody can move it with the rows).
    AUDIT_LEGACY_UNTIL = _env_int("HAVEN_AUDIT_LEGACY_UNTIL", 0)
    # After each commit that adds audit events the newest head is appended here (outside the
    # database), so cutting the newest events off is noticed by `flask audit verify`.
    AUDIT_HEAD_FILE = os.environ.get("HAVEN_AUDIT_HEAD_FILE", str(INSTANCE_DIR / "audit-heads"))

    # Backups are encrypted to this public key (a file from `flask backup keys`): the server
    # can write backups but not read them; the private key is kept away from it.
    BACKUP_PUBLIC_KEY = os.environ.get("HAVEN_BACKUP_PUBLIC_KEY", "")

    WEBAUTHN_RP_ID = os.environ.get("WEBAUTHN_RP_ID", "localhost")
    WEBAUTHN_RP_NAME = os.environ.get("WEBAUTHN_RP_NAME", "Haven")
    WEBAUTHN_ORIGIN = os.environ.get("WEBAUTHN_ORIGIN", "http://localhost:5000")

    HSTS = _env_bool("HAVEN_HSTS", False)

    # Offline capture (SPEC §5). Devices seal incidents to this key pair (made on first use);
    # keep the file with the other secrets and back it up: what devices sealed to it is
    # readable only with it. Drafts on a device are wrapped under secrets derived from
    # HAVEN_DEVICE_KEY (falls back to SECRET_KEY; changing it makes devices' drafts unreadable).
    SEALING_KEY_FILE = os.environ.get("HAVEN_SEALING_KEY_FILE", "")
    DEVICE_KEY = os.environ.get("HAVEN_DEVICE_KEY", "")

    # Transfer of a pupil's file to another school (SPEC §8). The transfer key pair (Ed25519 to
    # sign, X25519 to receive) is made on first use in this file; keep it with the other
    # secrets. HAVEN_SCHOOL_URN is shown on the school key other schools check by phone.
    # Closed days (holidays, INSET) do not count towards the five-school-day clock:
    # comma-separated ISO dates or ranges, e.g. "2026-12-21..2027-01-01,2027-02-15".
    TRANSFER_KEY_FILE = os.environ.get("HAVEN_TRANSFER_KEY_FILE", "")
    SCHOOL_URN = os.environ.get("HAVEN_SCHOOL_URN", "")
    SCHOOL_CLOSED_DAYS = os.environ.get("HAVEN_SCHOOL_CLOSED_DAYS", "")
    TRANSFER_SCHOOL_DAYS = _env_int("HAVEN_TRANSFER_SCHOOL_DAYS", 5)
    # A package holds every file about the pupil: far larger than one incident's upload.
    TRANSFER_MAX_BYTES = _env_int("HAVEN_TRANSFER_MAX_BYTES", 400 * 1024 * 1024)
    TRANSFER_SEND_TIMEOUT = _env_int("HAVEN_TRANSFER_SEND_TIMEOUT", 120)

    # Reports and exports with more rows than this are built by a background job, with progress.
    REPORT_INLINE_ROWS = _env_int("HAVEN_REPORT_INLINE_ROWS", 300)

    # Web push (SPEC §4). Keys from `flask push keys`; without them, the embedded default makes
    # a pair once and keeps it in instance/vapid.json.
    VAPID_PUBLIC_KEY = os.environ.get("HAVEN_VAPID_PUBLIC_KEY", "")
    VAPID_PRIVATE_KEY = os.environ.get("HAVEN_VAPID_PRIVATE_KEY", "")
    # Push services check this contact: a real mailto: or https: address (Apple refuses others).
    VAPID_SUBJECT = os.environ.get("HAVEN_VAPID_SUBJECT", "")
    # Hosts a subscription's endpoint may name (https only). A leading "*." admits subdomains.
    # The browsers' own services by default, so a forged subscription cannot make the server
    # call into the school's network.
    PUSH_SERVICES = tuple(
        host.strip().lower()
        for host in os.environ.get(
            "HAVEN_PUSH_SERVICES",
            "fcm.googleapis.com,*.push.services.mozilla.com,web.push.apple.com,"
            "*.push.apple.com,*.notify.windows.com",
        ).split(",")
        if host.strip()
    )
    # For tests and trials only: one exact origin (e.g. http://127.0.0.1:8765) of a local
    # push service, admitted over http as well.
    PUSH_LOCAL_SERVICE = os.environ.get("HAVEN_PUSH_LOCAL_SERVICE", "").rstrip("/")
    # How long a push service keeps an alert for a device that is offline.
    PUSH_TTL_SECONDS = _env_int("HAVEN_PUSH_TTL_SECONDS", 24 * 60 * 60)
    PUSH_TIMEOUT_SECONDS = _env_int("HAVEN_PUSH_TIMEOUT_SECONDS", 10)
    # A delivery claimed by a worker that died is sent again after this long.
    PUSH_SEND_LEASE_SECONDS = _env_int("HAVEN_PUSH_SEND_LEASE_SECONDS", 120)
    # How often the outbox sweep (and escalation) runs: rq clock, or the in-process loop.
    PUSH_SWEEP_SECONDS = _env_int("HAVEN_PUSH_SWEEP_SECONDS", 30)
    PUSH_MAX_ATTEMPTS = _env_int("HAVEN_PUSH_MAX_ATTEMPTS", 12)
    # Without REDIS_URL, a thread in the web process sends push and runs the sweep.
    PUSH_IN_PROCESS_LOOP = _env_bool("HAVEN_PUSH_IN_PROCESS_LOOP", True)

    # Escalation (SPEC §4): an urgent or Safeguarding incident no DSL has marked as read.
    ESCALATE_TO_DSL_AFTER = timedelta(minutes=_env_int("HAVEN_ESCALATE_DSL_MINUTES", 15))
    ESCALATE_TO_SLT_AFTER = timedelta(minutes=_env_int("HAVEN_ESCALATE_SLT_MINUTES", 30))
    # Incidents older than this are not escalated (so turning escalation on for an old
    # database does not page everyone about last year).
    ESCALATION_WINDOW = timedelta(hours=_env_int("HAVEN_ESCALATION_WINDOW_HOURS", 72))


class TestConfig(Config):
    TESTING = True
    SECRET_KEY = "test-secret-key-not-for-production"  # noqa: S105
    AUDIT_KEY = "test-audit-key-not-for-production"
    # The shared test database rolls every test back, so no head outside it could be true;
    # tests of the anchors give their own app (and database, with real commits) a head file.
    AUDIT_HEAD_FILE = ""
    SERVER_NAME = None
    # Fast hashing in tests; production keeps the defaults above.
    ARGON2_TIME_COST = 1
    ARGON2_MEMORY_COST = 1024
    MAIL_SERVER = ""
    # Tests call the jobs and the sweep themselves.
    PUSH_IN_PROCESS_LOOP = False
