"""All SQL about touches: decisions and admitted touches, histories, withdrawals, counts.
Leases (tasks, the outbox) are in `leases`."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any, Literal, TypedDict

from sqlalchemy import and_, func, or_, update
from sqlalchemy import select as select_columns
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from orchestrator.models import Touch
from orchestrator.store.dialect import (
    insert,
    insert_unnested,
    is_postgresql,
    update_by_id,
)
from orchestrator.store.latest import latest_per_contact
from orchestrator.store.leases import DeliveryOutcome
from policies import CountedTouch

__all__ = ["NOT_COUNTED", "NewTouch", "TouchStore", "Withdrawal"]


_touch = Touch.__table__  # type: ignore[attr-defined]

#: Statuses of touches that never reached the contact: caps and throttles ignore them.
NOT_COUNTED = ("blocked", "deferred", "failed", "canceled")

_COUNTED_SQL = f"""
    SELECT contact_id, channel, created_at, weight, category FROM touch
    WHERE contact_id = ANY($1::bigint[]) AND created_at > $2
      AND status NOT IN ({", ".join(f"'{status}'" for status in NOT_COUNTED)})
"""


class NewTouch(TypedDict):
    """A touch as the dispatcher writes it: a decision, or a touch to carry out."""

    contact_id: int
    enrollment_id: int
    campaign_id: int
    campaign_version: int
    step_id: str
    channel: str
    category: str
    status: str
    weight: float
    idempotency_key: str
    rule: str | None
    reason: str | None
    also_held: dict[str, str | None] | None
    policy_version: int | None
    defer_until: datetime | None
    content: dict[str, str]
    error: str | None
    attempts: int
    created_at: datetime
    updated_at: datetime


class Withdrawal(TypedDict):
    """A touch that may no longer go out: canceled, with the reason."""

    id: int
    status: Literal["canceled"]
    worker: None
    rule: str
    reason: str
    lease_until: None
    updated_at: datetime


def _category(value: str) -> Literal["marketing", "transactional"]:
    return "transactional" if value == "transactional" else "marketing"


class TouchStore:
    """Reads and writes touches in the session's transaction; never commits."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add_many(self, rows: Sequence[NewTouch]) -> None:
        """Insert touches; a touch whose idempotency key exists already is left alone."""
        if not rows:
            return
        key = [_touch.c.idempotency_key]
        if is_postgresql(self._session):
            statement = insert_unnested(_touch, rows).on_conflict_do_nothing(index_elements=key)
            await self._session.exec(statement)
        else:
            lenient = insert(self._session, _touch).on_conflict_do_nothing(index_elements=key)
            await self._session.exec(lenient, params=list(rows))

    async def counted_since(
        self, contact_ids: Collection[int], since: datetime
    ) -> list[tuple[int, CountedTouch]]:
        """The contacts' admitted touches since `since`, as caps and gaps count them: only
        the columns the policy reads, for every touch in the batch's windows."""
        if not contact_ids:
            return []
        if is_postgresql(self._session):
            # Admission's hottest read (every counted touch of every contact of a batch):
            # asyncpg's records straight from the driver cost half of SQLAlchemy's rows.
            connection = await self._session.connection()
            driver = (await connection.get_raw_connection()).driver_connection
            assert driver is not None
            records = await driver.fetch(_COUNTED_SQL, list(contact_ids), since)
            return [
                (record[0], CountedTouch(record[1], record[2], record[3], _category(record[4])))
                for record in records
            ]
        columns = (_touch.c.contact_id, _touch.c.channel, _touch.c.created_at, _touch.c.weight)
        query = select_columns(*columns, _touch.c.category).where(
            _touch.c.contact_id.in_(list(contact_ids)),
            _touch.c.created_at > since,
            _touch.c.status.not_in(NOT_COUNTED),
        )
        # sqlmodel's `exec` is typed for up to four columns; this reads five.
        result = await self._session.exec(query)  # type: ignore[call-overload]
        return [
            (contact_id, CountedTouch(channel, at, weight, _category(category)))
            for contact_id, channel, at, weight, category in result.all()
        ]

    async def throttle_counts(
        self, keys: Collection[tuple[int, str]], since: datetime
    ) -> dict[tuple[int, str], list[datetime]]:
        """For each (campaign, channel): when its admitted touches since `since` were made."""
        if not keys:
            return {}
        pairs = or_(*(and_(_touch.c.campaign_id == c, _touch.c.channel == ch) for c, ch in keys))
        result = await self._session.exec(
            select(_touch.c.campaign_id, _touch.c.channel, _touch.c.created_at).where(
                pairs, _touch.c.created_at > since, _touch.c.status.not_in(NOT_COUNTED)
            )
        )
        found: dict[tuple[int, str], list[datetime]] = {key: [] for key in keys}
        for campaign_id, channel, created_at in result:
            found[(campaign_id, channel)].append(created_at)
        return found

    async def latest_for_contacts(self, contact_ids: Collection[int], each: int) -> list[Touch]:
        """Each contact's `each` latest touches, newest first, in one query."""
        if not contact_ids:
            return []
        result = await self._session.exec(
            latest_per_contact(Touch, "created_at", contact_ids, each)
        )
        return list(result)

    async def get(self, touch_id: int, *, lock: bool = False) -> Touch | None:
        """The touch with this id, locked for update if asked."""
        query = select(Touch).where(col(Touch.id) == touch_id)
        if lock and is_postgresql(self._session):
            # Read again under the lock, whatever this session saw of the row before.
            query = query.with_for_update(key_share=True).execution_options(populate_existing=True)
        return (await self._session.exec(query)).first()

    async def record_outcomes(self, rows: Sequence[DeliveryOutcome] | Sequence[Withdrawal]) -> None:
        """Store what became of touches (rows of one kind: each sets the same columns)."""
        await update_by_id(self._session, _touch, rows)

    async def cancel_open(
        self,
        of: Literal["enrollment_id", "campaign_id", "contact_id"],
        ids: Collection[int],
        reason: str,
        now: datetime,
        *,
        claimed_too: bool = False,
    ) -> int:
        """Withdraw the queued touches of the enrollments, campaigns or contacts whose
        enrollments ended: they must not go out any more. A task a worker has claimed may be
        under way (a call being made) and is left to finish, unless `claimed_too`."""
        if not ids:
            return 0
        open_statuses = ("queued", "claimed") if claimed_too else ("queued",)
        result = await self._session.exec(
            update(_touch)
            .where(_touch.c[of].in_(list(ids)), _touch.c.status.in_(open_statuses))
            .values(status="canceled", reason=reason, lease_until=None, updated_at=now)
        )
        return int(result.rowcount)

    async def cancel_queued_marketing(
        self, contact_ids: Collection[int], channel: str, rule: str, reason: str, now: datetime
    ) -> int:
        """Withdraw the contacts' queued marketing touches on `channel` (an unsubscribe)."""
        if not contact_ids:
            return 0
        result = await self._session.exec(
            update(_touch)
            .where(
                _touch.c.contact_id.in_(sorted(contact_ids)),
                _touch.c.channel == channel,
                _touch.c.category == "marketing",
                _touch.c.status == "queued",
            )
            .values(status="canceled", rule=rule, reason=reason, lease_until=None, updated_at=now)
        )
        return int(result.rowcount)

    async def in_doubt(self, limit: int) -> list[Touch]:
        """Touches interrupted mid-send, the longest in doubt first."""
        result = await self._session.exec(
            select(Touch)
            .where(col(Touch.status) == "in_doubt")
            .order_by(col(Touch.updated_at), col(Touch.id))
            .limit(limit)
        )
        return list(result)

    async def settle_in_doubt(self, touch_id: int, values: dict[str, Any]) -> Touch | None:
        """Set `values` on the touch if it is still in doubt; the touch, or None if not."""
        result = await self._session.exec(
            update(_touch)
            .where(_touch.c.id == touch_id, _touch.c.status == "in_doubt")
            .values(**values)
            .returning(_touch.c.id)
        )
        if result.scalar_one_or_none() is None:
            return None
        return await self.get(touch_id)

    async def decision_counts(
        self, campaign_id: int
    ) -> list[tuple[str | None, str, str | None, bool, int]]:
        """The campaign's touches counted by (step, status, rule, judged by the policy)."""
        judged = _touch.c.policy_version.is_not(None)
        query = (
            select_columns(_touch.c.step_id, _touch.c.status, _touch.c.rule, judged, func.count())
            .where(_touch.c.campaign_id == campaign_id)
            .group_by(_touch.c.step_id, _touch.c.status, _touch.c.rule, judged)
        )
        # sqlmodel's `exec` is typed for up to four columns; this reads five.
        result = await self._session.exec(query)  # type: ignore[call-overload]
        return [
            (step, status, rule, bool(was_judged), count)
            for step, status, rule, was_judged, count in result.all()
        ]

    async def retrying_counts(self, campaign_id: int) -> list[tuple[str | None, int]]:
        """The campaign's messages queued again after a failed attempt, counted by step."""
        result = await self._session.exec(
            select(_touch.c.step_id, func.count())
            .where(
                _touch.c.campaign_id == campaign_id,
                _touch.c.status == "queued",
                _touch.c.retry_at.is_not(None),
            )
            .group_by(_touch.c.step_id)
        )
        return [(step, count) for step, count in result.all()]

    async def outcome_counts(self, campaign_id: int) -> list[tuple[str | None, str, int]]:
        """The campaign's completed tasks counted by (step, outcome)."""
        result = await self._session.exec(
            select(_touch.c.step_id, _touch.c.outcome, func.count())
            .where(_touch.c.campaign_id == campaign_id, _touch.c.outcome.is_not(None))
            .group_by(_touch.c.step_id, _touch.c.outcome)
        )
        return [(step, outcome, count) for step, outcome, count in result.all()]
