"""Four dispatchers over one PostgreSQL, three competing campaigns, 300 contacts with
preferences of their own: no admitted touch breaks any of them."""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from datetime import timedelta

import pytest

from orchestrator.models import Campaign
from orchestrator.models.contact import ContactPreferences
from orchestrator.services.policies import PolicyService
from orchestrator.services.preferences import PreferenceService
from orchestrator.store.touches import NOT_COUNTED
from policies import Policy
from tests.engine import CHANNELS, add_contacts, enroll, launch, touches
from tests.orchestrator.test_concurrency import database_url, run_together

pytestmark = pytest.mark.postgres
__all__ = ["database_url"]  # the fixture: a fresh PostgreSQL database

TOPICS = ["新製品", "セミナー", "事例"]


def campaign(name: str, priority: int, topic: str | None, sends: list[str], gap: str) -> dict:
    steps: list[dict] = []
    for n, channel in enumerate(sends):
        template = {
            "email": {"subject": name, "text": "..."},
            "phone": {"script": "..."},
            "dm": {"letter": "..."},
        }[channel]
        steps.append({"id": f"s{n}", "type": "send", "channel": channel, "template": template})
        steps.append({"id": f"w{n}", "type": "wait", "duration": gap})
    return {"name": name, "priority": priority, "steps": steps[:-1],
            **({"topic": topic} if topic else {})}  # fmt: skip


CAMPAIGNS = [
    campaign("Products", 70, "新製品", ["email", "phone", "email", "email"], "PT12H"),
    campaign("Seminars", 50, "セミナー", ["email", "dm", "email", "phone"], "P1D"),
    campaign("Newsletter", 30, None, ["phone", "email", "email", "dm"], "PT6H"),
]


def random_preferences(chance: random.Random) -> dict:
    channels: dict[str, dict[str, object]] = {}
    for channel in ("email", "phone", "dm"):
        kind = chance.choice(["none", "off", "cap", "cap"])
        if kind == "off":
            channels[channel] = {"allowed": False}
        elif kind == "cap":
            channels[channel] = {
                "max": chance.randint(1, 2),
                "per": chance.choice(["week", "month"]),
            }
    topics = None if chance.random() < 0.3 else chance.sample(TOPICS, chance.randint(0, 3))
    return {"channels": channels, **({} if topics is None else {"topics": topics})}


async def test_four_dispatchers_break_no_contacts_preference(sessions, clock, database_url):
    async with sessions.begin() as session:
        await PolicyService(session, clock).replace(Policy(topics=TOPICS), "test")
    contacts = await add_contacts(sessions, clock, 300, prefix="pref")
    chance = random.Random(12)
    chosen = {contact_id: random_preferences(chance) for contact_id in contacts}
    async with sessions.begin() as session:
        service = PreferenceService(session, clock, CHANNELS)
        for contact_id, preferences in chosen.items():
            await service.replace(
                contact_id,
                ContactPreferences.model_validate(preferences),
                source="api",
                evidence={},
            )
    for definition in CAMPAIGNS:
        campaign_id = await launch(sessions, clock, definition)
        assert (await enroll(sessions, clock, campaign_id, contacts)).enrolled == 300

    for _ in range(24):  # twelve days, half a day at a time
        await run_together(database_url, clock, 4)
        clock.advance(timedelta(hours=12))

    found = await touches(sessions)
    statuses = Counter(touch.status for touch in found)
    # the preferences bit: touches were held back, and many went
    assert statuses["deferred"] > 100, statuses
    assert statuses["blocked"] > 100, statuses
    admitted: dict[int, list] = defaultdict(list)
    for touch in found:
        if touch.status not in NOT_COUNTED:
            admitted[touch.contact_id].append(touch)
    assert sum(len(mine) for mine in admitted.values()) > 1_000, statuses
    topic_of = {definition["name"]: definition.get("topic") for definition in CAMPAIGNS}
    names: dict[int | None, str] = {}
    async with sessions() as session:
        for used in {touch.campaign_id for touch in found}:
            row = await session.get(Campaign, used)
            assert row is not None
            names[used] = row.name
    for contact_id, mine in admitted.items():
        said = ContactPreferences.model_validate(chosen[contact_id])
        for touch in mine:
            choice = said.channels.get(touch.channel)
            assert choice is None or choice.allowed, (contact_id, touch.channel)
            topic = topic_of[names[touch.campaign_id]]
            assert topic is None or said.topics is None or topic in said.topics
            window = None if choice is None else choice.window
            if choice is None or choice.max is None or window is None:
                continue
            within = [
                other
                for other in mine
                if other.channel == touch.channel
                and touch.created_at - window < other.created_at <= touch.created_at
            ]
            assert len(within) <= choice.max, (contact_id, touch.channel, len(within))
