"""Login and logout, and the staff home page."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_fresh, login_user, logout_user

from app.core.policy import require
from app.core.urls import safe_redirect_target
from app.extensions import db, limiter
from app.staff import services
from app.staff.forms import LoginForm

bp = Blueprint("staff", __name__)


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT"], methods=["POST"])
def login():
    if current_user.is_authenticated and login_fresh():
        return redirect(url_for("staff.home"))
    # Signed in from a remember-me cookie and sent here by an admin page: ask the password again.
    form = LoginForm()
    status = 200
    if form.validate_on_submit():
        user = services.authenticate(form.email.data or "", form.password.data or "")
        db.session.commit()
        if user is not None:
            login_user(user, remember=bool(form.remember.data))
            return redirect(safe_redirect_target(request.args.get("next")) or url_for("staff.home"))
        form.password.errors = [_("Wrong email or password.")]
        status = 401
    elif request.method == "POST":
        status = 422
    return render_template("staff/login.html", form=form), status


@bp.route("/logout", methods=["POST"])
def logout():
    # No login required: a stale session (say, of a deactivated account) can be cleared too.
    # The POST still needs the CSRF token, so no other site can sign a user out.
    if current_user.is_authenticated:
        services.sign_out_everywhere(int(current_user.id))
        db.session.commit()
    logout_user()
    flash(_("You are signed out."), "info")
    return redirect(url_for("staff.login"))


@bp.route("/staff/")
@require("staff.home")
def home():
    return render_template("staff/home.html")
