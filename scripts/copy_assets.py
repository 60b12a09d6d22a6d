"""Copy the built browser files of the npm packages into app/static/vendor (not committed)."""

from __future__ import annotations

import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ASSETS = {
    "socket.io-client/dist/socket.io.min.js": "socket.io.min.js",
    "@twilio/voice-sdk/dist/twilio.min.js": "twilio-voice.min.js",
}


def main() -> None:
    target = ROOT / "app" / "static" / "vendor"
    target.mkdir(parents=True, exist_ok=True)
    for source, name in ASSETS.items():
        path = ROOT / "node_modules" / source
        if not path.exists():
            raise SystemExit(f"missing {path}: run npm install")
        shutil.copy2(path, target / name)


if __name__ == "__main__":
    main()
