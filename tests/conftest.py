"""Shared fixtures: every database test runs on SQLite and on PostgreSQL.

PostgreSQL comes from ``SCHEDULER_TEST_DATABASE_URL`` (a server URL whose database name is used
as a prefix for the throwaway test databases). In CI (``CI`` set) a missing PostgreSQL is a
failure, not a skip. Each test runs inside a transaction that is rolled back afterwards
(SQLAlchemy's "join into an external transaction" recipe with savepoints), so tests see a
clean, migrated database without paying for a migration each.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from scheduler.config import Settings
from scheduler.db.engine import build_engine
from scheduler.kit.clock import FrozenClock
from scheduler.main import create_app
from scheduler.migrate import upgrade

TEST_SECRET = "test-secret-key-that-is-long-enough-0123456789"
# Monday 2 March 2026, 09:00 in New York: before the US spring-forward on 8 March.
DEFAULT_NOW = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)
BACKENDS = ("sqlite", "postgresql")

pytest_plugins = ["tests.clinic_fixture"]


def postgres_base_url() -> str | None:
    url = os.environ.get("SCHEDULER_TEST_DATABASE_URL")
    if url:
        return url
    if os.environ.get("CI"):
        pytest.fail("CI must run the suite on PostgreSQL too: set SCHEDULER_TEST_DATABASE_URL")
    return None


def create_pg_database(base_url: str, suffix: str) -> str:
    """Create a fresh, empty database next to ``base_url``'s and return its URL."""
    url = make_url(base_url)
    name = f"{url.database or 'scheduler_test'}_{suffix}_{os.getpid()}"
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return url.set(database=name).render_as_string(hide_password=False)


def drop_pg_database(db_url: str) -> None:
    url = make_url(db_url)
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))
    admin.dispose()


def fresh_database_url(backend: str, tmp_dir: Path, suffix: str) -> str:
    """An empty database of ``backend`` (a file for SQLite), not yet migrated."""
    if backend == "sqlite":
        return f"sqlite:///{tmp_dir / f'{suffix}.db'}"
    base = postgres_base_url()
    if base is None:
        pytest.skip("PostgreSQL not configured: set SCHEDULER_TEST_DATABASE_URL")
    return create_pg_database(base, suffix)


def dispose_database(url: str) -> None:
    if url.startswith("postgresql"):
        drop_pg_database(url)


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="session")
def database_url(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    url = fresh_database_url(backend, tmp_path_factory.mktemp(backend), "shared")
    upgrade(url)
    yield url
    dispose_database(url)


def make_settings(database_url: str, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "environment": "test",
        "database_url": database_url,
        "secret_key": TEST_SECRET,
        "rate_limit_enabled": False,
    }
    values.update(overrides)
    return Settings.model_validate(values)


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    engine = build_engine(make_settings(database_url))
    yield engine
    engine.dispose()


@pytest.fixture
def connection(engine: Engine) -> Iterator[Connection]:
    with engine.connect() as conn:
        outer = conn.begin()
        yield conn
        outer.rollback()


@pytest.fixture
def session_factory(connection: Connection) -> sessionmaker[Session]:
    return sessionmaker(
        bind=connection,
        class_=Session,
        expire_on_commit=False,
        join_transaction_mode="create_savepoint",
    )


@pytest.fixture
def db(session_factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session on the test's transaction, for factories and direct assertions."""
    with session_factory() as session:
        yield session


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(DEFAULT_NOW)


@pytest.fixture
def settings(database_url: str) -> Settings:
    return make_settings(database_url)


@pytest.fixture
def app(settings: Settings, clock: FrozenClock, session_factory: sessionmaker[Session]) -> FastAPI:
    return create_app(settings, clock=clock, session_factory=session_factory)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def admin_headers(db: Session, settings: Settings, clock: FrozenClock) -> dict[str, str]:
    from tests.factories import auth_headers, make_user

    return auth_headers(make_user(db, role="admin"), settings, clock.now())


@pytest.fixture
def desk_headers(db: Session, settings: Settings, clock: FrozenClock) -> dict[str, str]:
    from tests.factories import auth_headers, make_user

    return auth_headers(make_user(db, role="front_desk"), settings, clock.now())
