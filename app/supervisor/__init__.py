"""Wallboard, SLA and performance reports, staffing (issue: SLA engine and supervision)."""
