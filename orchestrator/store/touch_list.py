"""The query behind the touch list: touches filtered and paged newest first, with their
campaign's name."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, and_, or_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from orchestrator.models import Campaign, Touch
from orchestrator.store.holds import held_by

__all__ = ["TouchFilter", "TouchListStore", "TouchPlace"]

#: Where a page ends: (created_at, id) of its last touch; the next page is older.
TouchPlace = tuple[datetime, int]


@dataclass(frozen=True)
class TouchFilter:
    """Which touches to list; None leaves a field unfiltered. `rule` is the binding rule,
    `held_by` any rule that held the touch; `since` and `until` bound `created_at`."""

    campaign_id: int | None = None
    step_id: str | None = None
    channel: str | None = None
    status: str | None = None
    rule: str | None = None
    held_by: str | None = None
    contact_id: int | None = None
    since: datetime | None = None
    until: datetime | None = None


class TouchListStore:
    """Pages of touches, newest first."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def page(
        self, where: TouchFilter, before: TouchPlace | None, limit: int
    ) -> list[tuple[Touch, str | None]]:
        """Up to `limit` touches matching `where` older than `before`, each with the name
        of its campaign."""
        created, touch_id = col(Touch.created_at), col(Touch.id)
        query = select(Touch, Campaign.name).outerjoin(
            Campaign, col(Campaign.id) == col(Touch.campaign_id)
        )
        for condition in self._conditions(where):
            query = query.where(condition)
        if before is not None:
            at, last_id = before
            query = query.where(or_(created < at, and_(created == at, touch_id < last_id)))
        query = query.order_by(created.desc(), touch_id.desc()).limit(limit)
        return [(touch, name) for touch, name in await self._session.exec(query)]

    def _conditions(self, where: TouchFilter) -> list[ColumnElement[bool]]:
        equal = {
            "campaign_id": where.campaign_id,
            "step_id": where.step_id,
            "channel": where.channel,
            "status": where.status,
            "rule": where.rule,
            "contact_id": where.contact_id,
        }
        found = [
            col(getattr(Touch, name)) == value for name, value in equal.items() if value is not None
        ]
        if where.held_by is not None:
            found.append(held_by(self._session, where.held_by))
        if where.since is not None:
            found.append(col(Touch.created_at) >= where.since)
        if where.until is not None:
            found.append(col(Touch.created_at) < where.until)
        return found
