"""``flask users …``: staff accounts from the command line."""

from __future__ import annotations

import click
from flask import Blueprint
from sqlalchemy import select

from app.core.policy import ROLES
from app.extensions import db
from app.staff import services
from app.staff.models import User

cli = Blueprint("users", __name__, cli_group="users")
cli.cli.help = "Staff accounts: create (the first admin too), list.\n\nAgents, supervisors and administrators sign in at /login."


@cli.cli.command("create")
@click.option("--email", required=True)
@click.option("--name", default="")
@click.option("--role", type=click.Choice(ROLES), default="agent", show_default=True)
@click.option("--language", type=click.Choice(["id", "en"]), default="id", show_default=True)
# Given once on the command line it is taken as is; left out, it is prompted for twice.
@click.password_option(help="At least 10 characters; prompted for (twice) when not given.")
def create(email: str, name: str, role: str, language: str, password: str) -> None:
    """Create a staff account."""
    try:
        user = services.create_user(email, name, password, role, language)
    except services.UserError as exc:
        db.session.rollback()
        raise click.ClickException(str(exc)) from exc
    db.session.commit()
    click.echo(f"created {user.role} {user.email} (id {user.id})")


@cli.cli.command("list")
def list_users() -> None:
    """List staff accounts."""
    for user in db.session.scalars(select(User).order_by(User.id)):
        state = "active" if user.active else "disabled"
        click.echo(f"{user.id}\t{user.role}\t{state}\t{user.email}\t{user.name}")
