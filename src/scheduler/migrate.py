"""Run Alembic migrations from code (the CLI's ``migrate`` and the test suite use this)."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection


def _migrations_dir() -> Path:
    candidates = [
        Path(os.environ.get("SCHEDULER_MIGRATIONS_DIR", "")),
        Path.cwd() / "migrations",
        Path(__file__).resolve().parents[2] / "migrations",
    ]
    for candidate in candidates:
        if str(candidate) not in ("", ".") and (candidate / "env.py").is_file():
            return candidate
    msg = "cannot find the migrations/ folder; set SCHEDULER_MIGRATIONS_DIR"
    raise RuntimeError(msg)


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(_migrations_dir()))
    config.attributes["database_url"] = database_url
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(database_url), revision)


def downgrade(database_url: str, revision: str = "base") -> None:
    command.downgrade(alembic_config(database_url), revision)


def check(database_url: str) -> None:
    """Fail when the models and the migrations disagree (``alembic check``)."""
    command.check(alembic_config(database_url))


@lru_cache(maxsize=1)
def head_revisions() -> frozenset[str]:
    """The revisions a fully migrated database is at (read once from the migrations folder)."""
    script = ScriptDirectory(str(_migrations_dir()))
    return frozenset(script.get_heads())


def current_revisions(connection: Connection) -> frozenset[str]:
    """The revisions the database behind ``connection`` is at (empty when never migrated)."""
    return frozenset(MigrationContext.configure(connection).get_current_heads())
