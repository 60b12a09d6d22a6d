"""``held_data`` (tests/conftest.py): data seeded once for a group of tests, each test in a
SAVEPOINT of its own, all of it rolled back when the group ends, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.staff.models import User
from tests.conftest import held_data
from tests.factories import make_user


def _emails() -> list[str]:
    return sorted(db.session.scalars(select(User.email)))


@pytest.fixture(scope="class")
def seeded(_session_app, _process_state):  # type: ignore[no-untyped-def]
    with held_data("seeded", _session_app, _process_state) as holding:
        make_user(email="seeded@example.org")
        db.session.commit()
        holding.seeded()
        yield


class TestHeld:
    def test_a_test_sees_the_seed_and_commits_more(self, app, seeded):  # type: ignore[no-untyped-def]
        assert _emails() == ["seeded@example.org"]
        make_user(email="written@example.org")
        db.session.commit()
        assert _emails() == ["seeded@example.org", "written@example.org"]

    def test_what_the_previous_test_committed_is_gone(self, app, seeded):  # type: ignore[no-untyped-def]
        assert _emails() == ["seeded@example.org"]
        user = db.session.scalar(select(User).where(User.email == "seeded@example.org"))
        db.session.delete(user)
        db.session.commit()
        assert _emails() == []

    def test_and_what_it_deleted_is_back(self, app, seeded):  # type: ignore[no-untyped-def]
        assert _emails() == ["seeded@example.org"]


def test_the_seed_is_rolled_back_when_the_group_ends(app):  # type: ignore[no-untyped-def]
    assert db.session.scalar(select(func.count(User.id))) == 0
