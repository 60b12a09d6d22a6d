"""Administration pages: staff accounts and their roles.

Thin routes: parse the form, call one service, commit, redirect (or re-render with a 422 and
the reason). The rules (no duplicate email, no self-demotion, …) live in
:mod:`app.staff.services`.
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from app.agents import skills
from app.core.policy import require
from app.extensions import db
from app.staff import services
from app.staff.forms import CreateUserForm, RoleForm, language_choices, role_choices
from app.tickets.labels import category_choices

bp = Blueprint("admin", __name__, url_prefix="/admin")


def _error_message(exc: services.UserError) -> str:
    if isinstance(exc, services.DuplicateEmail):
        return _("An account with this email already exists.")
    if isinstance(exc, services.InvalidEmail):
        return _("Enter a valid email address.")
    if isinstance(exc, services.PasswordTooShort):
        return _(
            "Use between %(min)d and %(max)d characters.",
            min=services.MIN_PASSWORD_LENGTH,
            max=services.MAX_PASSWORD_LENGTH,
        )
    if isinstance(exc, services.InvalidRole):
        return _("Choose one of the roles.")
    if isinstance(exc, services.InvalidLanguage):
        return _("Choose one of the languages.")
    if isinstance(exc, skills.InvalidSkill):
        return _skill_message(exc)
    if isinstance(exc, services.SelfLockout):
        return _("You cannot deactivate your own account or change your own role.")
    return _("This change could not be made.")


def _skill_message(exc: skills.InvalidSkill) -> str:
    if exc.code == "not_an_agent":
        return _("Only agents and supervisors take calls: this account has no skills.")
    if exc.code == "no_language":
        return _("Choose at least one language the agent takes calls in.")
    codes = ", ".join(value[:40] for value in exc.values[:5])  # echo what was sent, briefly
    if exc.code == "unknown_language":
        return _("Unknown language: %(codes)s.", codes=codes)
    return _("Unknown topic: %(codes)s.", codes=codes)


def _page(form: CreateUserForm, error: str | None = None, status: int = 200, open_skills: int | None = None):
    return (
        render_template(
            "admin/users.html",
            users=services.list_users(),
            form=form,
            roles=role_choices(),
            languages=dict(language_choices()),
            min_password=services.MIN_PASSWORD_LENGTH,
            error=error,
            skills=skills.all_skills(),
            skill_languages={code: skills.language_label(code) for code in skills.SKILL_LANGUAGES},
            topics=category_choices(),
            takes_calls=skills.takes_calls,
            open_skills=open_skills,
        ),
        status,
    )


def _user_or_404(user_id: int):
    try:
        return services.get_user(user_id)
    except services.UserNotFound:
        abort(404)


@bp.get("/users")
@require("users.manage")
def users():
    # ?skills=<id> opens that agent's skills (after saving them).
    return _page(CreateUserForm(), open_skills=request.args.get("skills", type=int))


@bp.post("/users")
@require("users.manage")
def create_user():
    form = CreateUserForm()
    if not form.validate_on_submit():
        return _page(form, status=422)
    try:
        user = services.create_user(
            form.email.data or "",
            form.name.data or "",
            form.password.data or "",
            form.role.data or "",
            form.language.data or "",
            actor_id=current_user.id,
        )
    except services.UserError as exc:
        db.session.rollback()
        field = getattr(form, exc.field, None) if exc.field else None
        if field is not None:
            field.errors = [*field.errors, _error_message(exc)]
            return _page(form, status=422)
        return _page(form, error=_error_message(exc), status=422)
    db.session.commit()
    flash(_("Account created for %(email)s.", email=user.email), "success")
    return redirect(url_for("admin.users"), code=303)


@bp.post("/users/<int:user_id>/role")
@require("users.manage")
def change_role(user_id: int):
    user = _user_or_404(user_id)
    form = RoleForm()
    if not form.validate_on_submit():
        return _page(CreateUserForm(formdata=None), error=_("Choose one of the roles."), status=422)
    try:
        services.change_role(user.id, form.role.data or "", actor_id=current_user.id)
    except services.UserError as exc:
        db.session.rollback()
        return _page(CreateUserForm(formdata=None), error=_error_message(exc), status=422)
    db.session.commit()
    flash(_("%(name)s is now: %(role)s.", name=user.name, role=dict(role_choices())[user.role]), "success")
    return redirect(url_for("admin.users"), code=303)


def _set_active(user_id: int, active: bool):
    user = _user_or_404(user_id)
    try:
        services.set_active(user.id, active, actor_id=current_user.id)
    except services.UserError as exc:
        db.session.rollback()
        return _page(CreateUserForm(formdata=None), error=_error_message(exc), status=422)
    db.session.commit()
    if active:
        flash(_("%(name)s can sign in again.", name=user.name), "success")
    else:
        flash(_("%(name)s can no longer sign in.", name=user.name), "success")
    return redirect(url_for("admin.users"), code=303)


@bp.post("/users/<int:user_id>/deactivate")
@require("users.manage")
def deactivate_user(user_id: int):
    return _set_active(user_id, False)


@bp.post("/users/<int:user_id>/reactivate")
@require("users.manage")
def reactivate_user(user_id: int):
    return _set_active(user_id, True)


@bp.post("/users/<int:user_id>/skills")
@require("users.manage")
def change_skills(user_id: int):
    """Replace an agent's languages and topics (no topic ticked: every topic)."""
    user = _user_or_404(user_id)  # the CSRF token is checked for every POST (CSRFProtect)
    try:
        changed = skills.change_skills(
            user.id,
            request.form.getlist("languages"),
            request.form.getlist("topics"),
            actor_id=current_user.id,
        )
    except services.UserError as exc:
        db.session.rollback()
        return _page(CreateUserForm(formdata=None), error=_error_message(exc), status=422, open_skills=user.id)
    db.session.commit()
    if changed:
        flash(_("Skills of %(name)s saved.", name=user.name), "success")
    else:
        flash(_("Skills of %(name)s unchanged.", name=user.name), "info")
    return redirect(url_for("admin.users", skills=user.id, _anchor=f"skills-{user.id}"), code=303)
