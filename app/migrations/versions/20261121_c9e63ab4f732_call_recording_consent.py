"""call recording consent

Revision ID: c9e63ab4f732
Revises: f3a1d9c4e5b7
Create Date: 2026-11-21 12:10:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c9e63ab4f732'
down_revision = 'f3a1d9c4e5b7'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('calls', schema=None) as batch_op:
        batch_op.add_column(sa.Column('record_consent', sa.String(length=16), nullable=True))


def downgrade():
    with op.batch_alter_table('calls', schema=None) as batch_op:
        batch_op.drop_column('record_consent')
