"""Configuration classes, read from the environment (a `.env` file is honoured).

Pick one with ``HALOPMI_CONFIG`` = ``development`` (default), ``testing`` or ``production``.
Production refuses to start while a secret it needs is missing, and says which one.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from dotenv import load_dotenv

BASE_DIR = Path(__file__).resolve().parent
# Run from a checkout, instance/ and .env sit beside this file; installed (pip install .), this
# file is in site-packages, so they are found from the working directory instead (production
# sets HALOPMI_INSTANCE_DIR, see README "Production deployment").
CHECKOUT = (BASE_DIR / "pyproject.toml").exists()
_HOME = BASE_DIR if CHECKOUT else Path.cwd()
INSTANCE_DIR = Path(os.environ.get("HALOPMI_INSTANCE_DIR") or _HOME / "instance")
# Written by the embedded default (app/devserver.py) while its Redis runs.
EMBEDDED_REDIS_URL_FILE = INSTANCE_DIR / "embedded-redis.url"

load_dotenv(_HOME / ".env")


class env:  # noqa: N801 - reads like a declaration: NAME = env("NAME", default)
    """A setting read from the environment when the app is created, not when this module is
    imported (so a launcher may set variables after importing the package)."""

    def __init__(self, name: str, default: Any = None, cast: Callable[[str], Any] = str) -> None:
        self.name, self.default, self.cast = name, default, cast

    def __get__(self, obj: object, owner: type) -> Any:
        raw = os.environ.get(self.name)
        if raw is None or raw == "":
            return self.default(owner) if callable(self.default) else self.default
        return self.cast(raw)


def _csv(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]


def _bool(value: str) -> bool:
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _weights(value: str) -> dict[str, int]:
    """``topic=weight,topic=weight`` (``*`` = every other topic)."""
    pairs = (item.partition("=") for item in _csv(value))
    return {name.strip(): int(weight) for name, _, weight in pairs}


SUPERVISION_MODES = ("listen", "whisper", "barge")


def _supervision_modes(value: str) -> tuple[str, ...]:
    """Modes of a supervisor on a call that the agent is shown (``none``: never)."""
    modes = tuple(mode.lower() for mode in _csv(value))
    if modes == ("none",):
        return ()
    unknown = [mode for mode in modes if mode not in SUPERVISION_MODES]
    if unknown:
        raise ValueError(
            f"SUPERVISION_SHOWN_TO_AGENT: unknown mode(s) {', '.join(unknown)} "
            f"(use {', '.join(SUPERVISION_MODES)}, or none)"
        )
    return modes


def normalise_database_url(url: str) -> str:
    """Accept the common ``postgres://`` spellings and pick the psycopg 3 driver."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


