"""The document register: the numbers given to issued statements, by year and symbol.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-08
"""

import sqlalchemy as sa
from alembic import op

from crisisflow.models import UTCDateTime

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "register_counters",
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("symbol", sa.String(64), nullable=False),
        sa.Column("last_number", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("year", "symbol", name="pk_register_counters"),
    )
    op.create_table(
        "register_entries",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("symbol", sa.String(64), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("statement_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("signer", sa.String(128), nullable=True),
        sa.Column("issued_at", UTCDateTime(), nullable=False),
        sa.Column("text_hash", sa.String(64), nullable=False),
        sa.ForeignKeyConstraint(
            ["statement_id"],
            ["statements.id"],
            name="fk_register_entries_statement_id_statements",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_register_entries"),
        sa.UniqueConstraint(
            "year", "symbol", "number", name="uq_register_entries_year_symbol_number"
        ),
        sa.UniqueConstraint(
            "statement_id", "version", name="uq_register_entries_statement_id_version"
        ),
    )


def downgrade() -> None:
    op.drop_table("register_entries")
    op.drop_table("register_counters")
