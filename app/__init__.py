"""halopmi application factory."""

from __future__ import annotations

import json
import os
import secrets

from flask import Flask, g, has_request_context, request, session
from flask_login import current_user
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.middleware.proxy_fix import ProxyFix

from app.core import crypto
from app.core.logging import configure_logging
from app.extensions import babel, compress, csrf, db, limiter, login_manager, migrate, socketio
from config import INSTANCE_DIR, Config, DevelopmentConfig, config_from_env

# Inside the package, so that an installed wheel carries them (pip install .).
MIGRATIONS_DIR = os.path.join(os.path.dirname(__file__), "migrations")


class ConfigurationError(SystemExit):
    """Raised (exits) when production settings are missing."""


def create_app(config_class: type[Config] | None = None, **overrides: object) -> Flask:
    config_class = config_class or config_from_env()
    missing = config_class.missing_settings()
    if missing:
        raise ConfigurationError(
            "halopmi cannot start in production: missing environment setting(s): "
            + ", ".join(missing)
            + ". See the configuration table in README.md."
        )

    app = Flask(__name__, instance_path=str(INSTANCE_DIR))  # app/templates, app/static
    app.config.from_object(config_class)
    app.config.update(overrides)
    os.makedirs(app.instance_path, exist_ok=True)
    if issubclass(config_class, DevelopmentConfig):
        _ensure_dev_secrets(app)
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        # SQLite in the embedded default: wait for the single writer instead of failing.
        app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {"connect_args": {"timeout": 30}}
    else:
        options = dict(app.config["SQLALCHEMY_ENGINE_OPTIONS"])
        options.setdefault("pool_size", app.config["DATABASE_POOL_SIZE"])
        options.setdefault("max_overflow", app.config["DATABASE_MAX_OVERFLOW"])
        options.setdefault("pool_recycle", app.config["DATABASE_POOL_RECYCLE_SECONDS"])
        options.setdefault("pool_pre_ping", app.config["DATABASE_POOL_PRE_PING"])
        app.config["SQLALCHEMY_ENGINE_OPTIONS"] = options

    if app.config["PROXY_COUNT"]:
        n = app.config["PROXY_COUNT"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n, x_port=n)  # type: ignore[method-assign]

    from app.core import inputs

    inputs.install(app)  # before any blueprint adds an <int:…> rule
    configure_logging(app)
    crypto.init_app(app)
    register_extensions(app)
    from app.core import headers

    headers.install(app)  # security headers and the Content-Security-Policy
    register_blueprints(app)
    register_errors(app)
    register_template_helpers(app)
    connect_signals()
    lend_functions(app)
    return app


def lend_functions(app: Flask) -> None:
    """What a lower package needs from a higher one, given to it here (it cannot import it)."""
    from app.sla.hours import service_hours
    from app.tickets.worker_texts import SERVICE_HOURS

    app.extensions[SERVICE_HOURS] = service_hours


def connect_signals() -> None:
    """Cross-package reactions (blinker signals), connected here rather than at import time."""
    from app.agents import account_changes
    from app.sla import services as sla
    from app.staff import services as accounts
    from app.telephony import erasure as call_erasure
    from app.tickets import erasure as ticket_erasure
    from app.tickets import signals as ticket_signals

    ticket_erasure.requester_erased.connect(call_erasure.erase_for_tickets)
    ticket_signals.promise_changed.connect(sla.reconcile)
    accounts.role_changed.connect(account_changes.role_changed)
    accounts.deactivated.connect(account_changes.deactivated)


