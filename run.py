#!/usr/bin/env python3
"""halopmi in two commands, needing only Python 3.11+.

    python3 run.py          set up (virtualenv, packages, translations, front-end assets) and run
                            the embedded default: SQLite, embedded Redis, rq worker, demo data
    python3 run.py test     set up and run the test suite (extra arguments go to pytest)
    python3 run.py setup    only set up

Standard library only until the virtualenv exists; then it re-executes itself inside it.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
VENV_PY = VENV / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
STAMP = VENV / ".halopmi-installed"


def _in_venv() -> bool:
    return Path(sys.prefix).resolve() == VENV.resolve()


def _requirements_digest() -> str:
    digest = hashlib.sha256()
    for name in ("requirements.txt", "requirements-dev.txt"):
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
            check=True,
        )
        STAMP.write_text(wanted)


def compile_translations() -> None:
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    for po_path in (ROOT / "app" / "translations").glob("*/LC_MESSAGES/messages.po"):
        mo_path = po_path.with_suffix(".mo")
        if mo_path.exists() and mo_path.stat().st_mtime >= po_path.stat().st_mtime:
            continue
        with po_path.open("rb") as fh:
            catalog = read_po(fh)
        with mo_path.open("wb") as fh:
            write_mo(fh, catalog)


def install_assets() -> None:
    """Front-end packages come from npm at set-up (never copied into the repository)."""
    if not (ROOT / "package.json").exists():
        return
    target = ROOT / "app" / "static" / "vendor"
    lock = ROOT / "package-lock.json"
    stamp = ROOT / "node_modules" / ".halopmi-stamp"
    digest = hashlib.sha256((ROOT / "package.json").read_bytes() + (lock.read_bytes() if lock.exists() else b"")).hexdigest()
    if not (stamp.exists() and stamp.read_text() == digest and target.exists()):
        npm = shutil.which("npm")
        if npm is None:
            if os.environ.get("CI", "").lower() == "true":
                # The browser tests need these (socket.io, axe-core): fail here, not in 40 tests.
                raise SystemExit("npm not found: CI needs the front-end packages (apt-get install npm)")
            print("! npm not found: pages work, but live updates and the softphone need the npm packages")
            return
        print("* installing front-end packages (npm)")
        # --include=dev: the tests' packages (axe-core) even where NODE_ENV=production; they are read
        # from node_modules by the tests and never copied to app/static.
        command = ["ci"] if lock.exists() else ["install"]
        subprocess.run([npm, *command, "--include=dev", "--no-audit", "--no-fund", "--silent"], check=True, cwd=ROOT)
        stamp.write_text(digest)
    subprocess.run([sys.executable, str(ROOT / "scripts" / "copy_assets.py")], check=True, cwd=ROOT)


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
