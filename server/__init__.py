"""Haven: safeguarding records for schools. `create_app` builds the Flask application."""

import secrets
from pathlib import Path

from flask import Flask

from server.config import PROJECT_ROOT, Config


def create_app(config_class: type[Config] = Config, **overrides) -> Flask:
    app = Flask(
        __name__,
        instance_path=str(config_class.INSTANCE_DIR),
        template_folder=str(PROJECT_ROOT / "templates"),
        static_folder=str(PROJECT_ROOT / "pwa"),
        static_url_path="/static",
    )
    app.config.from_object(config_class)
    app.config.update(overrides)
    _ensure_secret_key(app)
    _trust_proxies(app)
    _refuse_untrusted_hosts(app)
    _ensure_audit_key(app)
    _ensure_vapid_keys(app)
    _use_request_class(app)
    _register_url_converters(app)
    _init_extensions(app)
    _register_blueprints(app)
    _register_cli(app)
    _register_request_hooks(app)
    return app


def _trust_proxies(app: Flask) -> None:
    """Behind a reverse proxy, read the client's address and scheme from the headers it sets
    (as many hops as configured); without configuration those headers are ignored."""
    from werkzeug.middleware.proxy_fix import ProxyFix

    hops = app.config["PROXY_FIX"]
    if any(hops.values()):
        app.wsgi_app = ProxyFix(app.wsgi_app, **hops)


def _refuse_untrusted_hosts(app: Flask) -> None:
    """Before any other hook (sessions included), so nothing runs for a forged Host header."""
    from server.request_guards import refuse_untrusted_hosts

    app.before_request(refuse_untrusted_hosts)


def _use_request_class(app: Flask) -> None:
    from server.request_guards import HavenRequest

    app.request_class = HavenRequest


def _ensure_secret_key(app: Flask) -> None:
    """Production sets SECRET_KEY; a development instance makes one and keeps it."""
    if app.config["SECRET_KEY"]:
        return
    key_file = Path(app.instance_path) / "secret_key"
    key_file.parent.mkdir(parents=True, exist_ok=True)
    if not key_file.exists():
        key_file.write_text(secrets.token_hex(32))
        key_file.chmod(0o600)
    app.config["SECRET_KEY"] = key_file.read_text().strip()


def _ensure_audit_key(app: Flask) -> None:
    """Production sets HAVEN_AUDIT_KEY (and keeps a copy away from the server: see
    `flask backup export-secrets`); a development instance makes one and keeps it."""
    if app.config["AUDIT_KEY"]:
        return
    key_file = Path(app.instance_path) / "audit_key"
    key_file.parent.mkdir(parents=True, exist_ok=True)
    if not key_file.exists():
        key_file.write_text(secrets.token_hex(32))
        key_file.chmod(0o600)
    app.config["AUDIT_KEY"] = key_file.read_text().strip()
def _ensure_vapid_keys(app: Flask) -> None:
    from server.push.vapid import ensure_keys

    ensure_keys(app)


def _register_url_converters(app: Flask) -> None:
    """Before any route is added: `<int:…>` in every route accepts only ids (server.ids)."""
    from server.ids import IdConverter

    app.url_map.converters["int"] = IdConverter


def _init_extensions(app: Flask) -> None:
    from server.database import configure_sqlite
    from server.extensions import csrf, db, migrate

    db.init_app(app)
    migrate.init_app(app, db, directory=str(PROJECT_ROOT / "migrations"), render_as_batch=True)
    csrf.init_app(app)
    _import_models()
    with app.app_context():
        configure_sqlite(db.engine)


def _import_models() -> None:
    """Every model module, so the metadata (and Alembic) sees every table."""
    import server.alerts.models  # noqa: F401
    import server.approvals.models  # noqa: F401
    import server.audit.models  # noqa: F401
    import server.auth.models  # noqa: F401
    import server.incidents.models  # noqa: F401
    import server.offline.models  # noqa: F401
    import server.passkeys.models  # noqa: F401
    import server.pupils.models  # noqa: F401
    import server.push.models  # noqa: F401
    import server.reports.models  # noqa: F401
    import server.transfer.models  # noqa: F401


def _register_blueprints(app: Flask) -> None:
    from server.admin import bp as admin_bp
    from server.alerts import bp as alerts_bp
    from server.approvals import bp as approvals_bp
    from server.auth import bp as auth_bp
    from server.auth import init_auth
    from server.chronology import bp as chronology_bp
    from server.home import bp as home_bp
    from server.incidents import bp as incidents_bp
    from server.offline import bp as offline_bp
    from server.passkeys import bp as passkeys_bp
    from server.push import bp as push_bp
    from server.reports import bp as reports_bp
    from server.retention import bp as retention_bp
    from server.subject_access import bp as subject_access_bp
    from server.transfer import bp as transfer_bp

    init_auth(app)
    app.register_blueprint(home_bp)
    app.register_blueprint(auth_bp, url_prefix="/auth")
    app.register_blueprint(admin_bp, url_prefix="/admin")
    app.register_blueprint(alerts_bp, url_prefix="/alerts")
    app.register_blueprint(approvals_bp, url_prefix="/approvals")
    app.register_blueprint(incidents_bp)
    app.register_blueprint(offline_bp)
    app.register_blueprint(passkeys_bp, url_prefix="/passkeys")
    app.register_blueprint(chronology_bp)
    app.register_blueprint(reports_bp)
    app.register_blueprint(push_bp, url_prefix="/push")
    app.register_blueprint(retention_bp, url_prefix="/retention")
    app.register_blueprint(subject_access_bp, url_prefix="/subject-access")
    app.register_blueprint(transfer_bp, url_prefix="/transfers")


def _register_cli(app: Flask) -> None:
    from server.cli import register_commands

    register_commands(app)


def _register_request_hooks(app: Flask) -> None:
    from server.errors import register_error_handlers
    from server.request_guards import refuse_nul_characters
    from server.security import apply_security_headers, csp_nonce
    from server.templating import register_template_helpers

    # After the session hooks (registered with the blueprints), so a refusal's page has them.
    app.before_request(refuse_nul_characters)
    app.after_request(apply_security_headers)
    app.jinja_env.globals["csp_nonce"] = csp_nonce
    register_template_helpers(app)
    register_error_handlers(app)