def _ensure_dev_secrets(app: Flask) -> None:
    """The embedded default works without configuration: dev-only keys live in instance/."""
    path = app.config["DEV_SECRETS_FILE"]
    data: dict[str, object] = {}
    if os.path.exists(path):
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    changed = False
    if "SECRET_KEY" not in data:
        data["SECRET_KEY"] = secrets.token_urlsafe(32)
        changed = True
    if "PII_ENCRYPTION_KEYS" not in data:
        data["PII_ENCRYPTION_KEYS"] = [crypto.generate_key()]
        changed = True
    if "PII_HASH_KEY" not in data:
        data["PII_HASH_KEY"] = secrets.token_urlsafe(32)
        changed = True
    if changed:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=2)
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = data["SECRET_KEY"]
    if not app.config.get("PII_ENCRYPTION_KEYS"):
        app.config["PII_ENCRYPTION_KEYS"] = data["PII_ENCRYPTION_KEYS"]
    if not app.config.get("PII_HASH_KEY"):
        app.config["PII_HASH_KEY"] = data["PII_HASH_KEY"]


def select_locale() -> str:
    if not has_request_context():  # CLI commands and rq jobs: the default language
        return "id"
    languages = current_app_languages()
    try:
        if current_user and current_user.is_authenticated and current_user.language in languages:
            return str(current_user.language)
    except SQLAlchemyError:  # her session names her, the database cannot say who: the page that
        pass  # says so (a 503) is in the language of her browser rather than a bare 500
    chosen = session.get("lang")
    if chosen in languages:
        return str(chosen)
    return request.accept_languages.best_match(languages) or "id"


def current_app_languages() -> tuple[str, ...]:
    from flask import current_app

    return tuple(current_app.config["LANGUAGES"])


def register_extensions(app: Flask) -> None:
    # Importing the models registers them on the metadata (Alembic and create_all need all).
    from app import models  # noqa: F401

    db.init_app(app)
    migrate.init_app(app, db, directory=MIGRATIONS_DIR, render_as_batch=True, compare_type=True)
    csrf.init_app(app)
    limiter.init_app(app)
    babel.init_app(app, locale_selector=select_locale, default_translation_directories="translations")
    compress.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "staff.login"
    login_manager.session_protection = "strong"
    login_manager.login_message = None  # the login page explains itself
    login_manager.refresh_view = "staff.login"  # admin pages after a remember-me sign-in
    login_manager.needs_refresh_message = None

    from flask_login import user_loaded_from_cookie

    from app.staff.models import User

    @user_loaded_from_cookie.connect_via(app)
    def _bind_restored_session(sender: Flask, user: User) -> None:
        # "strong" session protection compares the session's _id with this browser's; a session
        # restored from a remember-me cookie gets none, so its next request was refused and the
        # cookie cleared: "keep me signed in" lasted one page. Bind it as login_user does.
        session["_id"] = login_manager._session_identifier_generator()

    @login_manager.user_loader
    def load_user(session_id: str) -> User | None:
        # "<id>:<generation>" (User.get_id): a session or remember token from before the user
        # signed out, changed password or was deactivated names an older generation.
        user_id, _, generation = session_id.partition(":")
        if not user_id.isdigit() or int(user_id) > 2**31 - 1:
            return None
        user = db.session.get(User, int(user_id))
        if user is None or not user.matches_session(generation):
            return None
        return user

    from app.agents import events  # the /staff namespace, before init_app (see there)

    events.init_app(app)  # its control messages (disconnect a user's sockets everywhere)

    # init_app keeps a message-queue manager from an earlier app in server_options: drop it so
    # each app gets the queue its own configuration names.
    socketio.server_options.pop("client_manager", None)
    socketio.init_app(
        app,
        # "threading" in the web processes (gunicorn gthread, the embedded server); "gevent" in
        # the realtime processes (wsgi_realtime.py), where a socket costs a greenlet, not a thread.
        async_mode=app.config["SOCKETIO_ASYNC_MODE"],
        message_queue=app.config.get("REDIS_URL"),
        channel=app.config["SOCKETIO_CHANNEL"],
        cors_allowed_origins=app.config["SOCKETIO_CORS_ORIGINS"] or None,
        manage_session=False,
    )


