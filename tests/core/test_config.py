"""Production refuses to start without its secrets, and names each one that is missing; every
setting is declared (with its default) in config.py and listed in the README."""

from __future__ import annotations

import importlib.util
import re
import types
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from flask import Flask

import config
from app import ConfigurationError, create_app
from config import ProductionConfig, TestingConfig

REQUIRED = ("SECRET_KEY", "DATABASE_URL", "REDIS_URL", "PII_ENCRYPTION_KEYS", "PII_HASH_KEY")


@pytest.fixture
def production_env(monkeypatch, redis_url):  # type: ignore[no-untyped-def]
    values = {
        "SECRET_KEY": "a-production-secret-for-this-test",
        "DATABASE_URL": TestingConfig.SQLALCHEMY_DATABASE_URI,
        "REDIS_URL": redis_url,
        "PII_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "PII_HASH_KEY": "a-production-hash-key",
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return values


def load_config_module() -> types.ModuleType:
    """config.py as a process started with the current environment would read it.

    Its classes read the environment when the module is imported, so the already-imported
    module still holds the values from before the test changed the environment.
    """
    spec = importlib.util.spec_from_file_location("config_under_test", config.__file__)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_refuses_to_start_without_any_setting(monkeypatch):
    for name in REQUIRED:
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ConfigurationError) as raised:
        create_app(ProductionConfig)
    message = str(raised.value)
    for name in REQUIRED:
        assert name in message


@pytest.mark.parametrize("missing", REQUIRED)
def test_names_the_one_missing_setting(production_env, monkeypatch, missing):
    monkeypatch.delenv(missing)
    with pytest.raises(ConfigurationError) as raised:
        create_app(ProductionConfig)
    message = str(raised.value)
    assert missing in message
    assert [name for name in REQUIRED if name in message] == [missing]


@pytest.mark.parametrize("missing", REQUIRED)
def test_an_empty_setting_counts_as_missing(production_env, monkeypatch, missing):
    monkeypatch.setenv(missing, "")
    with pytest.raises(ConfigurationError, match=missing):
        create_app(ProductionConfig)


def test_configuration_error_exits_the_process():
    assert issubclass(ConfigurationError, SystemExit)


def test_starts_with_every_setting(production_env):
    fresh = load_config_module()
    app = create_app(fresh.ProductionConfig)
    assert app.config["SECRET_KEY"] == production_env["SECRET_KEY"]
    assert app.config["REDIS_URL"] == production_env["REDIS_URL"]
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config.get("TESTING") is not True
    response = app.test_client().get("/healthz")
    assert response.status_code == 200


def test_unknown_config_name_is_refused(monkeypatch):
    monkeypatch.setenv("HALOPMI_CONFIG", "staging")
    with pytest.raises(SystemExit, match="staging"):
        config.config_from_env()


def test_postgres_urls_use_the_psycopg3_driver():
    assert config.normalise_database_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"
    assert config.normalise_database_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    assert config.normalise_database_url("sqlite:///x.db") == "sqlite:///x.db"


ROOT = Path(__file__).resolve().parents[2]
# current_app.config["X"], app.config.get("X", …), presence.setting("X", …)
_READ = re.compile(r"""(?:config(?:\.get)?[\[(]|\bsetting\()\s*["']([A-Z][A-Z0-9_]+)["']""")


def _settings_read_by_the_app() -> set[str]:
    names: set[str] = set()
    for path in (ROOT / "app").rglob("*.py"):
        names.update(_READ.findall(path.read_text(encoding="utf-8")))
    return names


def test_every_setting_the_app_reads_is_declared_with_its_default_in_config(app):
    flask_defaults = set(Flask.default_config)
    declared = {name for cls in config.CONFIGS.values() for name in dir(cls) if name.isupper()}
    undeclared = sorted(_settings_read_by_the_app() - declared - flask_defaults)
    assert not undeclared, f"read by app/ but not declared in config.py: {undeclared}"


def test_every_environment_setting_is_in_the_readme_table():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = readme[readme.index("## Configuration") : readme.index("## Common tasks")]
    declared = {
        value.name
        for cls in config.CONFIGS.values()
        for value in vars(cls).values()
        if isinstance(value, config.env)
    }
    missing = sorted(name for name in declared if f"`{name}`" not in table)
    assert not missing, f"settings missing from the README's configuration table: {missing}"


def test_a_postgresql_process_keeps_a_pool_as_large_as_its_threads(monkeypatch):
    """Measured with bench/bench_webhooks.py: with SQLAlchemy's default pool (5 + 10 overflow)
    and a pre-ping per checkout, 16 gunicorn threads opened a new PostgreSQL connection on about
    a fifth of the webhooks' time. The pool is a setting, sized for the threads."""
    from app import create_app
    from config import TestingConfig

    monkeypatch.setenv("DATABASE_POOL_SIZE", "32")
    app = create_app(TestingConfig, SQLALCHEMY_DATABASE_URI="postgresql+psycopg://u@127.0.0.1:9/x")
    options = app.config["SQLALCHEMY_ENGINE_OPTIONS"]
    assert options["pool_size"] == 32 and options["max_overflow"] == 20
    assert options["pool_pre_ping"] is False and options["pool_recycle"] == 1800
    with app.app_context():
        from app.extensions import db

        assert db.engine.pool.size() == 32  # what the engine really got
    explicit = create_app(
        TestingConfig,
        SQLALCHEMY_DATABASE_URI="postgresql+psycopg://u@127.0.0.1:9/x",
        SQLALCHEMY_ENGINE_OPTIONS={"pool_size": 3},
    )
    assert explicit.config["SQLALCHEMY_ENGINE_OPTIONS"]["pool_size"] == 3  # an explicit choice stays
