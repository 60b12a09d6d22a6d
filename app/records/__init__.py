"""Membership and claim records: a mirror of the agency's core system (imported/synced)."""
