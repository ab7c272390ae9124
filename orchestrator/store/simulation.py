"""All SQL of the simulator: reading the slice of the live tables a forecast copies, writing
that slice into its scratch database, and the few questions its run and report ask there."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Table, func, insert
from sqlalchemy import select as select_columns
from sqlmodel.ext.asyncio.session import AsyncSession

from orchestrator.models import (
    Campaign,
    CampaignVersion,
    Contact,
    Enrollment,
    Event,
    PolicyVersion,
    Touch,
)

__all__ = ["SimulationStore"]

_campaign: Table = Campaign.__table__  # type: ignore[attr-defined]
_version: Table = CampaignVersion.__table__  # type: ignore[attr-defined]
_contact: Table = Contact.__table__  # type: ignore[attr-defined]
_enrollment: Table = Enrollment.__table__  # type: ignore[attr-defined]
_event: Table = Event.__table__  # type: ignore[attr-defined]
_policy: Table = PolicyVersion.__table__  # type: ignore[attr-defined]
_touch: Table = Touch.__table__  # type: ignore[attr-defined]

#: Values bound in one IN list: well under SQLite's limit on parameters.
_CHUNK = 5_000

Row = dict[str, Any]


def _chunks(values: Iterable[Any]) -> Iterable[list[Any]]:
    ordered = sorted(set(values))
    for start in range(0, len(ordered), _CHUNK):
        yield ordered[start : start + _CHUNK]


class SimulationStore:
    """The simulator's reads and writes, as plain rows (column name to value)."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def _rows(self, query: Any) -> list[Row]:
        result = await self._session.exec(query)
        return [dict(row._mapping) for row in result.all()]

    async def campaigns(self) -> list[Row]:
        """Every campaign: few, and the copied touches and enrollments point at them."""
        return await self._rows(select_columns(_campaign).order_by(_campaign.c.id))

    async def campaign_versions(self) -> list[Row]:
        return await self._rows(select_columns(_version).order_by(_version.c.id))

    async def policy_versions(self) -> list[Row]:
        return await self._rows(select_columns(_policy).order_by(_policy.c.version))

    async def contacts(self, contact_ids: Collection[int]) -> list[Row]:
        found: list[Row] = []
        for part in _chunks(contact_ids):
            query = select_columns(_contact).where(_contact.c.id.in_(part))
            found += await self._rows(query.order_by(_contact.c.id))
        return found

    async def running_contact_ids(self, campaign_ids: Collection[int]) -> set[int]:
        """The contacts with a running enrollment in one of these campaigns."""
        if not campaign_ids:
            return set()
        query = select_columns(_enrollment.c.contact_id).where(
            _enrollment.c.campaign_id.in_(list(campaign_ids)),
            _enrollment.c.state.in_(("active", "paused")),
        )
        result = await self._session.exec(query.distinct())  # type: ignore[call-overload]
        return {row[0] for row in result.all()}

    async def running_enrollments(self, contact_ids: Collection[int]) -> list[Row]:
        """The contacts' running enrollments, in every campaign."""
        found: list[Row] = []
        for part in _chunks(contact_ids):
            query = select_columns(_enrollment).where(
                _enrollment.c.contact_id.in_(part), _enrollment.c.state.in_(("active", "paused"))
            )
            found += await self._rows(query.order_by(_enrollment.c.id))
        return found

    async def touches(
        self, contact_ids: Collection[int], since: datetime, enrollment_ids: Collection[int]
    ) -> list[Row]:
        """The contacts' touches since `since`, and every touch of these enrollments."""
        found: dict[int, Row] = {}
        for part in _chunks(contact_ids):
            query = select_columns(_touch).where(
                _touch.c.contact_id.in_(part), _touch.c.created_at > since
            )
            found.update((row["id"], row) for row in await self._rows(query))
        for part in _chunks(enrollment_ids):
            query = select_columns(_touch).where(_touch.c.enrollment_id.in_(part))
            found.update((row["id"], row) for row in await self._rows(query))
        return [found[key] for key in sorted(found)]

    async def events(self, contact_ids: Collection[int], since: datetime) -> list[Row]:
        """The contacts' events that happened since `since`."""
        found: list[Row] = []
        for part in _chunks(contact_ids):
            query = select_columns(_event).where(
                _event.c.contact_id.in_(part), _event.c.occurred_at >= since
            )
            found += await self._rows(query.order_by(_event.c.id))
        return found

    async def insert(self, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
        """Write rows as they were read, ids included (the scratch database is empty)."""
        for start in range(0, len(rows), _CHUNK):
            await self._session.exec(insert(table), params=list(rows[start : start + _CHUNK]))

    async def next_due(self) -> datetime | None:
        """When the earliest active enrollment is due, or a queued message may be retried."""
        enrollment = await self._session.exec(  # type: ignore[call-overload]
            select_columns(func.min(_enrollment.c.next_action_at)).where(
                _enrollment.c.state == "active"
            )
        )
        retry = await self._session.exec(  # type: ignore[call-overload]
            select_columns(func.min(_touch.c.retry_at)).where(
                _touch.c.status == "queued", _touch.c.retry_at.is_not(None)
            )
        )
        found = [at for at in (enrollment.one()[0], retry.one()[0]) if at is not None]
        return min(found) if found else None

    async def deliver_queued(self, instant: datetime, channels: Collection[str]) -> list[Row]:
        """Mark the queued messages of these channels sent at `instant`, as a far end that
        takes everything would have them; the ones marked."""
        if not channels:
            return []
        columns = [_touch.c[name] for name in ("id", "contact_id", "campaign_id", "step_id")]
        query = select_columns(*columns).where(
            _touch.c.status == "queued",
            _touch.c.channel.in_(list(channels)),
            _touch.c.created_at <= instant,
        )
        rows = await self._rows(query.order_by(_touch.c.id))
        for part in _chunks(row["id"] for row in rows):
            await self._session.exec(
                _touch.update()
                .where(_touch.c.id.in_(part))
                .values(status="sent", sent_at=instant, updated_at=instant)
            )
        return rows

    async def complete_tasks(self, outcomes: Mapping[int, str], instant: datetime) -> None:
        """Close claimed tasks with their outcomes, as a worker's completion does."""
        by_outcome: dict[str, list[int]] = {}
        for touch_id, outcome in outcomes.items():
            by_outcome.setdefault(outcome, []).append(touch_id)
        for outcome, ids in sorted(by_outcome.items()):
            for part in _chunks(ids):
                await self._session.exec(
                    _touch.update()
                    .where(_touch.c.id.in_(part))
                    .values(
                        status="completed",
                        outcome=outcome,
                        completed_at=instant,
                        outcome_data={"data": {}, "notes": None},
                        lease_until=None,
                        updated_at=instant,
                    )
                )

    async def decisions_since(self, since: datetime) -> list[Row]:
        """Every touch made since `since`: what a report counts."""
        names = (
            "id",
            "contact_id",
            "campaign_id",
            "enrollment_id",
            "step_id",
            "channel",
            "status",
            "rule",
            "also_held",
            "weight",
            "policy_version",
            "created_at",
        )
        query = select_columns(*(_touch.c[name] for name in names)).where(
            _touch.c.created_at >= since
        )
        return await self._rows(query.order_by(_touch.c.created_at, _touch.c.id))

    async def enrollments_of(self, campaign_id: int) -> list[Row]:
        """Where each of the campaign's enrollments stands."""
        names = ("id", "contact_id", "state", "step_id", "exit_reason")
        query = select_columns(*(_enrollment.c[name] for name in names)).where(
            _enrollment.c.campaign_id == campaign_id
        )
        return await self._rows(query.order_by(_enrollment.c.id))

    async def external_ids(self, contact_ids: Collection[int]) -> dict[int, str | None]:
        found: dict[int, str | None] = {}
        for part in _chunks(contact_ids):
            query = select_columns(_contact.c.id, _contact.c.external_id).where(
                _contact.c.id.in_(part)
            )
            result = await self._session.exec(query)  # type: ignore[call-overload]
            found.update((contact_id, external) for contact_id, external in result.all())
        return found

    async def set_campaign_status(self, campaign_id: int, status: str) -> None:
        await self._session.exec(
            _campaign.update().where(_campaign.c.id == campaign_id).values(status=status)
        )
