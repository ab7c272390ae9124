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
from app.metrics import publish_gauges
from app.runtime import Runtime
from app.schemas.problems import problem_responses
from orchestrator.delivery_health import ChannelHealth

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
    `status` is `degraded` while a `send` channel's far end (the SMTP relay, the SNS bridge)
    failed its last delivery: the API still serves, and the message waits for its retry."""
    body: dict[str, Any] = {"status": "ready"}
    scheduler = runtime.scheduler
    # The scheduler first: on SQLite a pass stuck on the database holds the one connection
    # the database check would wait for.
    if scheduler is not None:
        if not scheduler.alive:
            return problem_response(503, "the scheduler is not running")
        age = scheduler.heartbeat_age()
        if age > scheduler.stall_after:
            return problem_response(
                503,
                f"the scheduler is stalled: no dispatch pass started or ended for {age:.1f} s "
                f"(at most {scheduler.stall_after:.1f} s)",
            )
    try:
        async with runtime.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except Exception as exc:  # whatever the failure, the answer is "not ready"
        return problem_response(503, f"database unreachable: {type(exc).__name__}")
    body["database"] = "ok"
    if scheduler is not None:
        body["scheduler"] = "ok"
        body["scheduler_heartbeat_seconds"] = round(scheduler.heartbeat_age(), 3)
    channels = _send_channels(runtime)
    body["channels"] = {name: _channel_state(health) for name, health in channels.items()}
    if any(health is not None and not health.reachable for health in channels.values()):
        body["status"] = "degraded"
    return JSONResponse(body)


def _send_channels(runtime: Runtime) -> dict[str, ChannelHealth | None]:
    """The `send` channels this process delivered on, and, where it runs the engine, those
    it may deliver on (None: nothing tried yet), by name."""
    known = runtime.delivery_health.channels()
    names = set(known)
    if runtime.scheduler is not None:
        names |= {name for name, channel in runtime.channels.items() if channel.mode == "send"}
    return {name: known.get(name) for name in sorted(names)}


def _channel_state(health: ChannelHealth | None) -> dict[str, Any]:
    if health is None:
        return {"status": "unknown", "reachable": None, "last_error": None,
                "last_failure_at": None, "last_success_at": None}  # fmt: skip
    return {
        "status": "ok" if health.reachable else "degraded",
        "reachable": health.reachable,
        "last_error": health.last_error,
        "last_failure_at": _instant(health.last_failure_at),
        "last_success_at": _instant(health.last_success_at),
    }


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
async def metrics(runtime: RuntimeDep) -> Response:
    """Prometheus text exposition; with `KIZUNA_METRICS_TOKEN` set, for its bearer only. The
    engine's gauges are read from the database now, in a few aggregate queries."""
    await publish_gauges(runtime.sessions, runtime.clock.now(), runtime.channels)
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
