"""Fill Bahasa Indonesia translations into messages.po from a Python dict file (a dev helper).

    python scripts/po_fill.py TRANSLATIONS.py     # the file defines T = {msgid: msgstr}

Only empty or fuzzy entries are filled; existing translations are kept.
"""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

from babel.messages.pofile import read_po, write_po

PO = Path(__file__).resolve().parent.parent / "app" / "translations" / "id" / "LC_MESSAGES" / "messages.po"


def main() -> None:
    table: dict[str, str] = runpy.run_path(sys.argv[1])["T"]
    with PO.open("rb") as handle:
        catalog = read_po(handle)
    filled = 0
    for message in catalog:
        if message.id in table and (not message.string or message.fuzzy):
            message.string = table[message.id]
            message.flags.discard("fuzzy")
            filled += 1
    with PO.open("wb") as handle:
        write_po(handle, catalog, width=100, omit_header=False, sort_output=True, include_previous=False)
    print(f"{filled} translations filled")


if __name__ == "__main__":
    main()
