"""A short soak: half a minute of mixed traffic on real processes grows nothing and loses nothing.

See :mod:`tests.soak` for the processes and the traffic; ``bench/bench_soak.py`` runs the same
for minutes and prints every sample. After a warm-up, the web process and the worker must not
gain threads, open files or database connections, nor more memory than a warm Python process
drifts by; afterwards every call has ended and every complaint's SMS went out once.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from app.telephony.signature import webhook_token
from config import TestingConfig
from tests.services import RedisServer
from tests.soak import Soak

pytestmark = [pytest.mark.slow, pytest.mark.committed]  # other processes read and write the database

WARM_UP = 8.0
SECONDS = 24.0
INTERVAL = 4.0
RSS_DRIFT_KB = 25 * 1024  # a warm CPython process's heap settles within this (allocator, caches)


@pytest.fixture
def soak(app) -> Iterator[Soak]:  # type: ignore[no-untyped-def]
    redis = RedisServer().start()
    run = Soak(TestingConfig.SQLALCHEMY_DATABASE_URI, redis.url, webhook_token(app), clients=2)
    try:
        run.start()
        yield run
    finally:
        run.stop()
        redis.stop()


def test_half_a_minute_of_mixed_traffic_grows_nothing_and_loses_nothing(soak):
    soak.run(SECONDS, INTERVAL)
    left = soak.drain(timeout=30)
    warm = next(s for s in soak.samples if s.at - soak.samples[0].at >= WARM_UP - INTERVAL)
    last = soak.samples[-1]
    figures = "\n".join(
        f"{s.at - soak.samples[0].at:5.1f}s {s.requests:5d} req  web {s.web}  worker {s.worker}  "
        f"db {s.db_connections}  pending {s.pending_intents}" for s in soak.samples
    )
    report = f"{figures}\nerrors: {soak.totals.errors[:5]}\n{soak.logs()}"

    assert soak.totals.errors == [], report
    assert soak.totals.refused == {}, report  # no 4xx: the traffic is valid
    assert last.requests > 200, report  # it did run (a few hundred requests at least)
    assert left == 0, report
    assert soak.lost_work() == {}, report
    sent = soak.messages_sent()
    assert sum(sent.values()) == len(soak.totals.complaints), report  # each complaint's SMS, once

    for name in ("web", "worker"):
        before, after = getattr(warm, name), getattr(last, name)
        assert after["threads"] <= before["threads"] + 2, f"{name} gained threads\n{report}"
        assert after["fds"] <= before["fds"] + 10, f"{name} gained open files\n{report}"
        assert after["rss_kb"] - before["rss_kb"] <= RSS_DRIFT_KB, f"{name} memory grew\n{report}"
        assert last.db_connections[name] <= max(warm.db_connections[name], 1) + 1, f"{name} connections\n{report}"
    print(f"\n{figures}\n{len(soak.totals.calls)} calls, {len(soak.totals.complaints)} complaints; "
          f"p50 {soak.latency_ms(0.5):.0f} ms, p99 {soak.latency_ms(0.99):.0f} ms")
