"""Login and logout, and the staff home page."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user

from app.agents import services
from app.agents.forms import LoginForm
from app.agents.policy import allowed
from app.extensions import db, limiter

bp = Blueprint("agents", __name__)


def _safe_next(target: str | None) -> str | None:
    """Only same-site relative paths: never an open redirect."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT"], methods=["POST"])
def login():  # type: ignore[no-untyped-def]
    if current_user.is_authenticated:
        return redirect(url_for("agents.home"))
    form = LoginForm()
    status = 200
    if form.validate_on_submit():
        user = services.authenticate(form.email.data or "", form.password.data or "")
        db.session.commit()
        if user is not None:
            login_user(user, remember=bool(form.remember.data))
            return redirect(_safe_next(request.args.get("next")) or url_for("agents.home"))
        form.password.errors = [_("Wrong email or password.")]
        status = 401
    elif request.method == "POST":
        status = 422
    return render_template("agents/login.html", form=form), status


@bp.route("/logout", methods=["POST"])
@login_required
def logout():  # type: ignore[no-untyped-def]
    logout_user()
    flash(_("You are signed out."), "info")
    return redirect(url_for("agents.login"))


@bp.route("/staff/")
@login_required
def home():  # type: ignore[no-untyped-def]
    return render_template(
        "agents/home.html",
        can=lambda permission: allowed(current_user, permission),
    )
