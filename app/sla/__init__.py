"""SLA: business calendars, policies, due times, the breach sweep (issue 6)."""
