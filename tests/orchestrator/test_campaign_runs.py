"""Campaigns run for real on SQLite and PostgreSQL, weeks of campaign time in a few passes."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest

from orchestrator.catalog import CampaignCatalog
from orchestrator.errors import Conflict
from orchestrator.models import ContactUpsert
from orchestrator.services.campaigns import CampaignService
from orchestrator.services.contacts import ContactService
from orchestrator.services.stats import StatsService
from tests.engine import (
    add_contacts,
    claim,
    complete,
    dispatcher,
    enroll,
    enrollments,
    launch,
    post_event,
    touches,
)

CALL_FIRST = {
    "name": "Call first, then nurture",
    "priority": 60,
    "goal": {"event": "meeting_booked"},
    "steps": [
        {"id": "call", "type": "send", "channel": "phone",
         "template": {"script": "Hello {{ contact.attributes.name }}"}},
        {"id": "after_call", "type": "wait_for_event", "timeout": "P3D",
         "cases": [{"when": {"event": "call_outcome", "data": {"outcome": "interested"}},
                    "next": "mail1"}],
         "on_timeout": "letter"},
        {"id": "mail1", "type": "send", "channel": "email",
         "template": {"subject": "Guide for {{ contact.attributes.name }}", "text": "..."}},
        {"id": "wait_click", "type": "wait_for_event", "timeout": "P5D",
         "cases": [{"when": {"event": "click", "step": "mail1"}, "next": "call2"}],
         "on_timeout": "letter"},
        {"id": "call2", "type": "send", "channel": "phone", "template": {"script": "Again"},
         "next": "end"},
        {"id": "letter", "type": "send", "channel": "dm", "template": {"letter": "Dear ..."}},
        {"id": "end", "type": "exit"},
    ],
}  # fmt: skip


async def test_call_outcomes_branch_contacts_down_different_channels(sessions, clock):
    interested, uninterested, silent = await add_contacts(
        sessions, clock, 3, attributes={"name": "佐藤"}
    )
    campaign_id = await launch(sessions, clock, CALL_FIRST)
    assert (
        await enroll(sessions, clock, campaign_id, [interested, uninterested, silent])
    ).enrolled == 3
    engine = dispatcher(sessions, clock)

    await engine.run_until_idle()
    tasks = await claim(sessions, clock, "phone")
    assert sorted(task.contact.id for task in tasks) == [interested, uninterested, silent]
    assert tasks[0].touch.content == {"script": "Hello 佐藤"}
    by_contact = {task.contact.id: task.touch for task in tasks}
    await complete(sessions, clock, by_contact[interested].id, "interested")
    await complete(sessions, clock, by_contact[uninterested].id, "not_interested")

    clock.advance(timedelta(minutes=1))
    await engine.run_until_idle()
    mails = await touches(sessions, channel="email")
    assert [(t.contact_id, t.status, t.content["subject"]) for t in mails] == [
        (interested, "queued", "Guide for 佐藤")
    ]

    clock.advance(timedelta(days=3))
    await engine.run_until_idle()
    letters = await touches(sessions, channel="dm")
    assert sorted(t.contact_id for t in letters) == [uninterested, silent]

    await post_event(sessions, clock, interested, "click", key="click-1")  # not about mail1
    await engine.run_until_idle()
    assert len(await touches(sessions, step_id="call2")) == 0
    async with sessions.begin() as session:
        from orchestrator.services.events import EventService

        await EventService(session, clock, CampaignCatalog()).record(
            contact_id=interested,
            type="click",
            data={"url": "https://example.com/guide"},
            dedupe_key="test:click-2",
            source="test",
            touch_id=mails[0].id,
        )
    await engine.run_until_idle()
    assert [t.contact_id for t in await touches(sessions, step_id="call2")] == [interested]

    states = Counter((e.state, e.exit_reason) for e in await enrollments(sessions))
    assert states == {("exited", "exit_step"): 3}

    async with sessions() as session:
        numbers = await StatsService(session).numbers(campaign_id)
    by_step = {step.step_id: step for step in numbers.steps}
    assert numbers.enrollments == {"exited": 3}
    assert [by_step[s].entered for s in ("call", "mail1", "call2", "letter", "end")] == [
        3, 1, 1, 2, 3,
    ]  # fmt: skip
    call = by_step["call"]
    assert (call.admitted, call.sent, call.outcomes) == (
        3,
        2,
        {"interested": 1, "not_interested": 1},
    )
    assert (by_step["mail1"].admitted, by_step["mail1"].clicks) == (1, 1)
    assert by_step["letter"].admitted == 2


async def test_a_goal_ends_the_enrollment_wherever_the_contact_is(sessions, clock):
    (contact,) = await add_contacts(sessions, clock, 1)
    campaign_id = await launch(sessions, clock, CALL_FIRST)
    await enroll(sessions, clock, campaign_id, [contact])
    await dispatcher(sessions, clock).run_until_idle()

    recorded = await post_event(sessions, clock, contact, "meeting_booked", key="m1")
    assert recorded.goals_reached == 1
    (enrollment,) = await enrollments(sessions)
    assert (enrollment.state, enrollment.exit_reason) == ("exited", "goal")
    duplicate = await post_event(sessions, clock, contact, "meeting_booked", key="m1")
    assert not duplicate.created
    (call,) = await touches(sessions, step_id="call")
    assert (call.status, call.reason) == ("canceled", "goal reached")
    assert await claim(sessions, clock, "phone") == []


async def test_archiving_withdraws_unclaimed_tasks_and_lets_claimed_ones_finish(sessions, clock):
    contacts = await add_contacts(sessions, clock, 2)
    campaign_id = await launch(sessions, clock, CALL_FIRST)
    await enroll(sessions, clock, campaign_id, contacts)
    await dispatcher(sessions, clock).run_until_idle()
    (claimed,) = await claim(sessions, clock, "phone", limit=1)

    async with sessions.begin() as session:
        await CampaignService(session, clock).transition(campaign_id, "archive")

    statuses = {t.id: (t.status, t.reason) for t in await touches(sessions)}
    claimed_id = claimed.touch.id
    assert [v for k, v in statuses.items() if k != claimed_id] == [
        ("canceled", "campaign archived")
    ]
    assert statuses[claimed_id] == ("claimed", None)  # the caller may be dialing already
    assert await claim(sessions, clock, "phone") == []
    done = await complete(sessions, clock, claimed_id, "do_not_call")
    assert (done.status, done.outcome) == ("completed", "do_not_call")


async def test_a_template_that_breaks_for_one_contact_fails_only_that_enrollment(sessions, clock):
    named, unnamed = await add_contacts(sessions, clock, 2, attributes={"n": 3})
    async with sessions.begin() as session:
        service = ContactService(session, clock, default_timezone="Asia/Tokyo")
        await service.upsert(
            ContactUpsert.model_validate({"external_id": "c-x-1", "attributes": {"n": 0}})
        )
    campaign_id = await launch(
        sessions,
        clock,
        {
            "name": "Division",
            "steps": [
                {"id": "mail", "type": "send", "channel": "email",
                 "template": {"subject": "{{ 12 // contact.attributes.n }}", "text": "..."}},
            ],
        },
    )  # fmt: skip
    await enroll(sessions, clock, campaign_id, [named, unnamed])
    await dispatcher(sessions, clock).run_until_idle()

    mail, broken = await touches(sessions)
    assert (mail.contact_id, mail.status, mail.content["subject"]) == (named, "queued", "4")
    assert (broken.contact_id, broken.status) == (unnamed, "failed")
    assert broken.error == "template: ZeroDivisionError: integer division or modulo by zero"
    states = {e.contact_id: (e.state, e.exit_reason) for e in await enrollments(sessions)}
    assert states == {named: ("completed", None), unnamed: ("failed", "template")}
    async with sessions() as session:
        (step,) = (await StatsService(session).numbers(campaign_id)).steps
    assert (step.entered, step.admitted, step.failed, step.touches) == (
        2, 1, 1, {"queued": 1, "failed": 1},
    )  # fmt: skip


async def test_waits_and_splits_over_many_contacts(sessions, clock):
    contacts = await add_contacts(sessions, clock, 200)
    campaign_id = await launch(
        sessions,
        clock,
        {
            "name": "A/B",
            "steps": [
                {"id": "pause", "type": "wait", "duration": "P2D"},
                {
                    "id": "ab",
                    "type": "split",
                    "variants": [
                        {"name": "A", "weight": 70, "next": "mail_a"},
                        {"name": "B", "weight": 30, "next": "mail_b"},
                    ],
                },
                {
                    "id": "mail_a",
                    "type": "send",
                    "channel": "email",
                    "template": {"subject": "A", "text": "a"},
                    "next": "done",
                },
                {
                    "id": "mail_b",
                    "type": "send",
                    "channel": "email",
                    "template": {"subject": "B", "text": "b"},
                },
                {"id": "done", "type": "exit"},
            ],
        },
    )
    await enroll(sessions, clock, campaign_id, contacts)
    engine = dispatcher(sessions, clock, batch_size=64)
    await engine.run_until_idle()
    assert await touches(sessions) == []

    clock.advance(timedelta(days=2))
    assert await engine.run_until_idle() == 200
    counts = Counter(t.step_id for t in await touches(sessions))
    assert counts["mail_a"] + counts["mail_b"] == 200
    assert 110 <= counts["mail_a"] <= 170  # 70% of 200, give or take chance
    assert await engine.run_until_idle() == 0
    assert Counter(t.step_id for t in await touches(sessions)) == counts  # nothing twice


async def test_a_throttled_campaign_defers_the_rest_to_the_next_slot(sessions, clock):
    contacts = await add_contacts(sessions, clock, 3)
    campaign_id = await launch(
        sessions,
        clock,
        {
            "name": "Paced calls",
            "throttle": {"phone": {"max": 2, "per": "P1D"}},
            "steps": [
                {"id": "call", "type": "send", "channel": "phone", "template": {"script": "hi"}}
            ],
        },
    )
    await enroll(sessions, clock, campaign_id, contacts)
    engine = dispatcher(sessions, clock)
    assert await engine.run_until_idle() == 3

    decided = await touches(sessions)
    assert sorted(t.status for t in decided) == ["deferred", "queued", "queued"]
    (deferred,) = [t for t in decided if t.status == "deferred"]
    assert deferred.rule == "throttle"
    assert deferred.defer_until == clock.now() + timedelta(days=1)

    clock.advance(timedelta(days=1))
    assert await engine.run_until_idle() == 1
    assert sorted(t.status for t in await touches(sessions)) == [
        "deferred",
        "queued",
        "queued",
        "queued",
    ]


async def test_erasure_takes_back_even_a_claimed_task(sessions, clock):
    (contact,) = await add_contacts(sessions, clock, 1)
    campaign_id = await launch(sessions, clock, CALL_FIRST)
    await enroll(sessions, clock, campaign_id, [contact])
    await dispatcher(sessions, clock).run_until_idle()
    (task,) = await claim(sessions, clock, "phone")

    async with sessions.begin() as session:
        await ContactService(session, clock, default_timezone="UTC").erase(contact)

    (call,) = await touches(sessions)
    assert (call.status, call.reason) == ("canceled", "contact erased")
    with pytest.raises(Conflict, match="it is canceled"):
        await complete(sessions, clock, task.touch.id, "connected", notes="personal data")
