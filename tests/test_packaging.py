"""A fresh clone, built and installed as the README's production section says, serves Indonesian
pages with working live updates.

The clone is of the repository's HEAD (commit first: uncommitted changes are not in it). The
documented build step runs in it, then ``pip install -c constraints.txt <clone>`` into a new
virtual environment: a real build (setuptools in an isolated environment, the wheel from the
clone) and a real dependency resolution of pyproject.toml's dependencies, with nothing reused
from this test's own environment; pip's cache of downloaded wheels is what keeps it to about a
minute. Then, from a directory outside the clone (so the installed package is what runs):
``flask db upgrade`` on a scratch SQLite database and gunicorn with the README's command
(production config, gthread), checked over HTTP and Socket.IO.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import socketio as socketio_client

from tests.live import USER_AGENT, StaffSocket, wait_until_healthy
from tests.services import free_port, need

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "packaging-test-password"  # noqa: S105 - a throwaway account in a scratch database


# What the TLS-terminating proxy adds; the test client stands for the browser behind it.
PROXY_HEADERS = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.7", "User-Agent": USER_AGENT}


def _sign_in_behind_proxy(base_url: str, email: str, password: str) -> requests.Session:
    """Sign in through the form as a browser on https://… would. Production cookies are Secure,
    which the test client would keep to itself over the loopback's plain HTTP: it is told the
    connection is HTTPS (the proxy's part) and sends them back as the browser would."""
    session = requests.Session()
    session.headers.update(PROXY_HEADERS)

    def keep_cookies() -> None:
        for cookie in session.cookies:
            if cookie.secure:  # each cookie the app sets is Secure; set again, it is again
                cookie.secure = False
            else:
                assert (cookie.name, cookie.value) in relaxed, f"cookie {cookie.name} is not Secure"
            relaxed.add((cookie.name, cookie.value))

    relaxed: set[tuple[str, str | None]] = set()

    page = session.get(base_url + "/login", timeout=10)
    keep_cookies()
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.text)
    assert token, page.text[:500]
    host = base_url.split("://", 1)[1]
    response = session.post(base_url + "/login", allow_redirects=False, timeout=10,
                            headers={"Referer": f"https://{host}/login"},
                            data={"email": email, "password": password, "csrf_token": token.group(1)})
    assert response.status_code == 302, f"sign-in failed: {response.status_code}"
    keep_cookies()
    assert response.headers["Location"].startswith(("/", f"https://{host}/")), response.headers["Location"]
    return session


def _run(command: list[str], *, cwd: Path, env: dict[str, str] | None = None, timeout: float = 600) -> str:
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False)  # noqa: S603
    assert result.returncode == 0, f"{' '.join(command)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
    return result.stdout


