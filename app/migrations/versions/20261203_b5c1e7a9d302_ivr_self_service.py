"""IVR self-service: calls.self_service (the claim-status step a call reached) and
self_service_guards (wrong birth dates per KPJ, across calls)

Revision ID: b5c1e7a9d302
Revises: f1a8c3e9b274
Create Date: 2026-12-03 09:00:00

Additive: existing calls never chose self-service (NULL); the guard table starts empty.
"""

import sqlalchemy as sa
from alembic import op

revision = "b5c1e7a9d302"
down_revision = "f1a8c3e9b274"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.add_column(sa.Column("self_service", sa.String(length=16), nullable=True))
    op.create_table(
        "self_service_guards",
        sa.Column("kpj", sa.String(length=11), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("kpj", name=op.f("pk_self_service_guards")),
    )


def downgrade():
    op.drop_table("self_service_guards")
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.drop_column("self_service")
