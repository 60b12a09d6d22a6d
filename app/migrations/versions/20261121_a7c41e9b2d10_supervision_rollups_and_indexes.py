"""Supervision: roll-up tables and indexes for the wallboard and the reports

Revision ID: a7c41e9b2d10
Revises: c9e63ab4f732
Create Date: 2026-11-21

* agent_state_events (at): occupancy over a period reads every agent's changes by time;
* agent_state_events (work_item_id), work_items (kind, ref_id): from a call to its wrap-ups;
* tickets: open tickets by first-response / resolution due time (partial: the full due-time
  indexes also hold every closed ticket), and tickets by resolution time;
* callback_requests (status): call-backs pending on the wallboard;
* call_facts, agent_time_slots, supervision_rollup_days: finished days of the call and presence
  logs rolled up for reports over weeks and months (app/supervisor/models.py).
"""

import sqlalchemy as sa
from alembic import op

revision = "a7c41e9b2d10"
down_revision = "c9e63ab4f732"
branch_labels = None
depends_on = None

OPEN = "status IN ('new', 'open', 'pending_worker', 'pending_third_party')"
OPEN_AND_UNANSWERED = OPEN + " AND first_response_at IS NULL"


def upgrade():
    op.create_table(
        "call_facts",
        sa.Column("call_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("queued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("language", sa.String(length=16), nullable=False),
        sa.Column("topic", sa.String(length=32), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("wait", sa.Float(), nullable=False),
        sa.Column("talk", sa.Float(), nullable=True),
        sa.Column("wrap_up", sa.Float(), nullable=False),
        sa.Column("rna", sa.Integer(), nullable=False),
        sa.Column("transfers", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("call_id", name=op.f("pk_call_facts")),
    )
    op.create_index("ix_call_facts_queued_at", "call_facts", ["queued_at"], unique=False)
    op.create_table(
        "agent_time_slots",
        sa.Column("slot_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("agent_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("busy", sa.Float(), nullable=False),
        sa.Column("idle", sa.Float(), nullable=False),
        sa.Column("away", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("slot_at", "agent_id", name=op.f("pk_agent_time_slots")),
    )
    op.create_table(
        "supervision_rollup_days",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("calls", sa.Integer(), nullable=False),
        sa.Column("final", sa.Boolean(), nullable=False),
        sa.Column("rolled_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("day", name=op.f("pk_supervision_rollup_days")),
    )
    op.create_index("ix_agent_state_events_at", "agent_state_events", ["at"], unique=False)
    op.create_index("ix_agent_state_events_work_item", "agent_state_events", ["work_item_id"], unique=False)
    op.create_index("ix_work_items_kind_ref", "work_items", ["kind", "ref_id"], unique=False)
    op.create_index("ix_callback_requests_status", "callback_requests", ["status"], unique=False)
    op.create_index(
        "ix_tickets_open_first_response_due",
        "tickets",
        ["first_response_due_at"],
        unique=False,
        postgresql_where=sa.text(OPEN_AND_UNANSWERED),
        sqlite_where=sa.text(OPEN_AND_UNANSWERED),
    )
    op.create_index(
        "ix_tickets_open_resolution_due",
        "tickets",
        ["resolution_due_at"],
        unique=False,
        postgresql_where=sa.text(OPEN),
        sqlite_where=sa.text(OPEN),
    )
    op.create_index("ix_tickets_resolved_at", "tickets", ["resolved_at"], unique=False)


def downgrade():
    op.drop_index("ix_tickets_resolved_at", table_name="tickets")
    op.drop_index("ix_tickets_open_resolution_due", table_name="tickets")
    op.drop_index("ix_tickets_open_first_response_due", table_name="tickets")
    op.drop_index("ix_callback_requests_status", table_name="callback_requests")
    op.drop_index("ix_work_items_kind_ref", table_name="work_items")
    op.drop_index("ix_agent_state_events_work_item", table_name="agent_state_events")
    op.drop_index("ix_agent_state_events_at", table_name="agent_state_events")
    op.drop_table("supervision_rollup_days")
    op.drop_table("agent_time_slots")
    op.drop_index("ix_call_facts_queued_at", table_name="call_facts")
    op.drop_table("call_facts")
