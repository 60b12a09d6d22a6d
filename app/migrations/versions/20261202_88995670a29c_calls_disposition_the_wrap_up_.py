"""calls.disposition: the wrap-up disposition of a call (reports count calls by it)

Revision ID: 88995670a29c
Revises: d4e2a91f0c11
Create Date: 2026-12-02 10:37:28.610216

Additive and nullable: existing calls keep no disposition; nothing to backfill.
"""

import sqlalchemy as sa
from alembic import op

revision = "88995670a29c"
down_revision = "d4e2a91f0c11"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.add_column(sa.Column("disposition", sa.String(length=32), nullable=True))


def downgrade():
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.drop_column("disposition")
