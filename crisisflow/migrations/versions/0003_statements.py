"""Statements: approvals bound to the text, publications, corrections, authorisations.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

from crisisflow.models import UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("statements") as batch:
        batch.add_column(sa.Column("corrects_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            "fk_statements_corrects_id_statements", "statements", ["corrects_id"], ["id"]
        )
    op.create_table(
        "statement_actions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("statement_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("text_hash", sa.String(64), nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("channel", sa.String(32), nullable=True),
        sa.Column("url", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["statement_id"], ["statements.id"], name="fk_statement_actions_statement_id_statements"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_statement_actions"),
    )
    op.create_index("ix_statement_actions_statement_id", "statement_actions", ["statement_id"])
    op.create_table(
        "authorisations",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("person", sa.String(128), nullable=False),
        sa.Column("granted_by", sa.String(128), nullable=False),
        sa.Column("valid_from", UTCDateTime(), nullable=False),
        sa.Column("valid_until", UTCDateTime(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"], ["incidents.id"], name="fk_authorisations_incident_id_incidents"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_authorisations"),
    )
    op.create_index("ix_authorisations_incident_id", "authorisations", ["incident_id"])


def downgrade() -> None:
    op.drop_table("authorisations")
    op.drop_table("statement_actions")
    with op.batch_alter_table("statements") as batch:
        batch.drop_constraint("fk_statements_corrects_id_statements", type_="foreignkey")
        batch.drop_column("corrects_id")
