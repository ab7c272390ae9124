"""Campaign schedules: each time a campaign's cron fires, its audience is enrolled — once,
however many processes watch the schedule."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from orchestrator.catalog import CampaignCatalog
from orchestrator.clock import Clock
from orchestrator.definitions import CampaignDefinition, cron_trigger
from orchestrator.services.enrollments import EnrollmentService
from orchestrator.store.campaigns import CampaignStore

__all__ = ["ScheduleRunner", "latest_fire_time"]

_TICK = timedelta(microseconds=1)


def latest_fire_time(
    definition: CampaignDefinition, after: datetime, now: datetime
) -> datetime | None:
    """The last time the schedule fired in (`after`, `now`]; missed firings coalesce."""
    assert definition.schedule is not None
    trigger = cron_trigger(definition.schedule.cron, definition.schedule.timezone)
    fire = trigger.get_next_fire_time(None, after + _TICK)
    latest = None
    while fire is not None and fire <= now:
        latest = fire
        fire = trigger.get_next_fire_time(fire, fire + _TICK)
    return latest


class ScheduleRunner:
    """Enrolls the audiences of the active campaigns whose schedule has fired."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        catalog: CampaignCatalog,
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._catalog = catalog

    async def run_once(self) -> int:
        """Fire every due schedule; how many contacts were enrolled."""
        now = self._clock.now()
        async with self._sessions() as session:
            campaigns = await CampaignStore(session).with_schedules()
        enrolled = 0
        for campaign, version in campaigns:
            definition = CampaignDefinition.model_validate(version.definition)
            if definition.schedule is None:
                continue
            assert campaign.id is not None
            async with self._sessions.begin() as session:
                store = CampaignStore(session)
                since = await store.last_schedule_run(campaign.id) or campaign.updated_at
                fire = latest_fire_time(definition, since, now)
                if fire is None:
                    continue
                run_id = await store.record_schedule_run(campaign.id, fire, now)
                if run_id is None:
                    continue  # another process fired it
                service = EnrollmentService(session, self._clock, self._catalog)
                count = await service.enroll_audience(campaign.id, definition.schedule.audience)
                await store.note_schedule_enrolled(run_id, count)
                enrolled += count
        return enrolled
