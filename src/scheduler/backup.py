"""Back up and restore the database: ``scheduler backup FILE`` / ``scheduler restore FILE``.

- PostgreSQL: ``pg_dump --format=custom`` and ``pg_restore`` (the PostgreSQL client tools must
  be installed and no older than the server; the Docker image ships them). The password is
  handed over in ``PGPASSWORD``, never on a command line that ``ps`` shows.
- SQLite (the embedded default): SQLite's online backup API, so a backup taken while the
  service runs is consistent, and a restore replaces the database's content in one go.

A restore refuses a database that already holds data unless ``clean`` is given: restoring
yesterday's backup over today's bookings must be a decision, not a slip. A backup holds
patients' personal data: store it encrypted and access-controlled like the database itself.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

from sqlalchemy import create_engine, inspect
from sqlalchemy.engine import URL, make_url


class BackupError(Exception):
    """A backup or restore that cannot be done; the message says what to do."""


def backup(database_url: str, target: Path) -> None:
    """Write a consistent copy of the database to ``target`` (overwritten if present)."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        _sqlite_copy(_sqlite_path(url), target)
        return
    _require_postgresql(url)
    partial = target.with_name(target.name + ".partial")
    _run(
        url,
        "pg_dump",
        ["--format=custom", "--no-owner", "--no-privileges", f"--file={partial}"],
    )
    partial.replace(target)  # a failed dump never leaves a file that looks complete


def restore(database_url: str, source: Path, *, clean: bool = False) -> None:
    """Replace the database's content with the backup in ``source``."""
    if not source.is_file():
        raise BackupError(f"no backup file at {source}")
    url = make_url(database_url)
    if has_tables(database_url) and not clean:
        raise BackupError(
            "the database already holds tables; restore into a new, empty database, or pass "
            "--clean to replace everything in it with the backup"
        )
    if url.get_backend_name() == "sqlite":
        _sqlite_copy(source, _sqlite_path(url))
        return
    _require_postgresql(url)
    options = ["--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction"]
    if clean:
        options += ["--clean", "--if-exists"]
    _run(url, "pg_restore", [*options, str(source)])


def has_tables(database_url: str) -> bool:
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            return bool(inspect(connection).get_table_names())
    finally:
        engine.dispose()


def _sqlite_path(url: URL) -> Path:
    if not url.database or url.database == ":memory:":
        raise BackupError("an in-memory SQLite database cannot be backed up or restored")
    return Path(url.database)


def _sqlite_copy(source: Path, target: Path) -> None:
    if not source.is_file():
        raise BackupError(f"no SQLite database at {source}")
    target.parent.mkdir(parents=True, exist_ok=True)
    reader = sqlite3.connect(f"{source.resolve().as_uri()}?mode=ro", uri=True)
    writer = sqlite3.connect(target)
    try:
        reader.backup(writer)
    finally:
        writer.close()
        reader.close()


def _require_postgresql(url: URL) -> None:
    if url.get_backend_name() != "postgresql":
        raise BackupError(f"backups of {url.get_backend_name()} databases are not supported")


def _run(url: URL, tool: str, arguments: list[str]) -> None:
    executable = shutil.which(tool)
    if executable is None:
        raise BackupError(
            f"{tool} is not installed: install the PostgreSQL client tools "
            "(Debian/Ubuntu: apt-get install postgresql-client), no older than the server"
        )
    # libpq's own URL form: no SQLAlchemy driver name, the password in the environment.
    conninfo = url.set(drivername="postgresql", password=None).render_as_string()
    env = dict(os.environ)
    if url.password is not None:
        env["PGPASSWORD"] = str(url.password)
    completed = subprocess.run(  # noqa: S603 - fixed tool, arguments from our own settings
        [executable, f"--dbname={conninfo}", *arguments],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode != 0:
        raise BackupError(f"{tool} failed: {completed.stderr.strip()}")
