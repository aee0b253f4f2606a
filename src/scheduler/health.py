"""Liveness and readiness probes (for docker compose and load balancers)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from scheduler.db.engine import open_session
from scheduler.http.problems import problem_response

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="The process is up")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="The process can reach its database")
def readyz(request: Request) -> JSONResponse:
    try:
        with open_session(request.app.state.sessionmaker, read_only=True) as session:
            session.execute(text("SELECT 1"))
    except SQLAlchemyError:
        return problem_response(
            status=503,
            code="database_unavailable",
            title="Not ready",
            detail="The database cannot be reached.",
        )
    return JSONResponse({"status": "ready", "database": "ok"})
