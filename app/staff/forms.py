"""Staff forms: sign in, and the administrator's user management (all CSRF-protected).

Why these stay WTForms while every other input is a pydantic model (:mod:`app.core.schemas`):
here WTForms is the HTML form itself - it renders the fields and their labels, puts back what
was typed after an error, and carries the CSRF token - and its checks are only "filled in, not
too long". The rules about what an account may be (a valid address, a password policy, a role
that exists) live once, in :mod:`app.staff.services`, which raises for the page to show.
Rewriting these four forms as pydantic models would replace that rendering with hand-written
markup and still need Flask-WTF for CSRF: more code, and no rule would move. "One way to
validate" is kept where it matters: each rule is written once, and everything that reaches a
service as data (the API, the portal, the SLA forms, imported records) goes through a model.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, Length, Optional

from app.staff.services import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH


def role_choices() -> list[tuple[str, str]]:
    return [("agent", _l("Agent")), ("supervisor", _l("Supervisor")), ("admin", _l("Admin"))]


def language_choices() -> list[tuple[str, str]]:
    # Language names are written in their own language, as in the language switch.
    return [("id", "Bahasa Indonesia"), ("en", "English")]


# No syntax check on emails here: WTForms' Email() (email_validator) refuses special-use
# domains such as ``.local``, which internal staff addresses may use. Signing in only looks
# the address up; creating an account checks it in the service.


class LoginForm(FlaskForm):
    email = EmailField(_l("Email"), validators=[DataRequired(), Length(max=254)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=200)])
    remember = BooleanField(_l("Keep me signed in"))


class CreateUserForm(FlaskForm):
    email = EmailField(_l("Email"), validators=[DataRequired(), Length(max=254)])
    name = StringField(_l("Name"), validators=[Optional(), Length(max=120)])
    role = SelectField(_l("Role"), choices=role_choices, default="agent")
    language = SelectField(_l("Language"), choices=language_choices, default="id")
    password = PasswordField(
        _l("Initial password"),
        validators=[
            DataRequired(),
            Length(
                min=MIN_PASSWORD_LENGTH,
                max=MAX_PASSWORD_LENGTH,
                # WTForms fills in %(min)d and %(max)d.
                message=_l("Use between %(min)d and %(max)d characters."),
            ),
        ],
    )


class RoleForm(FlaskForm):
    role = SelectField(_l("Role"), choices=role_choices)


class ConfirmForm(FlaskForm):
    """A button-only form (deactivate, reactivate): it carries the CSRF token."""
