"""Import member or claim records from a CSV or JSON Lines file (``flask records import``).

The file is read by :class:`~app.records.sync.FileSource` and written by
:func:`~app.records.sync.apply_records`, the same upsert any future sync uses. Every rejected
row goes to a CSV report (line, key, code, reason, and the row itself as it stands in the file)
so that none silently disappears and each can be corrected from the report; the summary names
the first few. The caller decides when to commit: the CLI commits per batch.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Callable, Iterator
from pathlib import Path

from app.core.i18n import _
from app.records.sync import (
    DEFAULT_BATCH_SIZE,
    SAMPLE_SIZE,
    FileSource,
    ImportReport,
    Rejection,
    apply_records,
)


def default_report_path(path: str | Path) -> Path:
    """``members.csv`` → ``members.csv.rejects.csv`` next to the input."""
    path = Path(path)
    return path.with_name(path.name + ".rejects.csv")


# Below this size starting worker processes (about a second) costs more than it saves.
PARALLEL_FROM_BYTES = 2_000_000


def default_workers(path: Path) -> int:
    """Validation processes for ``path``: none for a small file, else one per core.

    Validating a member costs about as much CPU as writing it. Measured on 2 cores, one
    worker per core beat both no workers and one worker for first imports and re-imports
    alike (the writer mostly waits on the database, so it shares a core well).
    """
    cores = os.cpu_count() or 1
    if path.stat().st_size < PARALLEL_FROM_BYTES or cores < 2:
        return 0
    return min(cores, 8)


def import_file(
    path: str | Path,
    kind: str | None = None,
    report_path: str | Path | None = None,
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    on_batch: Callable[[], None] | None = None,
    workers: int | None = None,
) -> tuple[ImportReport, Path]:
    """Import one file; return the report and where the rejected rows were written.

    ``kind`` (members / claims) overrides detection by header. ``workers``: validation
    processes beside this one (0: validate here); by default one per core for files over a
    few MB. Raises
    :class:`~app.records.sync.SourceError` when the file as a whole is unusable (missing,
    required columns absent); row problems are rejections in the report instead.
    """
    source = FileSource(path, kind)
    if workers is None:
        workers = default_workers(source.path)
    target = Path(report_path) if report_path else default_report_path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    rejections: list[Rejection] = []
    try:
        report = apply_records(
            source.records(),
            source.kind,
            batch_size=batch_size,
            on_batch=on_batch,
            on_reject=rejections.append,
            workers=workers,
        )
    finally:  # an interrupted import still reports what it rejected so far
        write_rejects(target, source, rejections)
    report.ignored_columns = source.ignored_columns
    return report, target


REPORT_COLUMNS = ["line", "key", "code", "reason", "row"]


def write_rejects(target: Path, source: FileSource, rejections: list[Rejection]) -> None:
    """The report: one line per rejection in file order, ending with the rejected record as
    it stands in the file (column ``row``: the CSV line(s) or the JSON line, even when it could
    not be read; a byte that is not UTF-8 shows as ``\\xe9``), so it can be corrected and
    imported again."""
    rejections = sorted(rejections, key=lambda rejection: rejection.line)
    wanted = {rejection.line for rejection in rejections}
    originals = {line: text for line, text in _raw_records(source) if line in wanted} if wanted else {}
    # The report holds values such as the KPJ: readable by its owner only.
    with target.open("w", encoding="utf-8", newline="") as fh:
        target.chmod(0o600)
        writer = csv.writer(fh)
        writer.writerow(REPORT_COLUMNS)
        for rejection in rejections:
            writer.writerow(
                [rejection.line, rejection.key or "", rejection.code, rejection.reason, originals.get(rejection.line, "")]
            )


def _raw_records(source: FileSource) -> Iterator[tuple[int, str]]:
    """(first line number, text) of each record in the file, numbered as FileSource numbers
    them (a quoted CSV field may span lines; a JSON Lines record is one line)."""
    with source.path.open(encoding="utf-8-sig", errors="surrogateescape", newline="") as fh:
        if source.format != "csv":
            for number, text in enumerate(fh, start=1):
                yield number, _readable(text.rstrip("\r\n"))
            return
        consumed: list[str] = []

        def lines() -> Iterator[str]:
            for text in fh:
                consumed.append(text)
                yield text

        reader = csv.reader(lines(), delimiter=source.delimiter)
        line = 1
        while True:
            consumed.clear()
            try:
                next(reader)
            except StopIteration:
                return
            except csv.Error:
                pass  # unreadable: its text is still reported
            if not consumed:
                return
            yield line, _readable("".join(consumed).rstrip("\r\n"))
            line += len(consumed)


def _readable(text: str) -> str:
    """Bytes that were not UTF-8 (kept by surrogateescape) as ``\\xNN``: the report stays UTF-8."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def format_report(report: ImportReport, report_path: Path | None = None) -> list[str]:
    """Human-readable summary lines (English source text, translatable)."""
    lines = [
        _(
            "%(kind)s: %(read)d read, %(created)d created, %(updated)d updated, "
            "%(unchanged)d unchanged, %(rejected)d rejected.",
            kind=report.kind,
            read=report.read,
            created=report.created,
            updated=report.updated,
            unchanged=report.unchanged,
            rejected=report.rejected,
        )
    ]
    if report.ignored_columns:
        lines.append(_("Ignored unknown columns: %(columns)s", columns=", ".join(report.ignored_columns)))
    if report.duplicates:
        lines.append(
            _(
                "%(n)d key(s) appear more than once; the later row won and counted as an update (or unchanged if identical):",
                n=len(report.duplicates),
            )
        )
        for duplicate in report.duplicates[:SAMPLE_SIZE]:
            lines.append(
                _(
                    "  line %(line)d: %(key)s (first on line %(first)d)",
                    line=duplicate.line,
                    key=duplicate.key,
                    first=duplicate.first_line,
                )
            )
    if report.warnings:
        counts = ", ".join(f"{code} {count}" for code, count in sorted(report.warnings.items()))
        lines.append(_("Warnings (imported anyway): %(counts)s", counts=counts))
        for line, key, message in report.warning_examples:
            lines.append(_("  line %(line)d: %(key)s: %(message)s", line=line, key=key, message=message))
    if report.rejected:
        shown = len(report.rejections)
        lines.append(_("Rejected rows (first %(shown)d of %(total)d):", shown=shown, total=report.rejected))
        for rejection in report.rejections:
            lines.append(
                _(
                    "  line %(line)d: %(key)s: %(reason)s",
                    line=rejection.line,
                    key=rejection.key or "-",
                    reason=rejection.reason,
                )
            )
    if report_path is not None:
        lines.append(_("All rejected rows: %(path)s", path=str(report_path)))
    return lines
