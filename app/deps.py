"""FastAPI dependencies as `Annotated` aliases: the runtime, a unit of work, the caller's key."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlmodel.ext.asyncio.session import AsyncSession

from app.runtime import Runtime
from orchestrator.contact_fields import PHONE_REGION

__all__ = ["RuntimeDep", "SessionDep", "contact_validation"]


def get_runtime(request: Request) -> Runtime:
    """The runtime the lifespan built."""
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


async def get_session(runtime: RuntimeDep) -> AsyncIterator[AsyncSession]:
    """One transaction per request: committed when the handler succeeds, else rolled back.

    Declared with `scope="function"`, so the commit happens before the response is sent and
    a failing commit still reaches the client as an error.
    """
    async with runtime.sessions() as session:
        try:
            yield session
        except BaseException:
            await session.rollback()
            raise
        await session.commit()


SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]


async def contact_validation(runtime: RuntimeDep) -> None:
    """Read national phone numbers in the configured country while this request validates.

    Router-level dependencies run before FastAPI validates the body, in the same task.
    """
    PHONE_REGION.set(runtime.settings.default_phone_region)
