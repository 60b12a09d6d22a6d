"""users.session_generation: sign-out, a password change or deactivation ends every session

Revision ID: d4e2a91f0c11
Revises: a7c41e9b2d10
Create Date: 2026-12-02 11:00:00

"""
import sqlalchemy as sa
from alembic import op

revision = "d4e2a91f0c11"
down_revision = "a7c41e9b2d10"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("session_generation", sa.Integer(), server_default="0", nullable=False))


def downgrade():
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("session_generation")
