"""Where member and claim records come from: the source Protocol and files (CSV, JSON Lines).

:mod:`app.records.sync` explains how a source plugs into the upsert; this module only reads.
A record that cannot be read is still yielded (with ``error`` set) so the importer reports it:
nothing in a file silently disappears.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, NamedTuple, Protocol

from app.core.i18n import _
from app.records.schemas import CLAIM_COLUMNS, CLAIM_REQUIRED, MEMBER_COLUMNS, MEMBER_REQUIRED

KINDS = ("members", "claims")


class SourceRow(NamedTuple):
    """One record from a source: where it was (line number) and its fields, or why unreadable."""

    position: int
    data: dict[str, Any]
    error: str | None = None  # the record could not even be read (bad JSON, wrong column count)


class MembershipSource(Protocol):
    """Anything that can list member and claim records, optionally only those changed since."""

    name: str

    def members(self, since: datetime | None = None) -> Iterator[SourceRow]:
        """Member records as dicts with the keys of ``schemas.MEMBER_COLUMNS``."""
        ...

    def claims(self, since: datetime | None = None) -> Iterator[SourceRow]:
        """Claim records as dicts with the keys of ``schemas.CLAIM_COLUMNS``."""
        ...


class SourceError(ValueError):
    """The source as a whole cannot be read (missing file, missing required columns…)."""


def _sniff_format(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return "csv"
    if suffix in (".jsonl", ".ndjson", ".json"):
        return "jsonl"
    with path.open("rb") as fh:
        head = fh.read(4096).lstrip(b"\xef\xbb\xbf \t\r\n")
    return "jsonl" if head.startswith(b"{") else "csv"


class FileSource:
    """Records from a CSV file (header row; ``,`` ``;`` or tab) or a JSON Lines file.

    A file holds one kind of record: ``claim_number`` in the header (or first object) means
    claims. Records are yielded with their line number; one that cannot be read is yielded
    with ``error`` set, never dropped. Bytes that are not UTF-8 make that row unreadable
    instead of stopping the file (``surrogateescape`` keeps them visible to the check).
    ``since`` filters on an ``updated_at`` field when the file has one (files usually don't).
    """

    def __init__(self, path: str | Path, kind: str | None = None, fmt: str | None = None) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise SourceError(_("File not found: %(path)s", path=str(self.path)))
        self.name = f"file:{self.path.name}"
        self.format = fmt or _sniff_format(self.path)
        self.columns = self._columns()
        detected = "claims" if "claim_number" in self.columns else "members"
        if kind is not None and kind not in KINDS:
            raise SourceError(_("Unknown kind %(kind)s (members or claims).", kind=kind))
        self.kind = kind or detected
        required = CLAIM_REQUIRED if self.kind == "claims" else MEMBER_REQUIRED
        missing = [column for column in required if column not in self.columns]
        if missing:
            raise SourceError(
                _(
                    "The file has no column(s) %(columns)s required for %(kind)s.",
                    columns=", ".join(missing),
                    kind=self.kind,
                )
            )
        known = CLAIM_COLUMNS if self.kind == "claims" else MEMBER_COLUMNS
        self.ignored_columns = [c for c in self.columns if c not in known and c != "updated_at"]

    def _open(self) -> Any:
        return self.path.open(encoding="utf-8-sig", errors="surrogateescape", newline="")

    def _columns(self) -> list[str]:
        with self._open() as fh:
            if self.format == "csv":
                header_line = fh.readline()
                self.delimiter = max((",", ";", "\t"), key=header_line.count)
                header = next(csv.reader([header_line], delimiter=self.delimiter), [])
                return [column.strip().lower() for column in header]
            for line in fh:
                if line.strip():
                    try:
                        first = json.loads(line)
                    except ValueError:
                        return []
                    return [str(k).lower() for k in first] if isinstance(first, dict) else []
        return []

    def members(self, since: datetime | None = None) -> Iterator[SourceRow]:
        return self._records("members", since)

    def claims(self, since: datetime | None = None) -> Iterator[SourceRow]:
        return self._records("claims", since)

    def records(self) -> Iterator[SourceRow]:
        """The records of this file's kind."""
        return self._records(self.kind, None)

    def _records(self, kind: str, since: datetime | None) -> Iterator[SourceRow]:
        if kind != self.kind:
            return iter(())
        rows = self._csv_rows() if self.format == "csv" else self._jsonl_rows()
        if since is None:
            return rows
        return (row for row in rows if row.error or _changed_since(row.data, since))

    def _csv_rows(self) -> Iterator[SourceRow]:
        with self._open() as fh:
            reader = csv.reader(fh, delimiter=self.delimiter)
            header = next(reader, None)
            if header is None:
                return
            width = len(header)
            while True:
                line = reader.line_num + 1  # where this record starts (quoted fields may span lines)
                try:
                    cells = next(reader)
                except StopIteration:
                    return
                except csv.Error as exc:
                    yield SourceRow(line, {}, _("Unreadable CSV: %(error)s", error=str(exc)))
                    continue
                if not cells or all(not cell.strip() for cell in cells):
                    continue  # blank lines are not records
                if len(cells) != width:
                    yield SourceRow(
                        line,
                        _row_preview(header, cells),
                        _(
                            "Expected %(expected)d columns, found %(found)d.",
                            expected=width,
                            found=len(cells),
                        ),
                    )
                    continue
                if _not_utf8("\x00".join(cells)):
                    yield SourceRow(line, _row_preview(header, cells), _("The row is not valid UTF-8 text."))
                    continue
                yield SourceRow(line, dict(zip(self.columns, cells, strict=True)))

    def _jsonl_rows(self) -> Iterator[SourceRow]:
        with self._open() as fh:
            for line, text in enumerate(fh, start=1):
                if not text.strip():
                    continue
                if _not_utf8(text):
                    yield SourceRow(line, {}, _("The line is not valid UTF-8 text."))
                    continue
                try:
                    data = json.loads(text)
                except json.JSONDecodeError as exc:
                    yield SourceRow(line, {}, _("Not valid JSON: %(error)s", error=exc.msg))
                    continue
                if not isinstance(data, dict):
                    yield SourceRow(line, {}, _("Each line must be a JSON object."))
                    continue
                yield SourceRow(line, {str(k).lower(): v for k, v in data.items()})


# Undecodable bytes read with errors="surrogateescape" become lone surrogates U+DC80–U+DCFF.
_ESCAPED_BYTES = re.compile("[\udc80-\udcff]")


def _not_utf8(text: str) -> bool:
    return _ESCAPED_BYTES.search(text) is not None


def _row_preview(header: list[str], cells: list[str]) -> dict[str, Any]:
    """Enough of a broken row to name its key in the report."""
    names = [column.strip().lower() for column in header]
    return {name: cell for name, cell in zip(names, cells, strict=False) if name in ("kpj", "claim_number")}


def _changed_since(data: dict[str, Any], since: datetime) -> bool:
    stamp = data.get("updated_at")
    if not stamp:
        return True
    try:
        value = datetime.fromisoformat(str(stamp))
    except ValueError:
        return True  # unreadable stamp: import it rather than silently skip it
    if value.tzinfo is None or since.tzinfo is None:
        return value.replace(tzinfo=None) >= since.replace(tzinfo=None)
    return value >= since
