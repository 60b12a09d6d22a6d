"""The ticket page as the workspace service assembles it (services.ticket_page): the staff it
names are the ones on the page, not every user; who else has the ticket open."""

from __future__ import annotations

from app.tickets import services
from tests.factories import make_user


def _ticket(db):
    ticket = services.open_ticket(channel="portal", category="other", subject="help", requester_phone="+85291234567")
    db.session.commit()
    return ticket


def test_page_names_only_the_staff_on_its_timeline(db):
    replier, assignee, _bystander = make_user(name="Replier"), make_user(name="Assignee"), make_user(name="Bystander")
    ticket = _ticket(db)
    services.reply(ticket, "We are on it.", actor_id=replier.id)
    services.assign(ticket, assignee.id, actor_id=replier.id)
    db.session.commit()

    page = services.ticket_page(ticket, replier.id)

    assert set(page.users) == {replier.id}  # the assignment was made by the replier
    assert {u.id for u in page.agents} >= {replier.id, assignee.id}  # assignee choices: every agent
    assert page.seen_event == services.timeline(ticket)[-1].id
    assert [kind for kind, _item in page.entries].count("event") == len(services.timeline(ticket))


def test_page_names_the_staff_whose_changes_conflicted(db):
    viewer, other = make_user(), make_user(name="Other")
    ticket = _ticket(db)
    seen = ticket.version
    services.tag(ticket, add=["visa"], actor_id=other.id)
    db.session.commit()
    try:
        services.tag(ticket, add=["late"], actor_id=viewer.id, expected_version=seen)
    except services.Conflict as exc:
        conflict = exc
    db.session.rollback()

    page = services.ticket_page(ticket, viewer.id, conflict=conflict)

    assert other.id in page.users and page.conflict is conflict
    assert "conflict" in page.context()


def test_others_viewing_excludes_the_viewer(db):
    me, colleague = make_user(), make_user(name="Colleague")
    ticket = _ticket(db)
    services.mark_viewing(ticket, me)
    services.mark_viewing(ticket, colleague)
    db.session.commit()

    assert [u.id for u in services.ticket_page(ticket, me.id).others] == [colleague.id]
    assert services.ticket_page(ticket, colleague.id).others == [me]
