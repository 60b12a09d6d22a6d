"""``flask records …``: load the membership mirror from the agency's exports."""

from __future__ import annotations

from pathlib import Path

import click
from flask import Blueprint

from app.extensions import db
from app.records.importer import format_report, import_file
from app.records.sync import DEFAULT_BATCH_SIZE, KINDS, SourceError

cli = Blueprint("records_cli", __name__, cli_group="records")


@cli.cli.command("import")
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
    """Import member or claim records from a CSV or JSON Lines FILE (idempotent upsert).

    Members are keyed by KPJ, claims by claim number; import members before their claims.
    Each batch is committed as it is written, so an interrupted import keeps what it did and a
    re-run skips the rows already stored (they count as unchanged).
    """
    try:
        report, written = import_file(
            file, kind, report_path, batch_size=batch_size, on_batch=db.session.commit, workers=workers
        )
    except SourceError as exc:
        raise click.ClickException(str(exc)) from exc
    db.session.commit()
    for line in format_report(report, written):
        click.echo(line)