def register_blueprints(app: Flask) -> None:
    from app.agents.admin import bp as admin_bp
    from app.api.routes import bp as api_bp
    from app.console import bp as console_bp
    from app.core.cli import jobs_cli, pii_cli
    from app.core.routes import bp as core_bp
    from app.portal import calls as portal_calls  # noqa: F401 - Click-to-Call pages join the portal blueprint
    from app.portal import routes as portal_routes  # noqa: F401 - complaints and the case
    from app.portal.blueprint import bp as portal_bp
    from app.records.cli import cli as records_cli
    from app.records.routes import bp as records_bp
    from app.sla.cli import cli as sla_cli
    from app.sla.report_routes import bp as sla_reports_bp
    from app.sla.routes import bp as sla_bp
    from app.staff.cli import cli as users_cli
    from app.staff.routes import bp as agents_bp
    from app.supervisor.live_calls import bp as live_calls_bp
    from app.supervisor.rollup import cli as supervision_cli
    from app.supervisor.routes import bp as supervisor_bp

    # /telephony's routes (voice webhooks, browser legs, messaging webhooks, simulator), by import:
    from app.telephony import client_routes, messaging_routes, simulator_routes  # noqa: F401
    from app.telephony import routes as telephony_routes  # noqa: F401
    from app.telephony.api import bp as telephony_api_bp
    from app.telephony.blueprint import bp as telephony_bp
    from app.tickets.routes import bp as tickets_bp

    blueprints = (
        core_bp,
        agents_bp,
        admin_bp,
        console_bp,
        portal_bp,
        records_bp,
        tickets_bp,
        supervisor_bp,
        telephony_bp,
        telephony_api_bp,
        api_bp,
        users_cli,
        records_cli,
        jobs_cli,
        pii_cli,
        supervision_cli,
        sla_bp,
        sla_reports_bp,
        sla_cli,
        live_calls_bp,
    )
    for blueprint in blueprints:
        app.register_blueprint(blueprint)
    # Twilio webhooks are authenticated by their signature; the public API by its own rules
    # (no cookies are accepted there), so neither carries a CSRF token.
    csrf.exempt(telephony_bp)
    csrf.exempt(telephony_api_bp)
    csrf.exempt(api_bp)

    from app.telephony.integration import subscribe_to_routing

    subscribe_to_routing()  # the call log hears of offers, unanswered rings and transfers

    from app.core import scheduler
    from app.schedule import PERIODIC_JOBS

    scheduler.init_app(app, PERIODIC_JOBS)  # run by every `flask jobs worker`

    from app.demo import demo_cli

    app.register_blueprint(demo_cli)


def register_errors(app: Flask) -> None:
    from app.core.errors import register

    register(app)


def register_template_helpers(app: Flask) -> None:
    from app.core.masking import has_pii, mask, mask_text
    from app.core.policy import allowed

    app.jinja_env.filters["mask"] = mask
    app.jinja_env.filters["mask_pii"] = mask_text  # phones, NIKs, passports, e-mails typed in free text
    app.jinja_env.tests["pii"] = has_pii

    from app.core import vocabulary
    from app.core.dates import format_when, reader_zone

    def local(value: object, style: str = "datetime", zone: str | None = None) -> str:
        """A stored (UTC) instant in the reader's zone (or ``zone``), in the one date style of
        app/core/dates.py. ``style``: datetime (zone named), date or time; an older Babel
        pattern given here reads as time."""
        if style not in ("datetime", "date", "time"):
            style = "time" if "y" not in style else "datetime"
        return format_when(value, style, zone)  # type: ignore[arg-type]

    app.jinja_env.filters["local"] = local
    # Labels, never codes: {{ code|label('ticket_status') }}, {{ country_name(code) }}.
    app.jinja_env.filters["label"] = vocabulary.label
    app.jinja_env.globals["label"] = vocabulary.label
    app.jinja_env.globals["country_name"] = vocabulary.country_name
    app.jinja_env.globals["vocabulary_js"] = vocabulary.for_js
    app.jinja_env.globals["reader_zone"] = reader_zone

    @app.context_processor
    def inject() -> dict[str, object]:
        from flask_babel import get_locale

        return {
            "can": lambda permission: allowed(current_user, permission),
            "current_locale": str(get_locale() or "id"),
            "languages": app.config["LANGUAGES"],
            "request_id": getattr(g, "request_id", ""),
        }
