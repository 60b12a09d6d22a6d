#!/usr/bin/env python3
"""halopmi in two commands, needing only Python 3.11+.

    python3 run.py          set up (virtualenv, packages, translations, front-end assets) and run
                            the embedded default: SQLite, embedded Redis, rq worker, demo data
    python3 run.py test     set up and run the test suite (extra arguments go to pytest)
    python3 run.py bench    set up and run every benchmark under bench/ into one table
                            (--quick: small sizes; names to run only some; needs PostgreSQL, Redis)
    python3 run.py setup    only set up

Standard library only until the virtualenv exists; then it re-executes itself inside it.
The packages are the app itself (editable) with its "dev" extra, pinned by constraints.txt
(requirements-dev.txt); translations and front-end files come from scripts/build.py, the same
step a production build runs.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tomllib
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
VENV_PY = VENV / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
STAMP = VENV / ".halopmi-installed"


def _in_venv() -> bool:
    return Path(sys.prefix).resolve() == VENV.resolve()


def _requirements_digest() -> str:
    """What the installed packages depend on: pyproject.toml's dependency tables (not its tool
    settings, which change often), the requirements files and the pinned versions."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    digest = hashlib.sha256()
    digest.update(json.dumps([project.get("dependencies"), project.get("optional-dependencies")]).encode())
    for name in ("requirements.txt", "requirements-dev.txt", "constraints.txt"):
        digest.update((ROOT / name).read_bytes())
    return digest.hexdigest()


def ensure_venv() -> None:
    if sys.version_info < (3, 11):  # noqa: UP036 - run.py may be started by an older python3
        raise SystemExit("halopmi needs Python 3.11 or newer")
    if not VENV_PY.exists():
        print("* creating the virtualenv in .venv")
        venv.EnvBuilder(with_pip=True).create(VENV)
    wanted = _requirements_digest()
    if not STAMP.exists() or STAMP.read_text().strip() != wanted:
        print("* installing Python packages")
        subprocess.run([str(VENV_PY), "-m", "pip", "install", "--quiet", "--upgrade", "pip"], check=True)
        subprocess.run(
            [str(VENV_PY), "-m", "pip", "install", "--quiet", "-r", str(ROOT / "requirements-dev.txt")],
            check=True, cwd=ROOT,  # "-e .[dev]" is relative to the working directory
        )
        STAMP.write_text(wanted)


def _build_step():  # type: ignore[no-untyped-def]
    """scripts/build.py, the production build step, loaded by path (not importable by name)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("halopmi_build_step", ROOT / "scripts" / "build.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def compile_translations() -> None:
    _build_step().compile_catalogues(ROOT)


def install_assets() -> None:
    """Front-end packages come from npm at set-up (never copied into the repository); with npm's
    devDependencies, which the tests read (axe-core), unlike a production build."""
    if not _build_step().vendor_assets(ROOT, dev=True):
        if os.environ.get("CI", "").lower() == "true":
            # The browser tests need these (socket.io, axe-core): fail here, not in 40 tests.
            raise SystemExit("npm not found: CI needs the front-end packages (apt-get install npm)")
        print("! npm not found: pages work, but live updates and the softphone need the npm packages")


def setup() -> None:
    compile_translations()
    install_assets()


def main(argv: list[str]) -> int:
    if not _in_venv():
        ensure_venv()
        os.execv(str(VENV_PY), [str(VENV_PY), str(ROOT / "run.py"), *argv])  # noqa: S606
    command = argv[0] if argv else "run"
    setup()
    if command == "setup":
        return 0
    if command == "test":
        return subprocess.call([sys.executable, "-m", "pytest", *argv[1:]], cwd=ROOT)
    if command == "bench":
        return subprocess.call([sys.executable, str(ROOT / "bench" / "run_all.py"), *argv[1:]], cwd=ROOT)
    if command == "run":
        os.chdir(ROOT)
        sys.path.insert(0, str(ROOT))
        from app.devserver import main as run_embedded

        run_embedded()
        return 0
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
