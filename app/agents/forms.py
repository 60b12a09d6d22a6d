"""Staff forms: sign in, and the administrator's user management (all CSRF-protected)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, Length, Optional

from app.agents.services import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH


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
