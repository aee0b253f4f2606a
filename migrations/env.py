"""Alembic environment: URL from the service settings, SQLite migrated in batch mode."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

import scheduler.models  # noqa: F401 - registers every table on the metadata
from scheduler.config import Settings
from scheduler.db.engine import build_engine
from scheduler.models.base import metadata

config = context.config


def _url() -> str:
    url = config.attributes.get("database_url")
    return url if isinstance(url, str) else Settings().database_url


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_offline() -> None:
    context.configure(url=_url(), target_metadata=metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if isinstance(connection, Connection):
        _run(connection)
        return
    engine = build_engine(Settings(database_url=_url()))
    with engine.connect() as conn:
        _run(conn)
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
