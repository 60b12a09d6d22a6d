"""CI runs the suite twice, on SQLite and on PostgreSQL, and gives each test that does not depend
on the database to one of the two (``.ci/run``). Checked here: every test is in at least one of
CI's runs, the browser tests and the database-independent ones in exactly one.

Collection only, in subprocesses with CI's selection (``TEST_ONCE_ON=postgresql``; the PostgreSQL
run adds ``-m "not browser"``); nothing connects to a database while collecting.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
CI_ARGS = re.compile(r'postgres_suite\(\).*?run\.py test ([^\n]*)', re.S)

pytestmark = [pytest.mark.slow, pytest.mark.database_independent]  # runs once, collects both


def _collected(database_url: str | None, *args: str) -> tuple[set[str], int]:
    """The test ids one of CI's runs collects, and how many it deselects."""
    env = {key: value for key, value in os.environ.items() if key != "TEST_DATABASE_URL"}
    env["TEST_ONCE_ON"] = "postgresql"
    if database_url:
        env["TEST_DATABASE_URL"] = database_url
    done = subprocess.run(  # noqa: S603 - our own interpreter and pytest
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *args, "tests"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    deselected = re.search(r"(\d+) deselected", done.stdout)
    return {line for line in done.stdout.splitlines() if "::" in line}, int(deselected.group(1)) if deselected else 0


def test_every_test_runs_in_one_of_cis_two_runs_and_pages_and_packaging_in_exactly_one():
    ci = (ROOT / ".ci" / "run").read_text()
    assert "export TEST_ONCE_ON=postgresql" in ci
    found = CI_ARGS.search(ci)
    assert found and '-m "not browser"' in found.group(1)  # what the run below copies

    sqlite, left_out = _collected(None)
    postgres, _ = _collected(POSTGRES_URL, "-m", "not browser")
    assert len(sqlite | postgres) == len(sqlite) + left_out  # what SQLite leaves out, PostgreSQL runs

    pages = {test for test in sqlite if test.startswith("tests/browser/")}
    assert pages and not pages & postgres
    packaging = {test for test in postgres if test.startswith("tests/test_packaging.py::test_fresh_clone")}
    assert packaging and not packaging & sqlite
