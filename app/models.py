"""Imports every model module so the metadata is complete (for Alembic and create_all)."""

from app.agents.models import User  # noqa: F401
from app.core.audit import AuditEvent  # noqa: F401
from app.core.jobs import OutboxIntent  # noqa: F401
from app.records.models import Claim, Member  # noqa: F401