def _build_step():  # type: ignore[no-untyped-def]
    import importlib.util

    spec = importlib.util.spec_from_file_location("halopmi_build_step", ROOT / "scripts" / "build.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_wheel_is_refused_without_the_build_steps_outputs(tmp_path: Path) -> None:
    """What setup.py checks before building a wheel: catalogues compiled and current, vendor files."""
    step = _build_step()
    messages = tmp_path / "app" / "translations" / "id" / "LC_MESSAGES"
    messages.mkdir(parents=True)
    (messages / "messages.po").write_text('msgid ""\nmsgstr ""\n')
    vendor = tmp_path / "app" / "static" / "vendor"
    assert set(step.missing_outputs(tmp_path)) == {
        "app/translations/id/LC_MESSAGES/messages.mo",
        *(f"app/static/vendor/{name}" for name in step.ASSETS.values()),
    }
    step.compile_catalogues(tmp_path)
    vendor.mkdir(parents=True)
    for name in step.ASSETS.values():
        (vendor / name).write_text("/* vendored */")
    assert step.missing_outputs(tmp_path) == []
    mo = messages / "messages.mo"
    os.utime(mo, (mo.stat().st_mtime - 60, mo.stat().st_mtime - 60))  # the .po edited since
    assert step.missing_outputs(tmp_path) == ["app/translations/id/LC_MESSAGES/messages.mo"]


@pytest.fixture
def gunicorn_server(tmp_path: Path, redis_url: str) -> Iterator[tuple[str, dict[str, str], Path]]:
    if shutil.which("git") is None or shutil.which("npm") is None:
        need("git and npm (the build step vendors the front-end packages with npm)")
    clone = tmp_path / "clone"
    _run(["git", "clone", "--quiet", str(ROOT), str(clone)], cwd=tmp_path)

    # The documented build step, with the Python that runs the tests (any 3.11+ does: without
    # Babel the step fetches it for itself).
    _run([sys.executable, "scripts/build.py"], cwd=clone)

    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", str(venv)], cwd=tmp_path)
    _run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "-c", str(clone / "constraints.txt"),
          str(clone)], cwd=tmp_path, timeout=900)

    run_dir = tmp_path / "run"
    run_dir.mkdir()
    fernet_key = _run([str(venv / "bin" / "python"), "-c",
                       "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"],
                      cwd=run_dir).strip()
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("TEST_", "HALOPMI_", "FLASK_", "PYTHON"))}
    env.update(
        HALOPMI_CONFIG="production",
        HALOPMI_INSTANCE_DIR=str(run_dir / "instance"),
        DATABASE_URL=f"sqlite:///{run_dir / 'scratch.db'}",
        REDIS_URL=redis_url,
        SOCKETIO_CHANNEL=f"halopmi-packaging-{os.getpid()}",
        SECRET_KEY="packaging-test-secret-key",
        PII_ENCRYPTION_KEYS=fernet_key,
        PII_HASH_KEY="packaging-test-hash-key",
        RATELIMIT_STORAGE_URI="memory://",
        PROXY_COUNT="1",  # as behind the README's TLS-terminating proxy (Secure cookies)
    )
    where = _run([str(venv / "bin" / "python"), "-c", "import app, config; print(app.__file__)"], cwd=run_dir, env=env)
    assert where.strip().startswith(str(venv)), f"the app was imported from {where} instead of the install"

    _run([str(venv / "bin" / "flask"), "--app", "wsgi", "db", "upgrade"], cwd=run_dir, env=env)
    _run([str(venv / "bin" / "flask"), "--app", "wsgi", "users", "create", "--email", "agent@example.org",
          "--name", "Agent", "--role", "agent", "--password", PASSWORD], cwd=run_dir, env=env)

    port = free_port()
    log = (run_dir / "gunicorn.log").open("wb")
    server = subprocess.Popen(  # noqa: S603 - the README's command
        [str(venv / "bin" / "gunicorn"), "-k", "gthread", "-w", "1", "--threads", "20",
         "-b", f"127.0.0.1:{port}", "wsgi:app"],
        cwd=run_dir, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(base_url, timeout=120, alive=lambda: server.poll() is None)
        yield base_url, env, run_dir
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
        log.close()


@pytest.mark.slow
@pytest.mark.database_independent
@pytest.mark.timeout(1200)
def test_fresh_clone_built_and_installed_serves_indonesian_pages_with_live_updates(gunicorn_server) -> None:
    base_url, _env, run_dir = gunicorn_server
    try:
        home = requests.get(base_url + "/", timeout=10)
        assert home.status_code == 200
        assert re.search(r'<html[^>]* lang="id"', home.text)
        # The compiled catalogue is in the wheel: the heading is in Bahasa Indonesia, not the
        # English source string.
        assert "Pusat layanan BPJS Ketenagakerjaan untuk pekerja migran" in home.text
        assert "contact centre for migrant workers" not in home.text

        vendor = requests.get(base_url + "/static/vendor/socket.io.min.js", timeout=10)
        assert vendor.status_code == 200 and len(vendor.content) > 10_000

        # Live updates: a signed-in agent's socket hears of a complaint filed through the API.
        session = _sign_in_behind_proxy(base_url, "agent@example.org", PASSWORD)
        socket = StaffSocket(base_url, session)
        # The browser's origin is the https:// one the proxy serves (Socket.IO checks it).
        origin = base_url.replace("http:", "https:")
        socket.sio = socketio_client.Client(reconnection=False, websocket_extra_options={"origin": origin})
        socket.sio.on("*", socket._record, namespace=socket.namespace)
        cookies = "; ".join(f"{c.name}={c.value}" for c in session.cookies)
        socket.sio.connect(base_url, namespaces=[socket.namespace], transports=["websocket"],
                           headers={**PROXY_HEADERS, "Cookie": cookies}, wait_timeout=20)
        try:
            response = requests.post(base_url + "/api/v1/complaints", timeout=10, json={
                "name": "Siti Aminah", "phone": "+85291234567", "country": "HK", "category": "claim_jkm",
                "description": "My husband died at work; how do I claim?", "birth_date": "1990-05-17",
                "language": "id",
            })
            assert response.status_code == 201, response.text
            reference = response.json()["reference"]
            update = socket.wait_for("ticket.updated", timeout=20, where=lambda data: data.get("reference") == reference)
            assert update["change"] == "created"
        finally:
            socket.close()
    except AssertionError:
        print((run_dir / "gunicorn.log").read_text(errors="replace")[-5000:])
        raise
