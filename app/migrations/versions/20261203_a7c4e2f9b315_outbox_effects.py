"""outbox_effects: a marker committed before a job asks a provider for an SMS or a call

Revision ID: a7c4e2f9b315
Revises: b5c1e7a9d302
Create Date: 2026-12-03 09:00:00

"""
import sqlalchemy as sa
from alembic import op

revision = "a7c4e2f9b315"
down_revision = "b5c1e7a9d302"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "outbox_effects",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("intent_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("result", sa.String(length=200), nullable=True),
        sa.Column("adopted", sa.Boolean(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox_effects")),
        sa.UniqueConstraint("key", name=op.f("uq_outbox_effects_key")),
    )
    with op.batch_alter_table("outbox_effects") as batch:
        batch.create_index("ix_outbox_effects_result", ["result"], unique=False)


def downgrade():
    with op.batch_alter_table("outbox_effects") as batch:
        batch.drop_index("ix_outbox_effects_result")
    op.drop_table("outbox_effects")
