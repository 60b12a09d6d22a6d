"""callback_quotas: the per-number call-back cap as an atomically moved counter

Revision ID: e7b3c5d2a940
Revises: 88995670a29c
Create Date: 2026-12-02 12:05:00

"""
import sqlalchemy as sa
from alembic import op

revision = "e7b3c5d2a940"
down_revision = "88995670a29c"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "callback_quotas",
        sa.Column("phone_hash", sa.String(length=64), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("used", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("phone_hash", "day", name=op.f("pk_callback_quotas")),
    )


def downgrade():
    op.drop_table("callback_quotas")
