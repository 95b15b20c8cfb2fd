"""Statement series: a published statement is frozen; new words of its kind are the next one.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("statements") as batch:
        batch.add_column(sa.Column("series", sa.Integer(), nullable=False, server_default="1"))
        batch.drop_constraint("uq_statements_incident_id_kind", type_="unique")
        batch.create_unique_constraint(
            "uq_statements_incident_id_kind_series", ["incident_id", "kind", "series"]
        )


def downgrade() -> None:
    with op.batch_alter_table("statements") as batch:
        batch.drop_constraint("uq_statements_incident_id_kind_series", type_="unique")
        batch.create_unique_constraint("uq_statements_incident_id_kind", ["incident_id", "kind"])
        batch.drop_column("series")
