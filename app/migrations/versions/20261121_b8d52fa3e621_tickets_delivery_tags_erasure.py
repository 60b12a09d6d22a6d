"""tickets: SMS delivery reports on notifications, tag filter index, erasure of requester data

Revision ID: b8d52fa3e621
Revises: 63899029bacd
Create Date: 2026-11-21 18:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'b8d52fa3e621'
down_revision = '63899029bacd'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('ticket_notifications', schema=None) as batch_op:
        batch_op.add_column(sa.Column('carrier_status', sa.String(length=24), nullable=True))
        batch_op.add_column(sa.Column('carrier_error_code', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('carrier_status_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index('ix_ticket_notifications_provider_id', ['provider_id'], unique=False)
    with op.batch_alter_table('ticket_tags', schema=None) as batch_op:
        batch_op.create_index('ix_ticket_tags_tag_id', ['tag_id'], unique=False)
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.add_column(sa.Column('erased_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index('ix_tickets_erased_closed', ['erased_at', 'closed_at'], unique=False)


def downgrade():
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.drop_index('ix_tickets_erased_closed')
        batch_op.drop_column('erased_at')
    with op.batch_alter_table('ticket_tags', schema=None) as batch_op:
        batch_op.drop_index('ix_ticket_tags_tag_id')
    with op.batch_alter_table('ticket_notifications', schema=None) as batch_op:
        batch_op.drop_index('ix_ticket_notifications_provider_id')
        batch_op.drop_column('carrier_status_at')
        batch_op.drop_column('carrier_error_code')
        batch_op.drop_column('carrier_status')
