"""Alembic environment: run against the connection crisisflow hands over (never a URL in a file)."""

from alembic import context

from crisisflow.models import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
