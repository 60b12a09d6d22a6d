"""Imports every model module so the metadata is complete (for Alembic and create_all)."""

from app.core.audit import AuditEvent  # noqa: F401
from app.core.jobs import OutboxIntent  # noqa: F401
from app.records.models import Claim, Member  # noqa: F401
from app.sla import models as sla_models  # noqa: F401
from app.staff.models import User  # noqa: F401
from app.supervisor import models as supervisor_models  # noqa: F401
from app.telephony import models as telephony_models  # noqa: F401
from app.tickets import models as ticket_models  # noqa: F401
