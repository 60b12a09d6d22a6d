"""Translation workflow (English source strings, Bahasa Indonesia default locale).

    python scripts/i18n.py extract   # update app/translations/*/messages.po from the code
    python scripts/i18n.py check     # fail if a string has no Bahasa Indonesia translation
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
POT = ROOT / "instance" / "messages.pot"
TRANSLATIONS = ROOT / "app" / "translations"


def extract() -> None:
    POT.parent.mkdir(exist_ok=True)
    subprocess.run(
        [sys.executable, "-m", "babel.messages.frontend", "extract", "-F", "babel.cfg", "-k", "_l",
         "--no-location", "--sort-output", "-w", "100", "-o", str(POT), "."],
        check=True, cwd=ROOT,
    )
    # English is the source language: it needs no catalogue.
    for lang in ("id",):
        po = TRANSLATIONS / lang / "LC_MESSAGES" / "messages.po"
        command = "update" if po.exists() else "init"
        subprocess.run(
            [sys.executable, "-m", "babel.messages.frontend", command, "-i", str(POT),
             "-d", str(TRANSLATIONS), "-l", lang, "-w", "100",
             *(["--no-fuzzy-matching"] if command == "update" else [])],
            check=True, cwd=ROOT,
        )


def untranslated(lang: str = "id") -> list[str]:
    from babel.messages.pofile import read_po

    with (TRANSLATIONS / lang / "LC_MESSAGES" / "messages.po").open("rb") as fh:
        catalog = read_po(fh)
    missing = []
    for message in catalog:
        if not message.id:
            continue
        strings = message.string if isinstance(message.string, (list, tuple)) else [message.string]
        if not all(strings) or message.fuzzy:
            missing.append(message.id if isinstance(message.id, str) else message.id[0])
    return missing


if __name__ == "__main__":
    if sys.argv[1:] == ["extract"]:
        extract()
    elif sys.argv[1:] == ["check"]:
        missing = untranslated()
        for item in missing:
            print("untranslated:", item)
        sys.exit(1 if missing else 0)
    else:
        print(__doc__)
        sys.exit(2)
