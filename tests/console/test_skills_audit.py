"""Skills changed from the console's supervisor API follow the staff page's rule: audited."""

from __future__ import annotations

from tests.agents.helpers import audit_events
from tests.routing.conftest import make_agent


def test_console_skills_change_is_audited(client, auth, console):
    agent = make_agent(languages=["id"])
    supervisor = auth.login_as("supervisor")
    assert console.post(f"api/agents/{agent.id}/skills", {"topics": ["claim_jkk"]}).status_code == 200
    [event] = audit_events("user.skills_change")
    assert event.actor_id == supervisor.id
    assert event.detail["before"] == {"language": ["id"], "topic": []}
    assert event.detail["after"] == {"language": ["id"], "topic": ["claim_jkk"]}


def test_console_refuses_an_empty_language_list(client, auth, console):
    agent = make_agent(languages=["id"])
    auth.login_as("supervisor")
    assert console.post(f"api/agents/{agent.id}/skills", {"languages": []}).status_code == 400
    assert audit_events("user.skills_change") == []
