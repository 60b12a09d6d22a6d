"""``flask jobs …`` (rq worker with scheduler and outbox dispatcher) and ``flask pii …``."""

from __future__ import annotations

import os
import threading

import click
from flask import Blueprint, current_app
from rq import Queue, SimpleWorker, Worker

from app.core import jobs
from app.core import worker as rq_worker
from app.core.realtime import use_write_only_emitter
from app.extensions import db

jobs_cli = Blueprint("jobs_cli", __name__, cli_group="jobs")
pii_cli = Blueprint("pii_cli", __name__, cli_group="pii")
jobs_cli.cli.help = "Background work: the rq worker and its status.\n\nThe worker runs rq with its scheduler, the outbox dispatcher and the background loops."
pii_cli.cli.help = "Encryption keys for personal data at rest.\n\nMake a key for PII_ENCRYPTION_KEYS; re-encrypt everything under the first key."


@jobs_cli.cli.command("worker")
@click.argument("queues", nargs=-1)
@click.option("--burst", is_flag=True, help="Stop when the queues are empty.")
@click.option("--no-dispatcher", is_flag=True, help="Do not run the outbox dispatcher here.")
@click.option(
    "--without",
    "without",
    multiple=True,
    help="Do not run this background loop here (see `flask jobs loops`); repeatable.",
)
def worker(queues: tuple[str, ...], burst: bool, no_dispatcher: bool, without: tuple[str, ...]) -> None:
    """Run an rq worker (with the scheduler), the outbox dispatcher and the background loops."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    use_write_only_emitter(app)
    engine = db.engine
    # The work horse is a fork: it must not share the parent's pooled connections.
    os.register_at_fork(after_in_child=lambda: engine.dispose(close=False))
    connection = jobs.redis_connection(app)
    stop = threading.Event()
    loops = {"outbox": jobs.run_dispatcher, **jobs.BACKGROUND_LOOPS}
    skipped = set(without) | ({"outbox"} if no_dispatcher else set())
    threads = []
    for name, loop in loops.items():
        if name in skipped:
            continue
        thread = threading.Thread(target=loop, args=(app, stop), name=f"loop-{name}", daemon=True)
        thread.start()
        threads.append(thread)
    # SQLite keeps its file locks' state inside the process: a work horse forked while a loop
    # thread (the outbox dispatcher, the simulator's SMS reports) was inside a transaction
    # inherits a lock that nobody holds and waits for it until "database is locked". On SQLite
    # (the embedded default) jobs therefore run in this process, one at a time, without a fork.
    worker_class = SimpleWorker if engine.dialect.name == "sqlite" else Worker
    try:
        rq_worker.run(connection, queues or jobs.QUEUES, burst=burst, stop=stop, worker_class=worker_class)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=5)


@jobs_cli.cli.command("loops")
def loops() -> None:
    """List the background loops a worker runs besides rq."""
    click.echo("outbox\tmoves recorded intents into rq")
    for name, loop in jobs.BACKGROUND_LOOPS.items():
        click.echo(f"{name}\t{(loop.__doc__ or '').strip().splitlines()[0] if loop.__doc__ else ''}")


@jobs_cli.cli.command("dispatcher")
def dispatcher() -> None:
    """Run only the outbox dispatcher (for deployments that scale it separately)."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    stop = threading.Event()
    try:
        jobs.run_dispatcher(app, stop)
    except KeyboardInterrupt:
        stop.set()


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
