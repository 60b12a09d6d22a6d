"""Administrators edit agents' skills (languages, topics) on the staff page: validated, audited,
refused with a 4xx and a reason, never a 500."""

from __future__ import annotations

import pytest
from werkzeug.datastructures import MultiDict

from app import console
from app.agents import skills
from app.agents.routing.presence import set_skills, skills_of
from app.extensions import db
from tests.agents.helpers import audit_events
from tests.conftest import csrf_token
from tests.factories import make_user


def _post(client, user_id: int, languages=(), topics=(), *, token: bool = True):
    data = MultiDict([("languages", v) for v in languages] + [("topics", v) for v in topics])
    if token:
        data["csrf_token"] = csrf_token(client, "/admin/users")
    return client.post(f"/admin/users/{user_id}/skills", data=data)


def test_admin_sets_languages_and_topics(client, auth):
    admin = auth.login_as("admin")
    agent = make_user("agent", name="Dewi Lestari")
    response = _post(client, agent.id, ["id", "yue"], ["claim_jkk", "emergency"])
    assert response.status_code == 303
    db.session.expire_all()
    assert skills_of(agent.id) == {"language": ["id", "yue"], "topic": ["claim_jkk", "emergency"]}
    [event] = audit_events("user.skills_change")
    assert event.actor_id == admin.id and event.entity_id == str(agent.id)
    assert event.detail["before"] == {"language": [], "topic": []}
    assert event.detail["after"] == {"language": ["id", "yue"], "topic": ["claim_jkk", "emergency"]}
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Skills of Dewi Lestari saved." in page
    assert "粵語" in page and "JKK claim (work accident)" in page


def test_no_topic_means_every_topic(client, auth):
    auth.login_as("admin")
    agent = make_user("agent")
    set_skills(agent.id, languages=["id"], topics=["claim_jkm"])
    db.session.commit()
    assert _post(client, agent.id, ["id", "en"], []).status_code == 303
    db.session.expire_all()
    assert skills_of(agent.id) == {"language": ["en", "id"], "topic": []}


def test_unchanged_skills_are_not_audited(client, auth):
    auth.login_as("admin")
    agent = make_user("agent")
    set_skills(agent.id, languages=["id", "jv"], topics=[])
    db.session.commit()
    response = _post(client, agent.id, ["jv", "id"])
    assert "unchanged" in client.get(response.headers["Location"]).get_data(as_text=True)
    assert audit_events("user.skills_change") == []


@pytest.mark.parametrize(
    ("languages", "topics", "message"),
    [
        ([], ["claim_jkk"], "Choose at least one language the agent takes calls in."),
        (["id", "klingon"], [], "Unknown language: klingon."),
        (["id"], ["claim_jkk", "lottery"], "Unknown topic: lottery."),
        (["<script>"], [], "Unknown language: &lt;script&gt;."),
    ],
)
def test_bad_values_are_refused_with_a_reason(client, auth, languages, topics, message):
    auth.login_as("admin")
    agent = make_user("agent")
    set_skills(agent.id, languages=["id"], topics=[])
    db.session.commit()
    response = _post(client, agent.id, languages, topics)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    db.session.expire_all()
    assert skills_of(agent.id) == {"language": ["id"], "topic": []}
    assert audit_events("user.skills_change") == []


def test_an_admin_account_takes_no_calls(client, auth):
    auth.login_as("admin")
    other_admin = make_user("admin")
    assert f'id="skills-{other_admin.id}"' not in client.get("/admin/users").get_data(as_text=True)
    response = _post(client, other_admin.id, ["id"])
    assert response.status_code == 422
    assert "this account has no skills" in response.get_data(as_text=True)


def test_saved_skills_are_shown_open(client, auth):
    auth.login_as("admin")
    agent = make_user("agent")
    response = _post(client, agent.id, ["id", "ar"])
    assert response.headers["Location"].endswith(f"/admin/users?skills={agent.id}#skills-{agent.id}")
    html = client.get(f"/admin/users?skills={agent.id}").get_data(as_text=True)
    assert f'<details id="skills-{agent.id}" class="skills-edit" open' in html
    assert "العربية (Arabic)" in html


def test_unknown_user_is_404(client, auth):
    auth.login_as("admin")
    assert _post(client, 999_999, ["id"]).status_code == 404


def test_without_csrf_token_is_refused(client, auth):
    auth.login_as("admin")
    agent = make_user("agent")
    assert _post(client, agent.id, ["id"], token=False).status_code == 400
    assert audit_events("user.skills_change") == []


@pytest.mark.parametrize("role", ["agent", "supervisor"])
def test_only_administrators_edit_skills(client, auth, role):
    auth.login_as(role)
    agent = make_user("agent")
    assert _post(client, agent.id, ["id"]).status_code == 403


def test_users_page_shows_each_agents_skills(client, auth):
    auth.login_as("admin")
    agent = make_user("agent", name="Agus")
    set_skills(agent.id, languages=["id", "su"], topics=["membership"])
    db.session.commit()
    html = client.get("/admin/users").get_data(as_text=True)
    row = html[html.index(f'id="skills-{agent.id}"') :]
    row = row[: row.index("</details>")]
    assert "Basa Sunda" in row and "Membership / registration" in row
    assert 'value="su" checked' in row and 'value="membership" checked' in row


def test_the_console_offers_the_same_languages():
    assert set(console.LANGUAGES) == set(skills.SKILL_LANGUAGES)


def test_a_huge_unknown_value_is_refused_briefly(client, auth):
    auth.login_as("admin")
    agent = make_user("agent")
    response = _post(client, agent.id, ["id", "x" * 5000])
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Unknown language: " + "x" * 40 + "." in html and "x" * 41 not in html
