"""Idempotency-Key on PostgreSQL, where two requests with one key can run side by side: the
second is told at once that the first is in flight (409), and once the first committed, it
gets the first one's answer replayed. Exactly one row is written either way."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel
from sqlalchemy import Engine, text
from sqlmodel import Session

from scheduler.db.engine import build_engine
from scheduler.errors import Conflict, InvalidInput
from scheduler.idempotency.service import Outcome, create_once
from scheduler.migrate import upgrade
from tests.conftest import dispose_database, fresh_database_url, make_settings

NOW = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)


class Body(BaseModel):
    name: str


@pytest.fixture
def pg(tmp_path: Path) -> Iterator[Engine]:
    url = fresh_database_url("postgresql", tmp_path, "idempotency")
    upgrade(url)
    engine = build_engine(make_settings(url))
    yield engine
    engine.dispose()
    dispose_database(url)


def _create(session: Session, body: Body, created: list[str]) -> Outcome:
    def produce() -> tuple[int, dict[str, Any]]:
        created.append(body.name)
        return 201, {"id": len(created), "name": body.name}

    return create_once(
        session,
        scope="user:1",
        key="twice-clicked",
        path="/things",
        request=body,
        now=NOW,
        produce=produce,
    )


def test_a_twin_in_flight_is_409_then_replays_after_the_first_commits(pg: Engine) -> None:
    created: list[str] = []
    with Session(pg) as first, Session(pg) as twin:
        answer = _create(first, Body(name="a"), created)
        assert (answer.status_code, answer.replayed) == (201, False)
        # The first transaction is still open: the twin must not wait, nor run.
        with pytest.raises(Conflict) as in_flight:
            _create(twin, Body(name="a"), created)
        assert in_flight.value.code == "idempotency_conflict"
        twin.rollback()
        first.commit()
        replayed = _create(twin, Body(name="a"), created)
        assert replayed == Outcome(201, {"id": 1, "name": "a"}, replayed=True)
        with pytest.raises(InvalidInput) as reused:
            _create(twin, Body(name="b"), created)
        assert reused.value.code == "idempotency_key_reused"
        twin.rollback()
    assert created == ["a"]
    with pg.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM idempotency_record")).scalar_one() == 1


def test_a_first_request_that_fails_leaves_the_key_free(pg: Engine) -> None:
    created: list[str] = []
    with Session(pg) as first, Session(pg) as retry:
        _create(first, Body(name="a"), created)
        first.rollback()  # the first attempt failed after its work: nothing was kept
        answer = _create(retry, Body(name="a"), created)
        assert (answer.status_code, answer.replayed) == (201, False)
        retry.commit()
    assert created == ["a", "a"]
