"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from app.deps import RuntimeDep
from app.errors import problem_response
from app.schemas.problems import problem_responses

router = APIRouter(tags=["operations"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/readyz", responses=problem_responses(503))
async def readyz(runtime: RuntimeDep) -> JSONResponse:
    """The database answers and, where this process runs it, the scheduler is alive."""
    try:
        async with runtime.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except Exception as exc:  # whatever the failure, the answer is "not ready"
        return problem_response(503, f"database unreachable: {type(exc).__name__}")
    body = {"status": "ready", "database": "ok"}
    if runtime.scheduler is not None:
        if not runtime.scheduler.alive:
            return problem_response(503, "the scheduler is not running")
        body["scheduler"] = "ok"
    return JSONResponse(body)


@router.get("/metrics", response_class=Response)
async def metrics() -> Response:
    """Prometheus text exposition."""
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
