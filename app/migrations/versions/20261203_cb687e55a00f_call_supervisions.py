"""call_supervisions: supervisors on live calls (listen, whisper, barge), one call at a time each

Revision ID: cb687e55a00f
Revises: 90680bfbb901
Create Date: 2026-12-03 07:46:00

"""
import sqlalchemy as sa
from alembic import op

revision = "cb687e55a00f"
down_revision = "90680bfbb901"
branch_labels = None
depends_on = None

ACTIVE = sa.text("status IN ('joining', 'joined')")


def upgrade():
    op.create_table(
        "call_supervisions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("call_id", sa.Integer(), nullable=False),
        sa.Column("work_item_id", sa.Integer(), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=True),
        sa.Column("supervisor_id", sa.Integer(), nullable=True),
        sa.Column("conference", sa.String(length=64), nullable=False),
        sa.Column("agent_call_sid", sa.String(length=64), nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("applied_mode", sa.String(length=16), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("call_sid", sa.String(length=64), nullable=True),
        sa.Column("conference_sid", sa.String(length=64), nullable=True),
        sa.Column("end_reason", sa.String(length=32), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("joined_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("mode IN ('listen', 'whisper', 'barge')", name=op.f("ck_call_supervisions_mode")),
        sa.CheckConstraint("status IN ('joining', 'joined', 'left')", name=op.f("ck_call_supervisions_status")),
        sa.ForeignKeyConstraint(
            ["agent_id"], ["users.id"], name=op.f("fk_call_supervisions_agent_id_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["call_id"], ["calls.id"], name=op.f("fk_call_supervisions_call_id_calls"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["supervisor_id"], ["users.id"], name=op.f("fk_call_supervisions_supervisor_id_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_call_supervisions")),
    )
    with op.batch_alter_table("call_supervisions", schema=None) as batch_op:
        batch_op.create_index("ix_call_supervisions_agent_status", ["agent_id", "status"], unique=False)
        batch_op.create_index(batch_op.f("ix_call_supervisions_call_sid"), ["call_sid"], unique=False)
        batch_op.create_index("ix_call_supervisions_call_status", ["call_id", "status"], unique=False)
        # One supervision at a time per supervisor (their one softphone).
        batch_op.create_index(
            "uq_call_supervisions_supervisor_active",
            ["supervisor_id"],
            unique=True,
            postgresql_where=ACTIVE,
            sqlite_where=ACTIVE,
        )


def downgrade():
    with op.batch_alter_table("call_supervisions", schema=None) as batch_op:
        batch_op.drop_index("uq_call_supervisions_supervisor_active", postgresql_where=ACTIVE, sqlite_where=ACTIVE)
        batch_op.drop_index("ix_call_supervisions_call_status")
        batch_op.drop_index(batch_op.f("ix_call_supervisions_call_sid"))
        batch_op.drop_index("ix_call_supervisions_agent_status")
    op.drop_table("call_supervisions")
