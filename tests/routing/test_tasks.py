"""The periodic router tick: an rq cron job, run by the ordinary rq worker."""

from __future__ import annotations

from datetime import timedelta

from rq import Queue, SimpleWorker
from rq.cron import CronScheduler
from sqlalchemy import select, update

from app.agents import routing
from app.agents.models import AgentPresence, WorkItem
from app.core.time import utcnow
from app.extensions import db


def test_the_tasks_module_is_the_rq_cron_configuration(app, redis_conn):
    scheduler = CronScheduler(connection=redis_conn)
    scheduler.load_config_from_file("app.agents.tasks")
    jobs = [(job.func_name, job.interval, job.queue_name) for job in scheduler.get_jobs()]
    assert jobs == [("app.agents.tasks.tick", 2, "default")]


def test_an_rq_worker_runs_the_tick_and_expired_offers_move_on(app, redis_conn, agent_factory):
    silent = agent_factory()
    routing.enqueue("call", 1, language="id", topic="other")
    db.session.commit()
    other = agent_factory()
    silent_id, other_id = silent.id, other.id  # the job ends the session: keep plain ids
    # The offer to the silent agent ran out a while ago.
    db.session.execute(
        update(WorkItem)
        .values(offer_expires_at=utcnow() - timedelta(seconds=1))
        .execution_options(synchronize_session=False)
    )
    db.session.commit()

    queue = Queue("default", connection=redis_conn)
    queue.enqueue("app.agents.tasks.tick")
    SimpleWorker([queue], connection=redis_conn).work(burst=True)

    db.session.expire_all()
    work = db.session.scalar(select(WorkItem))
    assert work is not None and work.agent_id == other_id
    assert db.session.get(AgentPresence, silent_id).state == "away"  # type: ignore[union-attr]
