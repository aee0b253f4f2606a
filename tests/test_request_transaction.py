"""One request, one transaction, committed before the response is sent.

With ``CommitRoute`` a sync endpoint's transaction is committed in the endpoint's own worker
thread (one trip through the threadpool instead of two). These tests use real databases with
real commits (no test-wide rollback): what a client was told is what another connection finds.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, event, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from scheduler.db.engine import build_engine, build_sessionmaker
from scheduler.errors import Conflict
from scheduler.http.problems import install_error_handlers
from scheduler.http.routes import CommitRoute
from scheduler.http.transaction import SessionDep
from tests.conftest import dispose_database, fresh_database_url, make_settings


class _Base(DeclarativeBase):
    pass


class Parent(_Base):
    __tablename__ = "parent"
    id: Mapped[int] = mapped_column(primary_key=True)


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    url = fresh_database_url(request.param, tmp_path, "request_tx")
    engine = build_engine(make_settings(url))
    deferred = "DEFERRABLE INITIALLY DEFERRED"
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE parent (id INTEGER PRIMARY KEY)"))
        conn.execute(
            text(
                "CREATE TABLE child (id INTEGER PRIMARY KEY, "
                f"parent_id INTEGER NOT NULL REFERENCES parent (id) {deferred})"
            )
        )
    yield engine
    engine.dispose()
    dispose_database(url)


def _app(engine: Engine, commits: list[int], endpoint_threads: list[int]) -> FastAPI:
    @event.listens_for(engine, "commit")
    def _on_commit(_conn: Any) -> None:
        commits.append(threading.get_ident())

    router = APIRouter(route_class=CommitRoute)

    @router.post("/parents/{parent_id}", status_code=201)
    def add_parent(parent_id: int, session: SessionDep) -> dict[str, int]:
        endpoint_threads.append(threading.get_ident())
        session.execute(text("INSERT INTO parent (id) VALUES (:id)"), {"id": parent_id})
        return {"id": parent_id}

    @router.post("/parents/{parent_id}/refused")
    def add_then_refuse(parent_id: int, session: SessionDep) -> dict[str, int]:
        session.execute(text("INSERT INTO parent (id) VALUES (:id)"), {"id": parent_id})
        raise Conflict("refused after writing", code="refused")

    @router.post("/locked-then-refused")
    def lock_then_refuse(session: SessionDep) -> dict[str, int]:
        # Reads only (PostgreSQL: and takes a lock held to the end of the transaction).
        session.execute(text("SELECT count(*) FROM parent")).scalar_one()
        if engine.dialect.name == "postgresql":
            session.execute(text("SELECT pg_advisory_xact_lock(4242)"))
        raise Conflict("refused after reading", code="refused")

    @router.post("/orphans/{child_id}", status_code=201)
    def add_orphan(child_id: int, session: SessionDep) -> dict[str, int]:
        # The foreign key is checked only at COMMIT: the commit itself fails.
        session.execute(
            text("INSERT INTO child (id, parent_id) VALUES (:id, :parent)"),
            {"id": child_id, "parent": 999},
        )
        return {"id": child_id}

    @router.post("/parents/{parent_id}/again", status_code=201)
    def add_parent_again(parent_id: int, session: SessionDep) -> dict[str, int]:
        # The ORM's flush fails: the session then needs a rollback before anything else.
        session.add(Parent(id=parent_id))
        session.flush()
        return {"id": parent_id}

    app = FastAPI()
    app.state.sessionmaker = build_sessionmaker(engine)
    install_error_handlers(app)
    app.include_router(router)
    return app


def _count(engine: Engine, table: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())


def test_a_success_is_committed_in_the_endpoints_thread_before_the_answer(
    engine: Engine,
) -> None:
    commits: list[int] = []
    threads: list[int] = []
    with TestClient(_app(engine, commits, threads)) as client:
        response = client.post("/parents/1")
        assert response.status_code == 201
        assert _count(engine, "parent") == 1  # another connection sees it already
    assert commits == threads  # one commit, in the thread that ran the endpoint


def test_an_error_after_a_write_keeps_nothing(engine: Engine) -> None:
    with TestClient(_app(engine, [], []), raise_server_exceptions=False) as client:
        response = client.post("/parents/2/refused")
        assert response.status_code == 409
        assert response.json()["code"] == "refused"
    assert _count(engine, "parent") == 0


def test_a_commit_that_fails_is_the_answer_not_a_success(engine: Engine) -> None:
    with TestClient(_app(engine, [], []), raise_server_exceptions=False) as client:
        response = client.post("/orphans/1")
        assert response.status_code == 409
        assert response.headers["content-type"].startswith("application/problem+json")
        # The session is usable again for the next request.
        assert client.post("/parents/3").status_code == 201
    assert _count(engine, "child") == 0
    assert _count(engine, "parent") == 1


def test_a_request_refused_after_only_reading_ends_and_frees_its_locks(engine: Engine) -> None:
    """Such a transaction is committed rather than rolled back on PostgreSQL (psycopg keeps
    its prepared statements); either way it must end, its locks released at once."""
    with TestClient(_app(engine, [], []), raise_server_exceptions=False) as client:
        assert client.post("/locked-then-refused").status_code == 409
        assert client.post("/parents/5").status_code == 201  # SQLite's write lock is free
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            assert conn.execute(text("SELECT pg_try_advisory_xact_lock(4242)")).scalar_one()
    assert _count(engine, "parent") == 1


def test_an_error_at_flush_is_answered_as_itself(engine: Engine) -> None:
    """A flush that fails leaves the session needing a rollback; ending the request must not
    ask it anything first (that raised PendingRollbackError, a 500 hiding the real cause)."""
    with TestClient(_app(engine, [], []), raise_server_exceptions=False) as client:
        assert client.post("/parents/7").status_code == 201
        response = client.post("/parents/7/again")
        assert response.status_code == 409, response.text
        assert response.json()["code"] == "already_exists"
        assert client.post("/parents/8").status_code == 201
    assert _count(engine, "parent") == 2
