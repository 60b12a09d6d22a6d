"""``flask records …``: load the membership mirror from the agency's exports."""

from __future__ import annotations

import textwrap
from pathlib import Path

import click
from flask import Blueprint

from app.extensions import db
from app.records.importer import format_report, import_file
from app.records.schemas import CLAIM_COLUMNS, CLAIM_REQUIRED, MEMBER_COLUMNS, MEMBER_REQUIRED
from app.records.sync import DEFAULT_BATCH_SIZE, KINDS, SourceError

cli = Blueprint("records_cli", __name__, cli_group="records")
cli.cli.help = "Import member and claim records.\n\nThe membership mirror, loaded from the agency's exports (CSV or JSON Lines)."

# Exit status of `flask records import` when the file was imported but some rows were not.
EXIT_ROWS_REJECTED = 3


def _columns(title: str, columns: tuple[str, ...], required: tuple[str, ...]) -> str:
    names = ", ".join(f"{column} (required)" if column in required else column for column in columns)
    return textwrap.fill(f"{title}: {names}.", width=76, subsequent_indent="  ")


IMPORT_HELP = f"""Import member or claim records from a CSV or JSON Lines FILE (idempotent upsert).

A CSV file has a header row (separated by , ; or tab); a JSON Lines file has one object per
line with the same names. A file holds one kind: claim_number among the columns means claims.
Other columns are ignored (and named in the summary).

\b
{_columns("Member columns", MEMBER_COLUMNS, MEMBER_REQUIRED)}

\b
{_columns("Claim columns", CLAIM_COLUMNS, CLAIM_REQUIRED)}

Members are keyed by KPJ, claims by claim number; import members before their claims.
Each batch is committed as it is written, so an interrupted import keeps what it did and a
re-run skips the rows already stored (they count as unchanged).

Every rejected row goes to the report (--report, default FILE.rejects.csv): its line, key,
reason code and reason, and the row itself as it stands in the file, to correct and import again.

\b
Exit status: 0  every row imported
             {EXIT_ROWS_REJECTED}  imported, but some rows were rejected (see the report)
             1  nothing imported: the file is missing or lacks a required column
"""


@cli.cli.command("import", help=IMPORT_HELP)
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--kind", type=click.Choice(KINDS), help="members or claims (default: from the header).")
@click.option(
    "--report",
    "report_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write every rejected row (default: FILE.rejects.csv).",
)
@click.option("--batch-size", default=DEFAULT_BATCH_SIZE, show_default=True, type=click.IntRange(1, 50_000))
@click.option(
    "--workers",
    type=click.IntRange(0, 64),
    help="Validation processes beside the writer (0: none; default: one per core for large files).",
)
def import_command(
    file: Path, kind: str | None, report_path: Path | None, batch_size: int, workers: int | None
) -> None:
    try:
        report, written = import_file(
            file, kind, report_path, batch_size=batch_size, on_batch=db.session.commit, workers=workers
        )
    except SourceError as exc:
        raise click.ClickException(str(exc)) from exc
    db.session.commit()
    for line in format_report(report, written):
        click.echo(line)
    if report.rejected:
        raise SystemExit(EXIT_ROWS_REJECTED)
