"""Liveness and readiness probes (for docker compose and load balancers)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from scheduler.db import open_session
from scheduler.errors import problem_response
from scheduler.migrate import current_revisions, head_revisions

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="The process is up")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="The database is reachable and fully migrated")
def readyz(request: Request) -> JSONResponse:
    """503 until the database answers and is at the migrations' head.

    A process started before ``scheduler migrate`` finished (or from a newer image than the
    database) must not take traffic: its queries would meet missing tables or columns.
    """
    try:
        with open_session(request.app.state.sessionmaker, read_only=True) as session:
            session.execute(text("SELECT 1"))
            current = current_revisions(session.connection())
    except SQLAlchemyError:
        return problem_response(
            status=503,
            code="database_unavailable",
            title="Not ready",
            detail="The database cannot be reached.",
        )
    expected = head_revisions()
    if current != expected:
        return problem_response(
            status=503,
            code="migrations_pending",
            title="Not ready",
            detail=(
                f"The database is at revision {', '.join(sorted(current)) or 'none'}, this "
                f"version needs {', '.join(sorted(expected))}: run `scheduler migrate`."
            ),
        )
    return JSONResponse({"status": "ready", "database": "ok", "migrations": "head"})
