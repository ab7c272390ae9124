"""The policy inside the engine: one guard for every campaign and channel."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import timedelta

import pytest

from orchestrator.services.policies import PolicyService, parse_policy
from tests.engine import (
    add_contacts,
    claim,
    complete,
    dispatcher,
    enroll,
    enrollments,
    launch,
    touches,
)
from tests.orchestrator.test_concurrency import many_contacts, run_together


async def store_policy(sessions, clock, document) -> int:
    async with sessions.begin() as session:
        stored = await PolicyService(session, clock).replace(parse_policy(document), "test")
        return stored.version


def one_call(name: str, priority: int) -> dict:
    return {
        "name": name,
        "priority": priority,
        "steps": [{"id": "call", "type": "send", "channel": "phone",
                   "template": {"script": name}, "max_delay": "P30D"}],
    }  # fmt: skip


async def test_a_call_that_records_email_consent_lets_the_next_mail_through(sessions, clock):
    """The channel mix of the seed article: the call asks permission to mail."""
    await store_policy(sessions, clock, {"consent": {"email": "opt_in", "phone": "opt_out"}})
    asked, not_asked = await add_contacts(sessions, clock, 2, consent={})
    campaign_id = await launch(
        sessions,
        clock,
        {
            "name": "Call, then mail",
            "steps": [
                {"id": "call", "type": "send", "channel": "phone", "template": {"script": "..."}},
                {
                    "id": "after",
                    "type": "wait_for_event",
                    "timeout": "P1D",
                    "cases": [{"when": {"event": "call_outcome"}, "next": "mail"}],
                },
                {
                    "id": "mail",
                    "type": "send",
                    "channel": "email",
                    "template": {"subject": "資料", "text": "..."},
                },
            ],
        },
    )
    await enroll(sessions, clock, campaign_id, [asked, not_asked])
    engine = dispatcher(sessions, clock)
    await engine.run_until_idle()
    tasks = {task.contact.id: task.touch.id for task in await claim(sessions, clock, "phone")}
    await complete(sessions, clock, tasks[asked], "interested", consent={"email": "opted_in"})
    await complete(sessions, clock, tasks[not_asked], "interested")
    await engine.run_until_idle()

    mails = {t.contact_id: t for t in await touches(sessions, channel="email")}
    assert mails[asked].status == "queued"
    assert (mails[not_asked].status, mails[not_asked].rule) == ("blocked", "consent")


async def test_the_higher_priority_campaign_wins_the_slot_and_the_other_waits(sessions, clock):
    await store_policy(sessions, clock, {"rules": [
        {"type": "cap", "name": "one-call-a-week", "max": 1, "window": "P7D",
         "channels": ["phone"]}]})  # fmt: skip
    (contact,) = await add_contacts(sessions, clock, 1)
    low = await launch(sessions, clock, one_call("low", 10))
    high = await launch(sessions, clock, one_call("high", 90))
    await enroll(sessions, clock, low, [contact])
    await enroll(sessions, clock, high, [contact])
    engine = dispatcher(sessions, clock)
    await engine.run_until_idle()
    by_campaign = {t.campaign_id: t for t in await touches(sessions)}
    assert by_campaign[high].status == "queued"
    assert (by_campaign[low].status, by_campaign[low].rule) == ("deferred", "one-call-a-week")
    assert by_campaign[low].policy_version == 1
    assert by_campaign[low].defer_until == clock.now() + timedelta(days=7)

    clock.advance(timedelta(days=7))
    await engine.run_until_idle()
    statuses = sorted((t.campaign_id, t.status) for t in await touches(sessions))
    assert statuses == sorted([(high, "queued"), (low, "deferred"), (low, "queued")])


async def test_a_new_policy_takes_effect_on_the_next_batch(sessions, clock):
    (contact,) = await add_contacts(sessions, clock, 1)
    first = await launch(sessions, clock, one_call("first", 50))
    await enroll(sessions, clock, first, [contact])
    await dispatcher(sessions, clock).run_until_idle()
    await store_policy(sessions, clock, {"consent": {"phone": "opt_in"}})
    second = await launch(sessions, clock, one_call("second", 50))
    await enroll(sessions, clock, second, [contact])
    await dispatcher(sessions, clock).run_until_idle()
    decided = {t.campaign_id: t for t in await touches(sessions)}
    assert (decided[first].status, decided[first].policy_version) == ("queued", 0)
    assert (decided[second].status, decided[second].rule) == ("blocked", "consent")
    assert decided[second].policy_version == 1


@pytest.mark.postgres
async def test_four_dispatchers_never_break_a_weekly_cap_across_three_campaigns(
    clock, postgres_url
):
    """The invariant under concurrency: 500 contacts, three campaigns of different
    priorities, a weekly cap of 2, four dispatchers at once."""
    from tests.databases import empty_postgres

    empty_postgres(postgres_url)
    from app.database import create_engine, create_sessionmaker

    engine = create_engine(postgres_url, pool_size=2)
    pg_sessions = create_sessionmaker(engine)
    try:
        await store_policy(pg_sessions, clock, {"rules": [
            {"type": "cap", "name": "weekly", "max": 2, "window": "P7D"}]})  # fmt: skip
        contacts = await many_contacts(pg_sessions, clock, 500)
        campaigns = {}
        for name, priority in (("gold", 90), ("silver", 50), ("bronze", 10)):
            campaigns[name] = await launch(pg_sessions, clock, one_call(name, priority))
            await enroll(pg_sessions, clock, campaigns[name], contacts)

        await run_together(postgres_url, clock, 4)
        found = await touches(pg_sessions)
        admitted = defaultdict(list)
        for touch in found:
            if touch.status == "queued":
                admitted[touch.contact_id].append(touch.campaign_id)
        assert all(len(per_contact) <= 2 for per_contact in admitted.values())
        assert len(admitted) == 500
        winners = Counter(c for per_contact in admitted.values() for c in per_contact)
        assert winners == {campaigns["gold"]: 500, campaigns["silver"]: 500}
        deferred = [t for t in found if t.status == "deferred"]
        assert {t.campaign_id for t in deferred} == {campaigns["bronze"]}
        assert len(deferred) == 500

        clock.advance(timedelta(days=7))
        await run_together(postgres_url, clock, 4)
        bronze = list(await touches(pg_sessions, campaign_id=campaigns["bronze"]))
        assert Counter(t.status for t in bronze) == {"deferred": 500, "queued": 500}
        assert Counter(e.state for e in await enrollments(pg_sessions)) == {"completed": 1500}
    finally:
        await engine.dispose()


async def test_a_contact_the_rules_cannot_judge_fails_alone(sessions, clock):
    from sqlalchemy import text

    await store_policy(
        sessions,
        clock,
        {"rules": [{"type": "quiet_hours", "name": "day", "channels": ["phone"],
                    "allow": [{"days": ["*"], "from": "00:00", "to": "23:59"}]}]},
    )  # fmt: skip
    good, damaged = await add_contacts(sessions, clock, 2)
    async with sessions.begin() as session:  # data no API would accept, written around it
        await session.exec(
            text("UPDATE contact SET timezone = 'Mars/Olympus' WHERE id = :id"),
            params={"id": damaged},
        )
    campaign_id = await launch(sessions, clock, one_call("Call", 50))
    await enroll(sessions, clock, campaign_id, [good, damaged])
    await dispatcher(sessions, clock).run_until_idle()

    by_contact = {t.contact_id: t for t in await touches(sessions)}
    assert by_contact[good].status == "queued"
    assert (by_contact[damaged].status, by_contact[damaged].policy_version) == ("failed", None)
    states = {e.contact_id: (e.state, e.exit_reason) for e in await enrollments(sessions)}
    assert states[damaged] == ("failed", "policy")
