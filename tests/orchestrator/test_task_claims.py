"""A claim hands out tasks oldest first, up to its limit and within a budget of content, so
no claim response can grow with the size of rendered scripts."""

from __future__ import annotations

from datetime import timedelta

from orchestrator.catalog import CampaignCatalog
from orchestrator.dispatcher import Dispatcher
from orchestrator.store.leases import LeaseStore
from tests.engine import CHANNELS, add_contacts, enroll, launch, worker_key

CALLS = {
    "name": "Calls",
    "steps": [{"id": "call", "type": "send", "channel": "phone",
               "template": {"script": "{{ contact.attributes.script }}"}}],
}  # fmt: skip


async def claim(sessions, clock, budget: int, limit: int = 10) -> list[int]:
    async with sessions.begin() as session:
        key = await worker_key(session, clock)
        assert key.id is not None
        claimed = await LeaseStore(session).claim_tasks(
            "phone",
            "w1",
            key.id,
            limit,
            clock.now() + timedelta(minutes=5),
            clock.now(),
            content_budget=budget,
        )
    return [touch.id or 0 for touch in claimed]


async def test_a_claim_stops_at_its_content_budget_and_the_rest_wait_for_the_next(sessions, clock):
    contacts = await add_contacts(sessions, clock, 4, attributes={"script": "x" * 1000})
    campaign_id = await launch(sessions, clock, CALLS)
    await enroll(sessions, clock, campaign_id, contacts)
    await Dispatcher(sessions, clock, CHANNELS, CampaignCatalog()).run_until_idle()

    first = await claim(sessions, clock, budget=2500)
    second = await claim(sessions, clock, budget=2500)
    assert len(first) == 2  # a third script of about 1,000 characters would pass 2,500
    assert len(second) == 2
    assert set(first).isdisjoint(second)
    assert first < second  # oldest first


async def test_a_task_larger_than_the_whole_budget_is_still_handed_out_alone(sessions, clock):
    contacts = await add_contacts(sessions, clock, 2, attributes={"script": "x" * 1000})
    campaign_id = await launch(sessions, clock, CALLS)
    await enroll(sessions, clock, campaign_id, contacts)
    await Dispatcher(sessions, clock, CHANNELS, CampaignCatalog()).run_until_idle()

    assert len(await claim(sessions, clock, budget=10)) == 1
    assert len(await claim(sessions, clock, budget=10)) == 1
    assert await claim(sessions, clock, budget=10) == []
