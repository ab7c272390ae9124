"""All SQL about campaigns, their versions and their schedule runs."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from orchestrator.models import Campaign, CampaignVersion, ScheduleRun, StepEntry
from orchestrator.store.dialect import insert, is_postgresql

__all__ = ["CampaignStore"]

#: Advisory lock keys of campaign throttles: this base plus the campaign id.
_THROTTLE_LOCKS = 0x4B5A5448 << 32

_schedule_run = ScheduleRun.__table__  # type: ignore[attr-defined]
_step_entry = StepEntry.__table__  # type: ignore[attr-defined]


class CampaignStore:
    """Reads and writes campaigns in the session's transaction; never commits."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, campaign_id: int, *, lock: bool = False) -> Campaign | None:
        """The campaign, locked for update if asked (lifecycle changes)."""
        query = select(Campaign).where(col(Campaign.id) == campaign_id)
        if lock and is_postgresql(self._session):
            # FOR NO KEY UPDATE: touches referencing the campaign need not wait for it.
            query = query.with_for_update(key_share=True)
        return (await self._session.exec(query)).first()

    async def lock_throttles(self, campaign_ids: Collection[int]) -> None:
        """Count these campaigns' throttles one transaction at a time (PostgreSQL).

        An advisory lock, not the campaign row: a pause or archive holds the row and then
        waits for the enrollments a dispatcher holds, which must not wait for the row.
        """
        if campaign_ids and is_postgresql(self._session):
            for campaign_id in sorted(campaign_ids):
                await self._session.exec(
                    select(func.pg_advisory_xact_lock(_THROTTLE_LOCKS + campaign_id))
                )

    async def page(self, *, status: str | None, after: int | None, limit: int) -> list[Campaign]:
        """Campaigns in id order after `after`, optionally in one status."""
        query = select(Campaign)
        if status is not None:
            query = query.where(col(Campaign.status) == status)
        if after is not None:
            query = query.where(col(Campaign.id) > after)
        result = await self._session.exec(query.order_by(col(Campaign.id)).limit(limit))
        return list(result)

    async def with_schedules(self) -> list[tuple[Campaign, CampaignVersion]]:
        """Active campaigns with their current version (the scheduler picks the scheduled)."""
        result = await self._session.exec(
            select(Campaign, CampaignVersion)
            .join(
                CampaignVersion,
                (col(CampaignVersion.campaign_id) == col(Campaign.id))
                & (col(CampaignVersion.version) == col(Campaign.current_version)),
            )
            .where(col(Campaign.status) == "active")
        )
        return [(campaign, version) for campaign, version in result]

    def add(self, campaign: Campaign) -> None:
        self._session.add(campaign)

    def add_version(self, version: CampaignVersion) -> None:
        self._session.add(version)

    async def flush(self) -> None:
        await self._session.flush()

    async def count_entries(self, entries: Mapping[tuple[int, str], int]) -> None:
        """Add to the number of enrollments that entered each (campaign, step)."""
        if not entries:
            return
        rows = [
            {"campaign_id": campaign_id, "step_id": step_id, "entered": count}
            for (campaign_id, step_id), count in sorted(entries.items())
        ]
        statement = insert(self._session, _step_entry)
        statement = statement.on_conflict_do_update(
            index_elements=[_step_entry.c.campaign_id, _step_entry.c.step_id],
            set_={"entered": _step_entry.c.entered + statement.excluded.entered},
        )
        await self._session.exec(statement, params=rows)

    async def entries(self, campaign_id: int) -> dict[str, int]:
        """How many enrollments entered each step of the campaign."""
        result = await self._session.exec(
            select(StepEntry.step_id, StepEntry.entered).where(
                col(StepEntry.campaign_id) == campaign_id
            )
        )
        return dict(result.all())

    async def version(self, campaign_id: int, version: int) -> CampaignVersion | None:
        """One version of a campaign."""
        result = await self._session.exec(
            select(CampaignVersion).where(
                col(CampaignVersion.campaign_id) == campaign_id,
                col(CampaignVersion.version) == version,
            )
        )
        return result.first()

    async def versions(self, keys: Collection[tuple[int, int]]) -> dict[tuple[int, int], Any]:
        """The definitions (JSON) of these (campaign, version) pairs."""
        if not keys:
            return {}
        campaign_ids = {campaign_id for campaign_id, _ in keys}
        result = await self._session.exec(
            select(CampaignVersion).where(col(CampaignVersion.campaign_id).in_(campaign_ids))
        )
        return {
            (row.campaign_id, row.version): row.definition
            for row in result
            if (row.campaign_id, row.version) in keys
        }

    async def version_numbers(self, campaign_id: int) -> list[tuple[int, datetime]]:
        """Every version of the campaign with its creation time, oldest first."""
        result = await self._session.exec(
            select(CampaignVersion.version, CampaignVersion.created_at)
            .where(col(CampaignVersion.campaign_id) == campaign_id)
            .order_by(col(CampaignVersion.version))
        )
        return [(number, created) for number, created in result]

    async def record_schedule_run(
        self, campaign_id: int, fire_time: datetime, now: datetime
    ) -> int | None:
        """Claim one firing of a schedule; None if another process has claimed it."""
        statement = (
            insert(self._session, _schedule_run)
            .values(campaign_id=campaign_id, fire_time=fire_time, enrolled=0, created_at=now)
            .on_conflict_do_nothing(
                index_elements=[_schedule_run.c.campaign_id, _schedule_run.c.fire_time]
            )
            .returning(_schedule_run.c.id)
        )
        return (await self._session.exec(statement)).scalar()

    async def note_schedule_enrolled(self, run_id: int, enrolled: int) -> None:
        """How many contacts a schedule run enrolled."""
        run = await self._session.get(ScheduleRun, run_id)
        if run is not None:
            run.enrolled = enrolled
            self._session.add(run)

    async def last_schedule_run(self, campaign_id: int) -> datetime | None:
        """When the campaign's schedule last fired."""
        result = await self._session.exec(
            select(ScheduleRun.fire_time)
            .where(col(ScheduleRun.campaign_id) == campaign_id)
            .order_by(col(ScheduleRun.fire_time).desc())
            .limit(1)
        )
        return result.first()
