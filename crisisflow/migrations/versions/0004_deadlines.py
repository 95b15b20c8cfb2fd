"""Legal clocks: deadlines measured by rule, and the reminders and escalations each sent;
an index for counting an incident's undeliverable mail.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

from crisisflow.models import UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "deadlines",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("clock", sa.String(64), nullable=False),
        sa.Column("rule", sa.String(64), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("basis", sa.Text(), nullable=False),
        sa.Column("owner", sa.String(64), nullable=True),
        sa.Column("entered_at", UTCDateTime(), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("due_at", UTCDateTime(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("stopped_at", UTCDateTime(), nullable=True),
        sa.Column("acknowledged_at", UTCDateTime(), nullable=True),
        sa.Column("acknowledged_by", sa.String(128), nullable=True),
        sa.Column("next_notice_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["incident_id"], ["incidents.id"], name="fk_deadlines_incident_id_incidents"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_deadlines"),
        sa.UniqueConstraint("incident_id", "clock", name="uq_deadlines_incident_id_clock"),
    )
    op.create_index("ix_deadlines_status_due_at", "deadlines", ["status", "due_at"])
    op.create_index("ix_deadlines_status_next_notice_at", "deadlines", ["status", "next_notice_at"])
    op.create_table(
        "deadline_notices",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("deadline_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(32), nullable=False),
        sa.Column("sent_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["deadline_id"], ["deadlines.id"], name="fk_deadline_notices_deadline_id_deadlines"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_deadline_notices"),
        sa.UniqueConstraint("deadline_id", "key", name="uq_deadline_notices_deadline_id_key"),
    )

    op.create_index("ix_outbox_incident_id_status", "outbox", ["incident_id", "status"])


def downgrade() -> None:
    op.drop_index("ix_outbox_incident_id_status", table_name="outbox")
    op.drop_table("deadline_notices")
    op.drop_table("deadlines")
