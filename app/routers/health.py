"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

import hmac
from datetime import datetime
from typing import Annotated, Any

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
    """The database answers and, where this process runs it, the scheduler is alive: 200.
    `status` is `degraded` while a `send` channel's far end (the SMTP relay) failed its last
    delivery: the API still serves, and the mail waits for its retry."""
    try:
        async with runtime.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except Exception as exc:  # whatever the failure, the answer is "not ready"
        return problem_response(503, f"database unreachable: {type(exc).__name__}")
    body: dict[str, Any] = {"status": "ready", "database": "ok"}
    if runtime.scheduler is not None:
        if not runtime.scheduler.alive:
            return problem_response(503, "the scheduler is not running")
        body["scheduler"] = "ok"
    channels = runtime.delivery_health.channels()
    body["channels"] = {
        name: {
            "status": "ok" if health.reachable else "degraded",
            "reachable": health.reachable,
            "last_error": health.last_error,
            "last_failure_at": _instant(health.last_failure_at),
            "last_success_at": _instant(health.last_success_at),
        }
        for name, health in sorted(channels.items())
    }
    if not all(health.reachable for health in channels.values()):
        body["status"] = "degraded"
    return JSONResponse(body)


def _instant(at: datetime | None) -> str | None:
    return None if at is None else at.isoformat()


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
