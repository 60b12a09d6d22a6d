#!/usr/bin/env python3
"""The production build step, from a checkout, before ``pip install .``:

    python3 scripts/build.py           compile the translation catalogues (.po -> .mo) and vendor
                                       the front-end files (npm ci, then copy to app/static/vendor)

Needs Python 3.11+ and npm. Babel (which compiles the catalogues) is used from this Python if
it has it, else installed by pip into a temporary directory, at the version constraints.txt pins.
``python3 run.py setup`` runs the same two steps for the embedded default (with npm's
devDependencies, which only the tests read). ``pip install .`` refuses to build a wheel without
these outputs (setup.py), since the app would serve untranslated pages without live updates.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Browser files of the npm packages (package.json "dependencies"), served from app/static/vendor.
ASSETS = {
    "socket.io-client/dist/socket.io.min.js": "socket.io.min.js",
    "@twilio/voice-sdk/dist/twilio.min.js": "twilio-voice.min.js",
}


def catalogues(root: Path = ROOT) -> list[Path]:
    return sorted((root / "app" / "translations").glob("*/LC_MESSAGES/messages.po"))


def missing_outputs(root: Path = ROOT) -> list[str]:
    """Outputs of this step that are absent or older than their source (relative paths)."""
    missing = []
    for po in catalogues(root):
        mo = po.with_suffix(".mo")
        if not mo.exists() or mo.stat().st_mtime < po.stat().st_mtime:
            missing.append(str(mo.relative_to(root)))
    for name in ASSETS.values():
        path = root / "app" / "static" / "vendor" / name
        if not path.exists():
            missing.append(str(path.relative_to(root)))
    return missing


def _babel_pin(root: Path) -> str:
    constraints = root / "constraints.txt"
    if constraints.exists():
        match = re.search(r"^babel==(\S+)$", constraints.read_text(), re.I | re.M)
        if match:
            return f"Babel=={match.group(1)}"
    return "Babel>=2.14"


def _import_babel(root: Path) -> None:
    try:
        importlib.import_module("babel.messages.mofile")
    except ImportError:
        target = Path(tempfile.mkdtemp(prefix="halopmi-build-"))
        print(f"* installing {_babel_pin(root)} for this step only")
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--target", str(target),  # noqa: S603
                        _babel_pin(root)], check=True)
        sys.path.insert(0, str(target))


def compile_catalogues(root: Path = ROOT, force: bool = False) -> None:
    """Every app/translations/<lang>/LC_MESSAGES/messages.po to its .mo (Babel, fuzzy skipped)."""
    _import_babel(root)
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    for po in catalogues(root):
        mo = po.with_suffix(".mo")
        if not force and mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
            continue
        with po.open("rb") as fh:
            catalog = read_po(fh)
        with mo.open("wb") as fh:
            write_mo(fh, catalog)


def vendor_assets(root: Path = ROOT, dev: bool = False) -> bool:
    """npm ci (when package.json or its lock changed) and copy the browser files into
    app/static/vendor. ``dev``: npm's devDependencies too (axe-core, read by the browser tests).
    False when npm is missing and nothing could be vendored."""
    lock = root / "package-lock.json"
    stamp = root / "node_modules" / ".halopmi-stamp"
    digest = hashlib.sha256((root / "package.json").read_bytes() + (lock.read_bytes() if lock.exists() else b"")).hexdigest()
    digest += "" if dev else ":without-dev"
    target = root / "app" / "static" / "vendor"
    if not (stamp.exists() and stamp.read_text() == digest and target.exists()):
        npm = shutil.which("npm")
        if npm is None:
            return False
        print("* installing front-end packages (npm)")
        command = ["ci"] if lock.exists() else ["install"]
        include = ["--include=dev"] if dev else ["--omit=dev"]
        subprocess.run([npm, *command, *include, "--no-audit", "--no-fund", "--silent"], check=True, cwd=root)  # noqa: S603
        stamp.write_text(digest)
    copy_assets(root)
    return True


def copy_assets(root: Path = ROOT) -> None:
    """The browser files from node_modules into app/static/vendor (never committed)."""
    target = root / "app" / "static" / "vendor"
    target.mkdir(parents=True, exist_ok=True)
    for source, name in ASSETS.items():
        path = root / "node_modules" / source
        if not path.exists():
            raise SystemExit(f"missing {path}: run npm ci")
        shutil.copy2(path, target / name)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", type=Path, default=ROOT, help="the checkout (default: this script's)")
    args = parser.parse_args(argv)
    root = args.root.resolve()
    print("* compiling the translation catalogues")
    compile_catalogues(root, force=True)
    if not vendor_assets(root):
        print("npm not found: install Node.js/npm (the front-end files come from npm)", file=sys.stderr)
        return 1
    missing = missing_outputs(root)
    if missing:
        print("still missing: " + ", ".join(missing), file=sys.stderr)
        return 1
    print("* built: catalogues compiled, front-end files in app/static/vendor; now pip install .")
    return 0


if __name__ == "__main__":
    sys.exit(main())
