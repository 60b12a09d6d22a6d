"""Workspace search by phone number, in the forms agents type them (numbers are stored encrypted
and found through their keyed hash)."""

from __future__ import annotations

import re

import pytest

from tests.factories import TicketFactory, make_member

SAUDI = "+966551233048"
INDONESIA = "+6281234567890"
TAIWAN = "+886912345678"




def _found(client, q: str, **args: str) -> set[str]:
    response = client.get("/tickets/", query_string={"view": "all", "q": q, **args})
    assert response.status_code == 200
    return set(re.findall(r"PMI-\d{4}-\d{6}", response.get_data(as_text=True)))


@pytest.fixture
def tickets(db):
    return {
        "saudi": TicketFactory(requester_phone=SAUDI, country="SA"),
        "indonesia": TicketFactory(requester_phone=INDONESIA),
        "other": TicketFactory(requester_phone="+85291111111", country="HK"),
    }


@pytest.mark.parametrize(
    "typed",
    ["966551233048", "+966 55 123 3048", "+966-55-123-3048", "00966 551 233 048", "(966) 55.123.3048"],
)
def test_international_number_in_any_form(client, auth, tickets, typed):
    auth.login_as("agent")
    assert _found(client, typed) == {tickets["saudi"].reference}


@pytest.mark.parametrize("typed", ["0812-3456-7890", "0812 3456 7890", "081234567890"])
def test_indonesian_local_number(client, auth, tickets, typed):
    auth.login_as("agent")
    assert _found(client, typed) == {tickets["indonesia"].reference}


def test_local_number_with_the_country_chosen(client, auth, db):
    auth.login_as("agent")
    no_country = TicketFactory(requester_phone=SAUDI)  # e.g. a complaint that named no country
    assert _found(client, "055 123 3048", phone_country="SA") == {no_country.reference}
    assert _found(client, "55-123-3048", phone_country="SA") == {no_country.reference}
    # Without the country, the local form only matches tickets and members placed in Saudi Arabia.
    assert _found(client, "055 123 3048") == set()


def test_local_number_matches_tickets_from_that_country(client, auth, tickets):
    auth.login_as("agent")
    assert _found(client, "055 123 3048") == {tickets["saudi"].reference}


def test_country_not_served_is_ignored(client, auth, tickets):
    auth.login_as("agent")
    page = client.get("/tickets/", query_string={"view": "all", "q": "1", "phone_country": "ZZ"})
    assert page.status_code == 200
    assert 'value="ZZ" selected' not in page.get_data(as_text=True)


def test_member_phone_on_file_finds_her_tickets(client, auth, db):
    auth.login_as("agent")
    member = make_member(phone_id=INDONESIA, phone_abroad=SAUDI, placement_country="SA")
    linked = TicketFactory(requester_phone=None, member_id=member.id)
    TicketFactory(requester_phone="+85291111111")
    assert _found(client, "0812-3456-7890") == {linked.reference}
    assert _found(client, "966551233048") == {linked.reference}


def test_local_number_abroad_matches_where_the_member_is_placed(client, auth, db):
    auth.login_as("agent")
    in_taiwan = make_member(phone_abroad=TAIWAN, placement_country="TW")
    hers = TicketFactory(requester_phone=None, member_id=in_taiwan.id)
    reported_from_taiwan = TicketFactory(requester_phone=TAIWAN, country="TW")
    assert _found(client, "0912 345 678") == {hers.reference, reported_from_taiwan.reference}


def test_local_number_abroad_needs_the_matching_country(client, auth, db):
    auth.login_as("agent")
    # Same number on file, but the member is placed elsewhere: a local form is not hers.
    elsewhere = make_member(phone_abroad=TAIWAN, placement_country="HK")
    TicketFactory(requester_phone=None, member_id=elsewhere.id)
    assert _found(client, "0912 345 678") == set()
    assert len(_found(client, "+886 912 345 678")) == 1


def test_search_box_offers_the_countries_by_name(client, auth, db):
    auth.login_as("agent", language="en")
    html = client.get("/tickets/?view=all").get_data(as_text=True)
    assert '<option value="SA" >Saudi Arabia</option>' in html
    assert "Country of a local number" in html
