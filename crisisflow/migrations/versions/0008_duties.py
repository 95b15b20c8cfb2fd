"""Recurring duties: each reminder of a duty, and the duty done, once per period.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

from crisisflow.models import UTCDateTime

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "duty_notices",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("duty", sa.String(64), nullable=False),
        sa.Column("period", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("actor", sa.String(128), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_duty_notices"),
        sa.UniqueConstraint("duty", "period", "key", name="uq_duty_notices_duty_period_key"),
    )


def downgrade() -> None:
    op.drop_table("duty_notices")
