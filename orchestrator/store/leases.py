"""All SQL about leased touches: tasks claimed by workers, messages claimed by senders,
their `sending` marks and outcomes, and what becomes of leases that run out."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from functools import cache
from typing import Any, TypedDict

from sqlalchemy import Integer, Text, Update, and_, bindparam, cast, func, or_, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from orchestrator.models import Touch
from orchestrator.store.dialect import is_postgresql, unnest_columns, unnest_params, update_by_id

__all__ = ["DeliveryOutcome", "LeaseStore"]

_touch = Touch.__table__  # type: ignore[attr-defined]


class DeliveryOutcome(TypedDict):
    """What became of a touch its adapter was handed: sent, queued again, or failed."""

    id: int
    status: str
    message_id: str | None
    outcome_data: dict[str, Any] | None
    sent_at: datetime | None
    retry_at: datetime | None
    lease_until: datetime | None
    error: str | None
    updated_at: datetime


@cache
def _settle_and_start(*, settling: bool) -> Update:
    """PostgreSQL, built once: mark the held touches `sending` (and, `settling`, store
    delivery outcomes in the same statement)."""
    held = unnest_columns(_touch, ("id", "attempts"), "held")
    statement = (
        update(_touch)
        .where(
            _touch.c.id == held.c.id,
            _touch.c.attempts == held.c.attempts,
            _touch.c.status == "claimed",
        )
        .values(
            status="sending",
            lease_until=bindparam("lease_until", type_=_touch.c.lease_until.type),
            updated_at=bindparam("now", type_=_touch.c.updated_at.type),
        )
        .returning(_touch.c.id)
    )
    if not settling:
        return statement
    columns = list(DeliveryOutcome.__annotations__)
    outcomes = unnest_columns(_touch, columns, "settled")
    settle = (
        update(_touch)
        .where(_touch.c.id == outcomes.c.id)
        .values({name: outcomes.c[name] for name in columns if name != "id"})
        .returning(_touch.c.id)
    )
    return statement.add_cte(settle.cte("settled"))


class LeaseStore:
    """Leases touches to workers and senders in the session's transaction; never commits."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def claim_tasks(
        self,
        channel: str,
        worker: str,
        key_id: int,
        limit: int,
        lease_until: datetime,
        now: datetime,
        *,
        content_budget: int,
    ) -> list[Touch]:
        """Lease the oldest open tasks of a channel to `worker` under the API key `key_id`
        (expired leases count as open): as many as `limit`, and no more than fit in
        `content_budget` characters of rendered content (always one)."""
        open_tasks = or_(
            _touch.c.status == "queued",
            and_(_touch.c.status == "claimed", _touch.c.lease_until < now),
        )
        return await self._lease(
            [_touch.c.channel == channel, open_tasks],
            limit,
            content_budget=content_budget,
            status="claimed",
            worker=worker,
            claimed_by_key_id=key_id,
            lease_until=lease_until,
            updated_at=now,
        )

    async def claim_outbox(
        self, channels: Collection[str], limit: int, lease_until: datetime, now: datetime
    ) -> list[Touch]:
        """Lease queued touches of `send` channels that are due, marking them `claimed`: a
        claim the sender did not start on goes back to the queue when its lease expires."""
        if not channels:
            return []
        due = [
            _touch.c.channel.in_(list(channels)),
            _touch.c.status == "queued",
            or_(_touch.c.retry_at.is_(None), _touch.c.retry_at <= now),
        ]
        return await self._lease(
            due, limit, status="claimed", lease_until=lease_until, updated_at=now
        )

    async def settle_and_start(
        self,
        settled: Sequence[DeliveryOutcome],
        starting: Collection[Touch],
        lease_until: datetime,
        now: datetime,
    ) -> set[int]:
        """Store what became of delivered touches and mark claimed ones `sending`, right
        before their delivery; the ids of those still held by the claim that returned them
        (one whose lease expired may have gone to another sender, which counted another
        attempt). On PostgreSQL this is one statement, atomic with or without a transaction
        around it: the outbox runs it alone, in one round trip."""
        if not starting:
            await update_by_id(self._session, _touch, settled)
            return set()
        if not is_postgresql(self._session):
            await update_by_id(self._session, _touch, settled)
            return await self._start_sending(starting, lease_until, now)
        held = [{"id": t.id, "attempts": t.attempts} for t in starting]
        params: dict[str, Any] = {"lease_until": lease_until, "now": now}
        params |= unnest_params(held, "held")
        if settled:
            params |= unnest_params(settled, "settled")
        statement = _settle_and_start(settling=bool(settled))
        return set((await self._session.exec(statement, params=params)).scalars().all())

    async def _start_sending(
        self, claimed: Collection[Touch], lease_until: datetime, now: datetime
    ) -> set[int]:
        held = or_(*(and_(_touch.c.id == t.id, _touch.c.attempts == t.attempts) for t in claimed))
        result = await self._session.exec(
            update(_touch)
            .where(held, _touch.c.status == "claimed")
            .values(status="sending", lease_until=lease_until, updated_at=now)
            .returning(_touch.c.id)
        )
        return set(result.scalars().all())

    async def _lease(
        self, where: list[Any], limit: int, *, content_budget: int | None = None, **values: Any
    ) -> list[Touch]:
        """Take the oldest touches matching `where` (on PostgreSQL skipping those another
        transaction holds), within `content_budget` characters of content if given, set
        `values` on them, count the attempt; the touches."""
        size = func.length(cast(_touch.c.content, Text)) if content_budget is not None else 0
        oldest = (
            select(col(Touch.id), cast(func.coalesce(size, 0), Integer))
            .where(*where)
            .order_by(_touch.c.created_at, _touch.c.id)
            .limit(limit)
        )
        if is_postgresql(self._session):
            oldest = oldest.with_for_update(skip_locked=True, key_share=True)
        ids: list[int] = []
        used = 0
        for touch_id, length in (await self._session.exec(oldest)).all():
            assert touch_id is not None
            used += length
            if ids and content_budget is not None and used > content_budget:
                break  # the rest stay where they are, for the next claim
            ids.append(touch_id)
        if not ids:
            return []
        await self._session.exec(
            update(_touch)
            .where(_touch.c.id.in_(ids))
            .values(attempts=_touch.c.attempts + 1, **values)
        )
        result = await self._session.exec(
            select(Touch)
            .where(col(Touch.id).in_(ids))
            .order_by(col(Touch.created_at), col(Touch.id))
        )
        return list(result)

    async def mark_in_doubt(self, now: datetime) -> int:
        """`sending` touches whose lease expired: the process died mid-send. They may or
        may not have gone out, so they are reported, never sent again by themselves."""
        result = await self._session.exec(
            update(_touch)
            .where(_touch.c.status == "sending", _touch.c.lease_until < now)
            .values(status="in_doubt", updated_at=now, error="the sender stopped mid-send")
        )
        return int(result.rowcount)

    async def release_expired_claims(self, now: datetime) -> int:
        """Claimed tasks, and claimed messages no sender started on, whose lease expired go
        back to the queue."""
        result = await self._session.exec(
            update(_touch)
            .where(_touch.c.status == "claimed", _touch.c.lease_until < now)
            .values(
                status="queued",
                worker=None,
                claimed_by_key_id=None,
                lease_until=None,
                updated_at=now,
            )
        )
        return int(result.rowcount)
