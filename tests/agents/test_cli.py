"""``flask users create`` / ``flask users list``.

``--password`` is a ``click.password_option``: given once on the command line it is used as
is (no confirmation); left out, it is prompted for twice and both entries must match.
"""

from __future__ import annotations

from sqlalchemy import func, select

from app.extensions import db
from app.staff.models import User
from tests.agents.helpers import audit_events


def run(app, *args: str, input: str | None = None):  # type: ignore[no-untyped-def]
    return app.test_cli_runner().invoke(args=["users", *args], input=input)


def user_count() -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count(User.id))) or 0


def test_create_with_password_option(app):
    result = run(
        app,
        "create",
        "--email",
        "Rina@halopmi.local",
        "--name",
        "Rina",
        "--role",
        "supervisor",
        "--language",
        "en",
        "--password",
        "long enough password",
    )
    assert result.exit_code == 0, result.output
    user = db.session.scalar(select(User).where(User.email == "rina@halopmi.local"))
    assert user is not None
    assert (user.name, user.role, user.language, user.active) == ("Rina", "supervisor", "en", True)
    assert user.check_password("long enough password")
    assert f"created supervisor rina@halopmi.local (id {user.id})" in result.output
    [event] = audit_events("user.create")
    assert event.entity_id == str(user.id) and event.actor_id is None


def test_password_is_prompted_twice_when_not_given(app):
    result = run(
        app, "create", "--email", "budi@halopmi.local", input="a prompted secret\na prompted secret\n"
    )
    assert result.exit_code == 0, result.output
    assert "Password: " in result.output and "Repeat for confirmation: " in result.output
    user = db.session.scalar(select(User).where(User.email == "budi@halopmi.local"))
    assert user is not None and user.role == "agent" and user.check_password("a prompted secret")


def test_mismatched_password_confirmation_creates_nothing(app):
    result = run(app, "create", "--email", "budi@halopmi.local", input="first secret one\nanother secret\n")
    assert result.exit_code != 0
    assert user_count() == 0


def test_duplicate_email_is_rejected(app):
    args = ("create", "--email", "sari@halopmi.local", "--password", "long enough password")
    assert run(app, *args).exit_code == 0
    result = run(app, "create", "--email", "SARI@halopmi.local", "--password", "another long password")
    assert result.exit_code == 1
    assert "already exists" in result.output
    assert user_count() == 1


def test_short_password_is_rejected(app):
    result = run(app, "create", "--email", "sari@halopmi.local", "--password", "123456789")
    assert result.exit_code == 1
    assert "at least 10 characters" in result.output
    assert user_count() == 0


def test_unknown_role_is_rejected(app):
    result = run(
        app, "create", "--email", "sari@halopmi.local", "--role", "root", "--password", "long enough password"
    )
    assert result.exit_code == 2
    assert user_count() == 0


def test_list_shows_accounts_and_their_state(app):
    run(app, "create", "--email", "a@halopmi.local", "--role", "admin", "--password", "long enough password")
    run(app, "create", "--email", "b@halopmi.local", "--password", "long enough password")
    db.session.scalar(select(User).where(User.email == "b@halopmi.local")).active = False
    db.session.commit()
    lines = run(app, "list").output.strip().splitlines()
    assert [line.split("\t")[1:4] for line in lines] == [
        ["admin", "active", "a@halopmi.local"],
        ["agent", "disabled", "b@halopmi.local"],
    ]
