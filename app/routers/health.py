"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from app.deps import RuntimeDep
from app.errors import problem_response
from app.schemas.problems import problem_responses

router = APIRouter(tags=["operations"])

_bearer = HTTPBearer(
    auto_error=False, description="`KIZUNA_METRICS_TOKEN`, when set: `Authorization: Bearer ...`"
)


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


async def _metrics_token(
    runtime: RuntimeDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    """Lets the request by when no metrics token is set, or when it brings the token."""
    expected = runtime.settings.metrics_token
    if expected is None:
        return
    given = "" if credentials is None else credentials.credentials
    if not hmac.compare_digest(given.encode(), expected.get_secret_value().encode()):
        raise HTTPException(
            401,
            "Send the metrics token as `Authorization: Bearer <token>`.",
            {"WWW-Authenticate": "Bearer"},
        )


@router.get(
    "/metrics",
    response_class=Response,
    dependencies=[Depends(_metrics_token)],
    responses=problem_responses(401),
)
async def metrics() -> Response:
    """Prometheus text exposition; with `KIZUNA_METRICS_TOKEN` set, for its bearer only."""
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