class Config:
    """Settings shared by every environment."""

    NAME = "base"
    SECRET_KEY = env("SECRET_KEY")
    SQLALCHEMY_DATABASE_URI = env(
        "DATABASE_URL", f"sqlite:///{INSTANCE_DIR / 'halopmi.db'}", normalise_database_url
    )
    SQLALCHEMY_ENGINE_OPTIONS: dict = {}
    # Each process's PostgreSQL connection pool (see create_app): keep open as many connections
    # as gunicorn threads that may use the database at once, or a busy process opens and closes
    # a connection per request (measured: a fifth of a webhook's time, bench/bench_webhooks.py).
    DATABASE_POOL_SIZE = env("DATABASE_POOL_SIZE", 20, int)
    DATABASE_MAX_OVERFLOW = env("DATABASE_MAX_OVERFLOW", 20, int)
    DATABASE_POOL_RECYCLE_SECONDS = env("DATABASE_POOL_RECYCLE_SECONDS", 1800, int)
    # A round trip before each checkout; off by default: a connection the server dropped fails one
    # request (a 503, or the voice fallback), and SQLAlchemy then renews the whole pool.
    DATABASE_POOL_PRE_PING = env("DATABASE_POOL_PRE_PING", False, _bool)
    SQLALCHEMY_TRACK_MODIFICATIONS = False

    # Redis backs rq, the Socket.IO message queue and the rate limiter.
    REDIS_URL = env("REDIS_URL")
    SOCKETIO_CHANNEL = env("SOCKETIO_CHANNEL", "halopmi")
    SOCKETIO_CORS_ORIGINS = env("SOCKETIO_CORS_ORIGINS", [], _csv)
    # Not an environment setting: the entry point decides. "threading" for the web processes
    # (wsgi.py, gunicorn gthread) and the embedded default; wsgi_realtime.py (gunicorn gevent,
    # /socket.io/ only) sets "gevent".
    SOCKETIO_ASYNC_MODE = "threading"
    RQ_QUEUES = ("telephony", "notifications", "default")

    # Periodic work: every `flask jobs worker` runs each job of app/schedule.py at the period
    # (seconds) named here (app/core/scheduler.py).
    OUTBOX_POLL_SECONDS = env("OUTBOX_POLL_SECONDS", 1.0, float)  # recorded intents → rq
    OUTBOX_RECOVERY_SECONDS = env("OUTBOX_RECOVERY_SECONDS", 60.0, float)  # rq jobs that vanished
    # A dispatched intent whose rq job vanished is re-enqueued after this long (a job a dead
    # worker held is taken back at once).
    OUTBOX_RECOVERY_AFTER_SECONDS = env("OUTBOX_RECOVERY_AFTER_SECONDS", 300.0, float)
    # An effect (SMS, call) asked of a provider less than this long ago may still be in flight:
    # another run waits before asking the provider whether it happened (above REST time-outs).
    OUTBOX_EFFECT_GRACE_SECONDS = env("OUTBOX_EFFECT_GRACE_SECONDS", 30.0, float)
    ROUTER_TICK_SECONDS = env("ROUTER_TICK_SECONDS", 2.0, float)  # offer time-outs, wrap-up, relaxation
    SLA_SWEEP_SECONDS = env("SLA_SWEEP_SECONDS", 30.0, float)  # SLA warnings, breaches, escalations
    TICKETS_HOUSEKEEPING_SECONDS = env("TICKETS_HOUSEKEEPING_SECONDS", 600.0, float)  # close, retention
    TELEPHONY_HOUSEKEEPING_SECONDS = env("TELEPHONY_HOUSEKEEPING_SECONDS", 60.0, float)  # stalled dials
    TELEPHONY_SIMULATOR_SECONDS = env("TELEPHONY_SIMULATOR_SECONDS", 1.0, float)  # simulated SMS reports
    SUPERVISOR_WALLBOARD_SECONDS = env("SUPERVISOR_WALLBOARD_SECONDS", 3.0, float)  # snapshot push check
    SUPERVISOR_ROLLUP_SECONDS = env("SUPERVISOR_ROLLUP_SECONDS", 600.0, float)  # roll finished days up

    # PII at rest: comma-separated Fernet keys (the first encrypts, all decrypt: rotation),
    # and a separate key for the keyed hashes ("blind index") used for exact lookups.
    PII_ENCRYPTION_KEYS = env("PII_ENCRYPTION_KEYS", [], _csv)
    PII_HASH_KEY = env("PII_HASH_KEY")

    BABEL_DEFAULT_LOCALE = "id"
    BABEL_DEFAULT_TIMEZONE = "Asia/Jakarta"
    # Staff pages show times in this zone (named, e.g. WIB); workers read theirs in their own.
    STAFF_TIMEZONE = env("STAFF_TIMEZONE", "Asia/Jakarta")
    LANGUAGES = ("id", "en")

    # Workers pay for every byte (metered mobile data): static CSS and JavaScript are compressed
    # (the Twilio Voice SDK a worker loads to call: 303 KB -> about 66 KB). Never HTML or JSON:
    # they carry CSRF and voice tokens next to text an attacker can choose, which compression
    # would leak over TLS (BREACH).
    COMPRESS_MIMETYPES = ["text/css", "text/javascript", "application/javascript"]

    WTF_CSRF_TIME_LIMIT = None  # tied to the session instead of a clock
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"

    RATELIMIT_STORAGE_URI = env(
        "RATELIMIT_STORAGE_URI", lambda cls: os.environ.get("REDIS_URL") or "memory://"
    )
    RATELIMIT_HEADERS_ENABLED = True
    LOGIN_RATE_LIMIT = env("LOGIN_RATE_LIMIT", "10 per minute")

    # Number of reverse proxies in front of the app (for X-Forwarded-* headers). 0 = none.
    PROXY_COUNT = env("PROXY_COUNT", 0, int)
    PUBLIC_BASE_URL = env("PUBLIC_BASE_URL")

    LOG_LEVEL = env("LOG_LEVEL", "INFO")
    LOG_FORMAT = env("LOG_FORMAT", "json")  # json | text
    # `flask demo seed` writes the demo staff's passwords here (default: instance/demo-logins.txt).
    DEMO_LOGINS_FILE = env("DEMO_LOGINS_FILE")

    DEFAULT_PHONE_REGION = "ID"
    # ISO 3166 codes of the placement countries the centre serves (SPEC §2), plus Indonesia.
    PLACEMENT_COUNTRIES = env(
        "PLACEMENT_COUNTRIES",
        ("TW", "MY", "HK", "KR", "JP", "SG", "SA", "IT", "BN", "TR", "AE", "PL", "ID"),
        lambda value: tuple(_csv(value)),
    )

    TWILIO_ACCOUNT_SID = env("TWILIO_ACCOUNT_SID")
    TWILIO_AUTH_TOKEN = env("TWILIO_AUTH_TOKEN")
    TWILIO_API_KEY = env("TWILIO_API_KEY")  # SK…, signs browser voice tokens
    TWILIO_API_SECRET = env("TWILIO_API_SECRET")
    TWILIO_TWIML_APP_SID = env("TWILIO_TWIML_APP_SID")  # AP…, voice URL /telephony/voice/client
    TWILIO_CALLER_ID = env("TWILIO_CALLER_ID")  # E.164 number callbacks are dialled from
    # The WhatsApp sender (E.164, approved in Twilio's console); unset: TWILIO_CALLER_ID.
    TWILIO_WHATSAPP_FROM = env("TWILIO_WHATSAPP_FROM")
    # WhatsApp's customer-service window (GK: 24 h after her last message): free text inside it,
    # only an approved template (admin: message templates) outside.
    WHATSAPP_WINDOW_HOURS = env("WHATSAPP_WINDOW_HOURS", 24, int)
    TELEPHONY_HOURS = env("TELEPHONY_HOURS", "06:00-22:00")  # call-centre hours, local time below
    TELEPHONY_TIMEZONE = env("TELEPHONY_TIMEZONE", "Asia/Jakarta")
    # A business calendar (by name, edited at /admin/sla) that decides opening hours instead,
    # with public holidays and dated overrides; missing → TELEPHONY_HOURS every day.
    TELEPHONY_CALENDAR = env("TELEPHONY_CALENDAR", "Pusat panggilan / Call centre (WIB)")
    TELEPHONY_MAX_WAIT_SECONDS = env("TELEPHONY_MAX_WAIT_SECONDS", 900, int)
    TELEPHONY_HOLD_MUSIC_URL = env(
        "TELEPHONY_HOLD_MUSIC_URL", "http://com.twilio.sounds.music.s3.amazonaws.com/MARKOVICHAMP-Borghestral.mp3"
    )
    # Record agent calls (conference "record-from-start") after a consent notice the caller can
    # decline with a key press; off by default. Playback only in the app, for authorised staff.
    TELEPHONY_RECORD_CALLS = env("TELEPHONY_RECORD_CALLS", False, _bool)
    # IVR self-service: a caller whose KPJ is found may hear her claim status after her birth date.
    SELF_SERVICE_ENABLED = env("SELF_SERVICE_ENABLED", True, _bool)
    SELF_SERVICE_MAX_TRIES = env("SELF_SERVICE_MAX_TRIES", 3, int)  # wrong birth dates per KPJ …
    SELF_SERVICE_LOCK_HOURS = env("SELF_SERVICE_LOCK_HOURS", 24, int)  # … within this window, across calls
    SELF_SERVICE_RECENT_DAYS = env("SELF_SERVICE_RECENT_DAYS", 90, int)  # settled claims still told
    SELF_SERVICE_MAX_CLAIMS = env("SELF_SERVICE_MAX_CLAIMS", 5, int)  # claims read out (the rest: an agent)
    CALLBACK_MAX_ATTEMPTS = env("CALLBACK_MAX_ATTEMPTS", 3, int)
    # A call-back attempt still "dialing" this long after it was written was cut short by a
    # crash: housekeeping asks the provider whether the call was placed (never dials twice).
    CALLBACK_DIAL_GRACE_SECONDS = env("CALLBACK_DIAL_GRACE_SECONDS", 120, int)
    CALLBACK_RETRY_MINUTES = env("CALLBACK_RETRY_MINUTES", [15, 60], lambda v: [int(x) for x in _csv(v)])
    CALLBACK_LIMIT_PER_NUMBER_PER_DAY = env("CALLBACK_LIMIT_PER_NUMBER_PER_DAY", 3, int)
    CALLBACK_RATE_LIMIT = env("CALLBACK_RATE_LIMIT", "10 per hour")  # per IP address
    VOICE_TOKEN_RATE_LIMIT = env("VOICE_TOKEN_RATE_LIMIT", "20 per hour")  # per IP address
    VOICE_TOKEN_TTL_SECONDS = env("VOICE_TOKEN_TTL_SECONDS", 600, int)
    # Per IP and endpoint: the Click-to-Call page's status polls and simulator keys.
    PORTAL_CALL_RATE_LIMIT = env("PORTAL_CALL_RATE_LIMIT", "120 per minute")

    # Live queue and routing (seconds).
    ROUTING_OFFER_TIMEOUT = env("ROUTING_OFFER_TIMEOUT", 20, int)  # unanswered offer → next agent
    ROUTING_RELAX_LANGUAGE_AFTER = env("ROUTING_RELAX_LANGUAGE_AFTER", 60, int)  # any Indonesian speaker
    ROUTING_RELAX_ANY_AFTER = env("ROUTING_RELAX_ANY_AFTER", 180, int)  # any agent
    ROUTING_WRAP_UP_SECONDS = env("ROUTING_WRAP_UP_SECONDS", 30, int)
    PRESENCE_GRACE_SECONDS = env("PRESENCE_GRACE_SECONDS", 30, int)  # console gone → offline
    CONSOLE_HEARTBEAT_SECONDS = env("CONSOLE_HEARTBEAT_SECONDS", 10.0, float)  # open consoles → still seen
    ROUTING_SCAN_LIMIT = env("ROUTING_SCAN_LIMIT", 2000, int)  # waiting items one routing pass looks at
    # How old the queue board that callers on hold hear their place from may be (0: read fresh).
    QUEUE_BOARD_SECONDS = env("QUEUE_BOARD_SECONDS", 2.0, float)
    # Queue order by topic (higher first); "*" for every other topic (default 10).
    ROUTING_TOPIC_PRIORITY = env(
        "ROUTING_TOPIC_PRIORITY", {"emergency": 100, "claim_jkk": 50, "claim_jkm": 50, "claim_jht": 50}, _weights
    )
    AGENT_VOICE_TOKEN_TTL = env("AGENT_VOICE_TOKEN_TTL", 3600, int)  # agents' softphone tokens (seconds)
    # Supervisors on live calls: the modes (listen, whisper, barge) the agent's console shows
    # ("supervisor listening / coaching / joined"); "none" shows none. Whisper and barge are
    # heard by the agent anyway; leaving "listen" out keeps silent monitoring silent.
    SUPERVISION_SHOWN_TO_AGENT = env("SUPERVISION_SHOWN_TO_AGENT", SUPERVISION_MODES, _supervision_modes)

    # Supervision: call KPIs, wallboard, staffing (docs/supervision.md).
    SUPERVISOR_ANSWER_TARGET_SECONDS = env("SUPERVISOR_ANSWER_TARGET_SECONDS", 20, int)  # T of "80/20"
    SUPERVISOR_TARGET_SERVICE_LEVEL = env("SUPERVISOR_TARGET_SERVICE_LEVEL", 0.8, float)  # the 80 of "80/20"
    SUPERVISOR_SHORT_ABANDON_SECONDS = env("SUPERVISOR_SHORT_ABANDON_SECONDS", 5, int)  # shorter: not counted
    SUPERVISOR_TIMEZONE = env("SUPERVISOR_TIMEZONE", "")  # report intervals; empty: TELEPHONY_TIMEZONE
    STAFFING_WEEKS = env("STAFFING_WEEKS", 4, int)  # same weekday over this many past weeks
    STAFFING_MAX_OCCUPANCY = env("STAFFING_MAX_OCCUPANCY", 0.85, float)
    STAFFING_SHRINKAGE = env("STAFFING_SHRINKAGE", 0.3, float)  # breaks, training, absence
    STAFFING_MAX_ABANDON = env("STAFFING_MAX_ABANDON", 0.05, float)  # Erlang A cap

    # Tickets and complaints.
    TICKETS_REOPEN_DAYS = env("TICKETS_REOPEN_DAYS", 7, int)  # a worker's reply reopens a resolved case
    TICKETS_REUSE_DAYS = env("TICKETS_REUSE_DAYS", 7, int)  # a new call joins a recent open ticket
    TICKETS_TRACK_RATE_LIMIT = env("TICKETS_TRACK_RATE_LIMIT", "10 per hour")  # failed look-ups
    TICKETS_COMPLAINT_RATE_LIMIT = env("TICKETS_COMPLAINT_RATE_LIMIT", "20 per hour")
    TICKETS_ATTACHMENT_MAX_BYTES = env("TICKETS_ATTACHMENT_MAX_BYTES", 5 * 1024 * 1024, int)
    TICKETS_ATTACHMENT_MAX_FILES = env("TICKETS_ATTACHMENT_MAX_FILES", 3, int)
    TICKETS_ATTACHMENT_DIR = env("TICKETS_ATTACHMENT_DIR")  # default: instance/attachments
    TICKETS_MESSENGER = env("TICKETS_MESSENGER")  # "package.module:factory"; unset = log only
    # Closed tickets older than this lose the requester's personal data (0 = keep forever);
    # the worker's tickets housekeeping erases at most TICKETS_RETENTION_BATCH per pass.
    TICKETS_RETENTION_DAYS = env("TICKETS_RETENTION_DAYS", 1825, int)
    TICKETS_RETENTION_BATCH = env("TICKETS_RETENTION_BATCH", 200, int)
    # Email notifications (SMTP); unset SMTP_HOST = email notices are only logged.
    SMTP_HOST = env("SMTP_HOST")
    SMTP_PORT = env("SMTP_PORT", 587, int)
    SMTP_STARTTLS = env("SMTP_STARTTLS", True, _bool)
    SMTP_USERNAME = env("SMTP_USERNAME")
    SMTP_PASSWORD = env("SMTP_PASSWORD")
    MAIL_FROM = env("MAIL_FROM", "BPJS Ketenagakerjaan <no-reply@localhost>")
    # Whole request bodies: refused with 413 before anything reads them.
    MAX_CONTENT_LENGTH = env("MAX_CONTENT_LENGTH", 20 * 1024 * 1024, int)

    REQUIRED_SETTINGS: tuple[str, ...] = ()

    @classmethod
    def missing_settings(cls) -> list[str]:
        """Names of required environment settings that are not set."""
        env_names = {
            "SECRET_KEY": "SECRET_KEY",
            "DATABASE_URL": "DATABASE_URL",
            "REDIS_URL": "REDIS_URL",
            "PII_ENCRYPTION_KEYS": "PII_ENCRYPTION_KEYS",
            "PII_HASH_KEY": "PII_HASH_KEY",
        }
        return [env_names[name] for name in cls.REQUIRED_SETTINGS if not os.environ.get(env_names[name])]


