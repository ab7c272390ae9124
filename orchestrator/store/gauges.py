"""The aggregates `/metrics` reads at scrape time. Each query names the channels and statuses
it counts, so it runs as range scans of `ix_touch_channel_status_created` (or the partial
`ix_enrollment_due`) and never reads the whole touch table: open touches are few whatever
the history, and final ones are counted over a recent window only."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from orchestrator.models import Enrollment, Touch

__all__ = [
    "DECISIONS",
    "OPEN_STATUSES",
    "TOUCH_STATUSES",
    "GaugeStore",
    "OpenTouches",
    "TouchCount",
]

_touch = Touch.__table__  # type: ignore[attr-defined]
_enrollment = Enrollment.__table__  # type: ignore[attr-defined]

#: Every status a touch takes (see `Touch`): the index is searched status by status.
TOUCH_STATUSES = (
    "blocked",
    "deferred",
    "queued",
    "claimed",
    "sending",
    "sent",
    "completed",
    "failed",
    "in_doubt",
    "canceled",
)
#: Touches waiting for someone: a sender or a worker (queued, claimed), an operator (in doubt).
OPEN_STATUSES = ("queued", "claimed", "in_doubt")
#: The policy's decisions that stop a touch.
DECISIONS = ("blocked", "deferred")


@dataclass(frozen=True)
class OpenTouches:
    """How many touches of a channel wait in a status, and when the oldest was created."""

    channel: str
    status: str
    count: int
    oldest: datetime


@dataclass(frozen=True)
class TouchCount:
    """Touches counted under two labels: (channel, status), or (rule, decision)."""

    first: str
    second: str
    count: int


class GaugeStore:
    """Counts and ages of the engine's work, for the metrics."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def oldest_due(self, now: datetime) -> datetime | None:
        """The `next_action_at` of the earliest active enrollment due by `now`."""
        query = select(func.min(_enrollment.c.next_action_at)).where(
            _enrollment.c.state == "active", _enrollment.c.next_action_at <= now
        )
        oldest: datetime | None = (await self._session.exec(query)).one()
        return oldest

    async def open_touches(self, channels: Collection[str]) -> list[OpenTouches]:
        """Open touches of `channels`, by channel and status (absent where there are none)."""
        if not channels:
            return []
        query = (
            select(_touch.c.channel, _touch.c.status, func.count(), func.min(_touch.c.created_at))
            .where(_touch.c.channel.in_(sorted(channels)), _touch.c.status.in_(OPEN_STATUSES))
            .group_by(_touch.c.channel, _touch.c.status)
        )
        rows = (await self._session.exec(query)).all()
        return [
            OpenTouches(channel, status, count, oldest) for channel, status, count, oldest in rows
        ]

    async def touches_since(self, channels: Collection[str], since: datetime) -> list[TouchCount]:
        """Touches of `channels` created since `since`, by channel and current status."""
        if not channels:
            return []
        query = (
            select(_touch.c.channel, _touch.c.status, func.count())
            .where(
                _touch.c.channel.in_(sorted(channels)),
                _touch.c.status.in_(TOUCH_STATUSES),
                _touch.c.created_at >= since,
            )
            .group_by(_touch.c.channel, _touch.c.status)
        )
        return [TouchCount(*row) for row in (await self._session.exec(query)).all()]

    async def decisions_since(self, channels: Collection[str], since: datetime) -> list[TouchCount]:
        """Touches of `channels` blocked or deferred since `since`, by binding rule and
        decision; the rule is read from the table only for those rows."""
        if not channels:
            return []
        query = (
            select(_touch.c.rule, _touch.c.status, func.count())
            .where(
                _touch.c.channel.in_(sorted(channels)),
                _touch.c.status.in_(DECISIONS),
                _touch.c.created_at >= since,
            )
            .group_by(_touch.c.rule, _touch.c.status)
        )
        rows = (await self._session.exec(query)).all()
        return [TouchCount(rule or "none", status, count) for rule, status, count in rows]
