"""Job functions for the outbox tests: their effect is an audit row, so "ran once" is a count.

They run through :func:`app.core.jobs.run_intent` (by dotted name), inside its transaction.
"""

from __future__ import annotations

from collections import Counter

from app.core import audit

ACTION = "test.job"

# Attempts per marker, across retries (SimpleWorker runs jobs in this process).
attempts: Counter[str] = Counter()


def write_marker(marker: str) -> None:
    attempts[marker] += 1
    audit.record(ACTION, "test", marker)


def fail_first(marker: str, failures: int) -> None:
    """Fail the first ``failures`` attempts (after writing: the write must roll back)."""
    attempts[marker] += 1
    audit.record(ACTION, "test", marker)
    if attempts[marker] <= failures:
        raise RuntimeError(f"attempt {attempts[marker]} failed calling +6281234567890")


def slow_marker(marker: str, seconds: float) -> None:
    """Take a while (so a test can pull Redis away while it runs), then write."""
    import time

    time.sleep(seconds)
    audit.record(ACTION, "test", marker)
