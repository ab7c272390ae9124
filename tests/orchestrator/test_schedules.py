"""Campaign schedules: the audience is enrolled when the cron fires, once per firing."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from orchestrator.campaign_checks import parse_campaign
from orchestrator.catalog import CampaignCatalog
from orchestrator.schedules import ScheduleRunner, latest_fire_time
from tests.engine import add_contacts, enrollments, launch

WEEKLY = {
    "name": "Monday news",
    "schedule": {
        "cron": "0 10 * * mon",
        "timezone": "Asia/Tokyo",
        "audience": {"attribute": "newsletter", "op": "eq", "value": True},
    },
    "reentry": "after_exit",
    "steps": [{"id": "mail", "type": "send", "channel": "email",
               "template": {"subject": "News", "text": "..."}}],
}  # fmt: skip


def test_missed_firings_coalesce_into_the_latest():
    definition = parse_campaign(WEEKLY)
    monday = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)  # 10:00 JST
    assert latest_fire_time(definition, monday, monday) is None
    three_weeks = latest_fire_time(definition, monday, monday + timedelta(days=21, minutes=5))
    assert three_weeks == monday + timedelta(days=21)
    just_before = latest_fire_time(definition, monday, monday + timedelta(days=7, seconds=-1))
    assert just_before is None


@pytest.mark.rolled_back
async def test_the_audience_is_enrolled_when_the_schedule_fires(sessions, clock):
    readers = await add_contacts(sessions, clock, 3, prefix="r", attributes={"newsletter": True})
    await add_contacts(sessions, clock, 2, prefix="o", attributes={"newsletter": False})
    await launch(sessions, clock, WEEKLY)
    runner = ScheduleRunner(sessions, clock, CampaignCatalog())
    assert await runner.run_once() == 0

    clock.advance(timedelta(days=7))
    assert await runner.run_once() == 3
    assert await runner.run_once() == 0, "one firing enrolls once"
    assert sorted(e.contact_id for e in await enrollments(sessions)) == readers


async def test_two_processes_watching_one_schedule_enroll_once(sessions, clock, database_url):
    from app.database import create_engine, create_sessionmaker

    await add_contacts(sessions, clock, 4, attributes={"newsletter": True})
    await launch(sessions, clock, WEEKLY)
    clock.advance(timedelta(days=7))
    engines = [create_engine(database_url, pool_size=1) for _ in range(2)]
    try:
        counts = await asyncio.gather(
            *(
                ScheduleRunner(create_sessionmaker(e), clock, CampaignCatalog()).run_once()
                for e in engines
            )
        )
    finally:
        for engine in engines:
            await engine.dispose()
    assert sorted(counts) == [0, 4]
    assert len(await enrollments(sessions)) == 4
