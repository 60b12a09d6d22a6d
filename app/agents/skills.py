"""Agent skills edited by administrators: the languages an agent takes calls in and the topics
they handle (routing reads them, see :mod:`app.agents.routing`). The languages are
``SKILL_LANGUAGES`` (``app.agents.models``), which the console offers too.

Rules: only accounts that take calls (agents and supervisors) have skills; at least one
language; every value from the vocabulary; no topic ticked means every topic. Each change
is audited (before and after) in the caller's transaction; the caller commits.
"""

from __future__ import annotations

from collections.abc import Iterable

from flask_babel import get_locale
from sqlalchemy import select

from app.agents.models import SKILL_LANGUAGES, AgentSkill
from app.agents.routing.presence import set_skills, skills_of
from app.core import audit
from app.extensions import db
from app.staff.services import UserError, get_user
from app.tickets.models import CATEGORIES

TAKES_CALLS = ("agent", "supervisor")
_CLDR_CODES = {"zh-TW": "zh_Hant"}  # how CLDR names the written language of Taiwan


def language_label(code: str) -> str:
    """A skill language for an administrator: its own name, and in brackets the reader's name
    for it when that differs ("粵語 (Cantonese)", "Basa Jawa (Jawa)"); an unknown code as it is."""
    native = SKILL_LANGUAGES.get(code)
    if native is None:
        return code
    locale = get_locale()
    local = locale.languages.get(_CLDR_CODES.get(code, code)) if locale else None
    if not local or local.casefold() in native.casefold():
        return native
    return f"{native} ({local})"


class InvalidSkill(UserError):
    """``code``: ``not_an_agent``, ``no_language``, ``unknown_language`` or ``unknown_topic``."""

    field = "skills"

    def __init__(self, code: str, values: Iterable[str] = ()) -> None:
        super().__init__(code)
        self.code = code
        self.values = list(values)


def takes_calls(role: str) -> bool:
    return role in TAKES_CALLS


def all_skills() -> dict[int, dict[str, list[str]]]:
    """Every agent's skills in one query: ``{user_id: {"language": [...], "topic": [...]}}``."""
    out: dict[int, dict[str, list[str]]] = {}
    for skill in db.session.scalars(select(AgentSkill).order_by(AgentSkill.value)):
        out.setdefault(skill.agent_id, {"language": [], "topic": []}).setdefault(skill.kind, []).append(skill.value)
    return out


def change_skills(
    user_id: int, languages: list[str] | None, topics: list[str] | None, *, actor_id: int | None
) -> bool:
    """Replace a user's languages and/or topics (None keeps them). Returns False when nothing
    changed (then nothing is audited)."""
    user = get_user(user_id)
    if not takes_calls(user.role):
        raise InvalidSkill("not_an_agent")
    before = skills_of(user.id)
    if languages is not None:
        if not isinstance(languages, list):
            raise InvalidSkill("unknown_language")
        unknown = sorted({code for code in languages if code not in SKILL_LANGUAGES}, key=str)
        if unknown:
            raise InvalidSkill("unknown_language", unknown)
        if not languages:
            raise InvalidSkill("no_language")
    if topics is not None:
        if not isinstance(topics, list):
            raise InvalidSkill("unknown_topic")
        unknown = sorted({code for code in topics if code not in CATEGORIES}, key=str)
        if unknown:
            raise InvalidSkill("unknown_topic", unknown)
    after = {
        "language": before["language"] if languages is None else sorted(set(languages)),
        "topic": before["topic"] if topics is None else sorted(set(topics)),
    }
    if before == after:
        return False
    set_skills(user.id, languages=after["language"], topics=after["topic"])
    audit.record("user.skills_change", "user", user.id, {"before": before, "after": after}, actor_id=actor_id)
    return True
