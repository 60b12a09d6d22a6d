"""Ticket lifecycle, the agent workspace and complaint handling (issue: tickets and complaints)."""
