"""The application factory: routers, middleware, error rendering and the lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline

from app.errors import install_error_handlers
from app.middleware import BodySizeLimit, RequestContext
from app.routers import (
    campaigns,
    contacts,
    events,
    health,
    home,
    keys,
    policy,
    preference_center,
    tasks,
    touches,
    tracking,
    webhooks,
)
from app.runtime import start_runtime
from app.schemas.problems import problems_as_problem_json
from app.settings import Settings, get_settings
from orchestrator.clock import Clock, SystemClock

__all__ = ["create_app"]

_DESCRIPTION = """\
Kizuna orchestrates campaigns across email, phone, direct mail and social networks, with
one contact-frequency policy for every campaign and channel.

Authenticate with `Authorization: Bearer <api key>`. Errors are `application/problem+json`
(RFC 9457) with every validation problem listed.
"""


def create_app(
    settings: Settings | None = None, *, clock: Clock | None = None, run_engine: bool = False
) -> FastAPI:
    """A Kizuna API application; it connects to the database when its lifespan starts and,
    with `run_engine`, runs the dispatcher, the outbox and the schedules beside the API."""
    settings = settings or get_settings()
    clock = clock or SystemClock()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime = await start_runtime(settings, clock)
        app.state.runtime = runtime
        if run_engine:
            runtime.start_engine()
        try:
            yield
        finally:
            await runtime.close()

    # The docs pages load Swagger UI and ReDoc from files shipped with fastapi-offline, not
    # from a CDN: they work offline and behind a firewall.
    app = FastAPIOffline(
        title="Kizuna",
        version="0.1.0",
        description=_DESCRIPTION,
        lifespan=lifespan,
        static_url="/static/docs",
    )
    install_error_handlers(app)
    app.include_router(home.router)
    app.include_router(health.router)
    app.include_router(contacts.router)
    app.include_router(campaigns.router)
    app.include_router(policy.router)
    app.include_router(tasks.router)
    app.include_router(touches.router)
    app.include_router(events.router)
    app.include_router(keys.router)
    app.include_router(tracking.router)
    app.include_router(preference_center.router)
    app.include_router(webhooks.router)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(RequestContext)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = problems_as_problem_json(FastAPI.openapi(app))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app
