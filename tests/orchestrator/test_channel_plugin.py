"""A channel installed as a plugin is guarded like a built-in one: its suppressed addresses
are blocked, and a dead address it reports is suppressed."""

from __future__ import annotations

from sqlmodel import col, select

from channels.registry import channel_class
from orchestrator.catalog import CampaignCatalog
from orchestrator.contact_fields import address_hash
from orchestrator.models import Contact, Event, Suppression
from orchestrator.outbox import Outbox
from tests.conftest import START
from tests.engine import CHANNELS, add_contacts, dispatcher, enroll, launch, touches

PAGE = {
    "name": "Shipping notice",
    "steps": [
        {"id": "page", "type": "send", "channel": "pager", "template": {"text": "発送しました"}}
    ],
}


async def phone_of(sessions, contact_id: int) -> str:
    async with sessions() as session:
        contact = await session.get(Contact, contact_id)
        assert contact is not None
        assert contact.phone is not None
        return contact.phone


async def test_a_suppressed_address_of_a_plugin_channel_is_blocked_by_the_policy(sessions, clock):
    suppressed, free = await add_contacts(sessions, clock, 2)
    number = await phone_of(sessions, suppressed)
    async with sessions.begin() as session:
        session.add(
            Suppression(
                channel="pager",
                address_hash=address_hash("pager", number),
                reason="complaint",
                source="test",
                created_at=START,
            )
        )
    campaign_id = await launch(sessions, clock, PAGE)
    await enroll(sessions, clock, campaign_id, [suppressed, free])
    await dispatcher(sessions, clock).run_until_idle()

    decided = {t.contact_id: t for t in await touches(sessions, channel="pager")}
    assert (decided[suppressed].status, decided[suppressed].rule) == ("blocked", "suppression")
    assert decided[free].status == "queued"


async def test_a_dead_address_reported_by_a_plugin_channel_is_suppressed(sessions, clock):
    channels = {**CHANNELS, "pager": channel_class("pager").in_memory("dead_address")}
    (contact,) = await add_contacts(sessions, clock, 1)
    await enroll(sessions, clock, await launch(sessions, clock, PAGE), [contact])
    await dispatcher(sessions, clock).run_until_idle()
    assert (
        await Outbox(sessions, clock, channels, CampaignCatalog(), quick_retries=0).run_once() == 1
    )

    (touch,) = await touches(sessions, channel="pager")
    assert (touch.status, touch.error) == ("failed", "the gateway knows no such number")
    async with sessions() as session:
        kept = (await session.exec(select(Suppression))).all()
        bounces = (await session.exec(select(Event).where(col(Event.type) == "bounce"))).all()
    number = await phone_of(sessions, contact)
    assert [(s.channel, s.address_hash, s.reason) for s in kept] == [
        ("pager", address_hash("pager", number), "hard_bounce")
    ]
    assert [(e.touch_id, e.data["channel"]) for e in bounces] == [(touch.id, "pager")]

    await enroll(
        sessions, clock, await launch(sessions, clock, {**PAGE, "name": "Again"}), [contact]
    )
    await dispatcher(sessions, clock).run_until_idle()
    again = [t for t in await touches(sessions, channel="pager") if t.id != touch.id]
    assert [(t.status, t.rule) for t in again] == [("blocked", "suppression")]
