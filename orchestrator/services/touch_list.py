"""The touch list: what campaigns did, to whom, and what the policy held back, newest first."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import UTC, datetime

import orjson
from sqlmodel.ext.asyncio.session import AsyncSession

from orchestrator.errors import InvalidInput
from orchestrator.models import Touch
from orchestrator.store.touch_list import TouchFilter, TouchListStore, TouchPlace

__all__ = ["ListedTouch", "TouchFilter", "TouchListService", "TouchPage"]

_EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
_LATEST = datetime(3000, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class ListedTouch:
    """A touch and the name of its campaign."""

    touch: Touch
    campaign_name: str | None


@dataclass(frozen=True)
class TouchPage:
    """Touches newest first; `next_cursor` fetches the older ones, None at the end."""

    touches: list[ListedTouch]
    next_cursor: str | None


class TouchListService:
    """Reads touches a page at a time."""

    def __init__(self, session: AsyncSession) -> None:
        self._touches = TouchListStore(session)

    async def page(self, where: TouchFilter, cursor: str | None, limit: int) -> TouchPage:
        """The `limit` newest touches matching `where`, older than `cursor`."""
        before = _decode(cursor) if cursor else None
        _check_range(where)
        rows = await self._touches.page(where, before, limit + 1)
        page = [ListedTouch(touch, name) for touch, name in rows[:limit]]
        if len(rows) <= limit:
            return TouchPage(page, None)
        last = page[-1].touch
        assert last.id is not None
        return TouchPage(page, _encode((last.created_at, last.id)))


def _check_range(where: TouchFilter) -> None:
    """`since` and `until` within the years a touch can have, `since` not after `until`."""
    errors = [
        {"loc": ["query", name], "msg": "outside 1970 to 3000", "type": "time_range"}
        for name, at in (("since", where.since), ("until", where.until))
        if at is not None and not _EARLIEST <= at <= _LATEST
    ]
    if not errors and where.since and where.until and where.since > where.until:
        errors = [{"loc": ["query", "since"], "msg": "after until", "type": "time_range"}]
    if errors:
        raise InvalidInput("The time range holds no touch.", errors=errors)


def _encode(place: TouchPlace) -> str:
    at, touch_id = place
    raw = orjson.dumps([at.isoformat(), touch_id])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(cursor: str) -> TouchPlace:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        at, touch_id = orjson.loads(raw)
        instant = datetime.fromisoformat(at)
        if instant.tzinfo is None or not _EARLIEST <= instant <= _LATEST:
            raise ValueError(at)
        if not isinstance(touch_id, int) or not 0 < touch_id < 2**63:
            raise ValueError(touch_id)
    except (binascii.Error, ValueError, TypeError, orjson.JSONDecodeError) as exc:
        raise InvalidInput(
            "The cursor is not one this API gave out.",
            errors=[{"loc": ["query", "cursor"], "msg": "unreadable cursor", "type": "cursor"}],
        ) from exc
    return instant, touch_id
