"""``flask sla …``: default policies, recomputing due times, one sweep by hand."""

from __future__ import annotations

import click
from flask import Blueprint
from sqlalchemy import select

from app.extensions import db
from app.sla import services
from app.sla.sweep import sweep
from app.tickets.models import OPEN_STATUSES, Ticket

cli = Blueprint("sla_cli", __name__, cli_group="sla")
cli.cli.help = "SLA policies and business calendars.\n\nInstall the defaults, re-apply them to open tickets, sweep for breaches now."


@cli.cli.command("install-defaults")
def install_defaults_command() -> None:
    """Create the default calendars and policies that are missing (by name)."""
    created = services.install_defaults()
    db.session.commit()
    click.echo(f"{created} calendars/policies created")


@cli.cli.command("recompute")
@click.option("--batch-size", default=500, show_default=True, type=click.IntRange(1, 10_000))
def recompute_command(batch_size: int) -> None:
    """Re-apply policies and calendars to every open ticket (after an edit, or for old tickets).

    Tickets without a policy choose one; the others keep their promise but have their due
    times counted again on the calendar as it is now. Committed in batches.
    """
    last_id, done = 0, 0
    while True:
        batch = db.session.scalars(
            select(Ticket)
            .where(Ticket.id > last_id, Ticket.status.in_(OPEN_STATUSES), Ticket.merged_into_id.is_(None))
            .order_by(Ticket.id)
            .limit(batch_size)
        ).all()
        if not batch:
            break
        for ticket in batch:
            services.reconcile(ticket, rematch=ticket.sla_policy_id is None)
            last_id = ticket.id
        db.session.commit()
        done += len(batch)
    click.echo(f"{done} open tickets recomputed")


@cli.cli.command("sweep")
def sweep_command() -> None:
    """Run the breach sweep now until nothing is due (the worker runs it every SLA_SWEEP_SECONDS)."""
    warnings = breaches = 0
    while True:
        result = sweep()
        db.session.commit()
        warnings, breaches = warnings + result.warnings, breaches + result.breaches
        if not result.full:
            break
    click.echo(f"{warnings} warnings, {breaches} breaches recorded")