def _embedded_redis_url() -> str | None:
    try:
        return EMBEDDED_REDIS_URL_FILE.read_text(encoding="utf-8").strip() or None
    except OSError:
        return None


class DevelopmentConfig(Config):
    """The embedded default: SQLite, embedded Redis, dev-only keys kept in ``instance/``."""

    NAME = "development"
    DEBUG = env("FLASK_DEBUG", False, _bool)
    # Beside a running embedded default, a `flask …` command in another terminal finds its Redis.
    REDIS_URL = env("REDIS_URL", lambda cls: _embedded_redis_url())
    RATELIMIT_STORAGE_URI = env("RATELIMIT_STORAGE_URI", lambda cls: cls.REDIS_URL or "memory://")
    LOG_FORMAT = env("LOG_FORMAT", "text")  # a person reads these in a terminal
    DEV_SECRETS_FILE = INSTANCE_DIR / "dev-secrets.json"


class TestingConfig(Config):
    """pytest: a throwaway database chosen by ``TEST_DATABASE_URL`` (SQLite by default)."""

    NAME = "testing"
    TESTING = True
    SECRET_KEY = "test-secret-key-not-for-production"  # noqa: S105 - test-only constant
    SQLALCHEMY_DATABASE_URI = env(
        "TEST_DATABASE_URL", "sqlite:///" + str(INSTANCE_DIR / "test.db"), normalise_database_url
    )
    # Two fixed test keys: the second exists so tests can exercise rotation.
    PII_ENCRYPTION_KEYS = ["lHhCkvsb1ec6u6OO0N5nmE2g9MMdO6KHnQBgd-8WL1k="]
    PII_HASH_KEY = "test-hash-key"
    RATELIMIT_STORAGE_URI = "memory://"
    RATELIMIT_ENABLED = True
    WTF_CSRF_ENABLED = True
    LOG_FORMAT = "text"
    LOG_LEVEL = "WARNING"
    # Tests assert exact places right after enqueueing (tests/routing/test_board.py covers the
    # board's ageing with its own setting).
    QUEUE_BOARD_SECONDS = env("QUEUE_BOARD_SECONDS", 0.0, float)


class ProductionConfig(Config):
    """PostgreSQL, Redis, gunicorn. Every secret must come from the environment."""

    NAME = "production"
    SESSION_COOKIE_SECURE = True
    REMEMBER_COOKIE_SECURE = True
    REQUIRED_SETTINGS = (
        "SECRET_KEY",
        "DATABASE_URL",
        "REDIS_URL",
        "PII_ENCRYPTION_KEYS",
        "PII_HASH_KEY",
    )


CONFIGS: dict[str, type[Config]] = {
    "development": DevelopmentConfig,
    "testing": TestingConfig,
    "production": ProductionConfig,
}


def config_from_env() -> type[Config]:
    name = os.environ.get("HALOPMI_CONFIG", "development").strip().lower()
    try:
        return CONFIGS[name]
    except KeyError:
        raise SystemExit(
            f"HALOPMI_CONFIG={name!r} is not one of: {', '.join(sorted(CONFIGS))}"
        ) from None
