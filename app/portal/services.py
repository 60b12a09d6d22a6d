"""Rules of the worker's portal that are not the ticket's own: whose clock her case is read by."""

from __future__ import annotations

from app.core.dates import valid_zone, zone_for_country
from app.extensions import db
from app.records.models import Member
from app.tickets.models import Ticket


def worker_zone(ticket: Ticket, browser_zone: str | None = None) -> str | None:
    """The zone a worker reads her case in: her browser's when it told us, else the zone of the
    country she is placed in (her member record's, else the one she gave on the complaint).
    None: not known (the page then shows the staff zone, named)."""
    zone = valid_zone(browser_zone)
    # UTC and Etc/* name no place: a browser hiding its zone says so, and her country knows better.
    if zone and zone != "UTC" and not zone.startswith("Etc/"):
        return zone
    member = db.session.get(Member, ticket.member_id) if ticket.member_id else None
    for country in (member.placement_country if member else None, ticket.country):
        zone = zone_for_country(country)
        if zone:
            return zone
    return None
