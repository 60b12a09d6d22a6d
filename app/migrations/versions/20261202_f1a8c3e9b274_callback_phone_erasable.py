"""callback_requests.phone nullable: erasure blanks the number a call-back was asked for

Revision ID: f1a8c3e9b274
Revises: e7b3c5d2a940
Create Date: 2026-12-02 15:30:00

"""
import sqlalchemy as sa
from alembic import op

revision = "f1a8c3e9b274"
down_revision = "e7b3c5d2a940"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("callback_requests") as batch:
        batch.alter_column("phone", existing_type=sa.Text(), nullable=True)


def downgrade():
    op.execute("UPDATE callback_requests SET phone = '' WHERE phone IS NULL")
    with op.batch_alter_table("callback_requests") as batch:
        batch.alter_column("phone", existing_type=sa.Text(), nullable=False)
