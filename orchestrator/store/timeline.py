"""The queries behind a contact's timeline: touches, events, consent and preference
changes, and their enrollments starting and ending, by time."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, or_
from sqlmodel import SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from orchestrator.models import Campaign, ConsentLog, Enrollment, Event, PreferenceLog, Touch

__all__ = ["KINDS", "RANK", "Position", "TimelineStore"]

#: Entry kinds with their table and time column, in tie-break order: at the same instant
#: a later kind comes first (an enrollment starts before its touches, ends after them).
KINDS: dict[str, tuple[type[SQLModel], str]] = {
    "consent": (ConsentLog, "recorded_at"),
    "preference": (PreferenceLog, "recorded_at"),
    "enrollment_started": (Enrollment, "created_at"),
    "event": (Event, "occurred_at"),
    "touch": (Touch, "created_at"),
    "enrollment_ended": (Enrollment, "finished_at"),
}
#: The kinds whose rows belong to a campaign: they come with its name.
_OF_CAMPAIGN = frozenset({"enrollment_started", "touch", "enrollment_ended"})
RANK = {kind: rank for rank, kind in enumerate(KINDS)}

#: A place in the timeline: (instant, kind, id); pages hold what comes strictly after it.
Position = tuple[datetime, str, int]


class TimelineStore:
    """Newest-first pages of each kind of timeline entry, for one contact."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def page(
        self, kind: str, contact_id: int, before: Position | None, limit: int
    ) -> list[tuple[Any, str | None]]:
        """Up to `limit` entries of `kind`, newest first, that sort after `before`, each
        with the name of its campaign (None for a kind that has none)."""
        model, time_attribute = KINDS[kind]
        at = col(getattr(model, time_attribute))
        row_id = col(model.id)  # type: ignore[attr-defined]
        conditions = [col(model.contact_id) == contact_id, at.is_not(None)]  # type: ignore[attr-defined]
        if before is not None:
            conditions.append(_after(at, row_id, RANK[kind], before))
        order = (at.desc(), row_id.desc())
        if kind not in _OF_CAMPAIGN:
            rows = await self._session.exec(
                select(model).where(*conditions).order_by(*order).limit(limit)
            )
            return [(row, None) for row in rows]
        campaign_id = col(model.campaign_id)  # type: ignore[attr-defined]
        query = (
            select(model, Campaign.name)
            .outerjoin(Campaign, col(Campaign.id) == campaign_id)
            .where(*conditions)
            .order_by(*order)
            .limit(limit)
            # An enrollment is read once as started and once as ended: the second read must
            # see what the engine committed in between (its end), not the first read's row.
            .execution_options(populate_existing=True)
        )
        return [(row, name) for row, name in await self._session.exec(query)]


def _after(at: Any, row_id: Any, rank: int, before: Position) -> ColumnElement[bool]:
    """Rows sorting after `before` in (time desc, kind rank desc, id desc) order."""
    before_at, before_kind, before_id = before
    before_rank = RANK[before_kind]
    if rank < before_rank:
        return at <= before_at  # type: ignore[no-any-return]
    if rank > before_rank:
        return at < before_at  # type: ignore[no-any-return]
    return or_(at < before_at, and_(at == before_at, row_id < before_id))
