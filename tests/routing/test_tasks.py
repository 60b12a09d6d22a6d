"""The periodic router tick: the scheduler's job ``router``; as an rq job it works too."""

from __future__ import annotations

from datetime import timedelta

from rq import Queue, SimpleWorker
from sqlalchemy import select, update

from app.agents import routing
from app.agents.models import AgentPresence, WorkItem
from app.core.time import utcnow
from app.extensions import db


def test_the_tick_is_a_periodic_job_at_router_tick_seconds(app):
    from app.agents.tasks import tick
    from app.core.scheduler import periodic_jobs

    job = periodic_jobs(app)["router"]
    assert job.step is tick and job.setting == "ROUTER_TICK_SECONDS"
    app.config["ROUTER_TICK_SECONDS"] = 0.5
    assert job.period(app) == 0.5


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
