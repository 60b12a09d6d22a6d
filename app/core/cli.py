"""``flask jobs …`` (rq worker with the periodic jobs and outbox dispatcher) and ``flask pii …``."""

from __future__ import annotations

import click
from flask import Blueprint, current_app
from rq import Queue

from app.core import jobs, scheduler
from app.core import worker as rq_worker
from app.extensions import db

jobs_cli = Blueprint("jobs_cli", __name__, cli_group="jobs")
pii_cli = Blueprint("pii_cli", __name__, cli_group="pii")
jobs_cli.cli.help = "Background work: the rq worker and its status.\n\nThe worker runs rq with its scheduler, the outbox dispatcher and the background loops."
pii_cli.cli.help = "Encryption keys for personal data at rest.\n\nMake a key for PII_ENCRYPTION_KEYS; re-encrypt everything under the first key."


OUTBOX_JOBS = ("outbox", "outbox-recovery")


@jobs_cli.cli.command("worker")
@click.argument("queues", nargs=-1)
@click.option("--burst", is_flag=True, help="Stop when the queues are empty.")
@click.option("--no-dispatcher", is_flag=True, help="Do not run the outbox dispatcher (and its recovery) here.")
@click.option(
    "--without",
    "without",
    multiple=True,
    help="Do not run this periodic job here (see `flask jobs loops`); repeatable.",
)
def worker(queues: tuple[str, ...], burst: bool, no_dispatcher: bool, without: tuple[str, ...]) -> None:
    """Run an rq worker (with rq's scheduler of delayed jobs) and every periodic job."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    skipped = set(without) | (set(OUTBOX_JOBS) if no_dispatcher else set())
    rq_worker.serve(app, queues or jobs.QUEUES, burst=burst, without=skipped)


@jobs_cli.cli.command("loops")
def loops() -> None:
    """List the periodic jobs a worker runs besides rq, with their periods."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    for name, job in scheduler.periodic_jobs(app).items():
        click.echo(f"{name}\tevery {job.period(app):g} s ({job.setting})\t{job.summary}")


@jobs_cli.cli.command("dispatcher")
def dispatcher() -> None:
    """Run only the outbox dispatcher and its recovery (for deployments that scale it separately)."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    table = scheduler.periodic_jobs(app)
    runner = scheduler.Scheduler(app, [table[name] for name in OUTBOX_JOBS])
    runner.start()
    try:
        while not runner.stop_event.wait(3600):
            pass
    except KeyboardInterrupt:
        runner.stop()


@jobs_cli.cli.command("status")
def status() -> None:
    """Pending outbox intents and queue depths."""
    from redis.exceptions import RedisError
    from sqlalchemy import func, select

    counts = dict(
        db.session.execute(
            select(jobs.OutboxIntent.status, func.count()).group_by(jobs.OutboxIntent.status)
        ).all()
    )
    summary = ", ".join(f"{k}={v}" for k, v in sorted(counts.items()))
    click.echo(f"outbox: {summary or 'empty'}")
    connection = jobs.redis_connection()
    for name in jobs.QUEUES:
        try:
            depth: object = Queue(name, connection=connection).count
        except RedisError as exc:
            depth = f"unavailable ({type(exc).__name__})"
        click.echo(f"queue {name}: {depth}")


@jobs_cli.cli.command("requeue-failed")
@click.argument("intent_ids", nargs=-1, type=int)
def requeue_failed(intent_ids: tuple[int, ...]) -> None:
    """Give failed intents (all, or the ids given) back to the dispatcher."""
    count = jobs.requeue_failed(list(intent_ids) if intent_ids else None)
    db.session.commit()
    click.echo(f"requeued {count} failed intent(s)")


@pii_cli.cli.command("generate-key")
def generate_key() -> None:
    """Print a new Fernet key for PII_ENCRYPTION_KEYS."""
    from app.core.crypto import generate_key as new_key

    click.echo(new_key())


@pii_cli.cli.command("rotate")
def rotate() -> None:
    """Re-encrypt all PII under the first key and recompute every keyed hash."""
    from app.core.pii import rotate_all

    report = rotate_all()
    click.echo(f"rotated {report.values} values in {report.tables} tables; recomputed {report.hashes} hashes")
