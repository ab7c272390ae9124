"""Touches an operator must settle: messages interrupted mid-send, now `in_doubt`."""

from __future__ import annotations

from typing import Any, Literal

from sqlmodel.ext.asyncio.session import AsyncSession

from orchestrator.clock import Clock
from orchestrator.errors import Conflict, NotFound
from orchestrator.models import Touch
from orchestrator.store.touches import TouchStore

__all__ = ["Resolution", "TouchService"]

#: `sent`: the operator knows it went out; `resend`: queue it again (same Message-ID).
Resolution = Literal["sent", "resend"]


class TouchService:
    """Lists and resolves the touches no sender can settle by itself."""

    def __init__(self, session: AsyncSession, clock: Clock) -> None:
        self._touches = TouchStore(session)
        self._clock = clock

    async def in_doubt(self, limit: int = 1000) -> list[Touch]:
        """Touches in doubt, the longest waiting first."""
        return await self._touches.in_doubt(limit)

    async def resolve(self, touch_id: int, resolution: Resolution) -> Touch:
        """Settle a touch in doubt: mark it sent, or queue it to be sent again."""
        now = self._clock.now()
        values: dict[str, Any] = {"lease_until": None, "error": None, "updated_at": now}
        if resolution == "sent":
            values.update(status="sent", sent_at=now)
        else:
            values.update(status="queued", retry_at=None)
        touch = await self._touches.settle_in_doubt(touch_id, values)
        if touch is not None:
            return touch
        found = await self._touches.get(touch_id)
        if found is None:
            raise NotFound(f"touch {touch_id} does not exist")
        raise Conflict(f"touch {touch_id} is {found.status}, not in doubt; nothing to resolve")
