"""No one template stalls everyone: renders bounded in time and size, touches the database
refuses failed alone, and a campaign whose step keeps going over the bounds paused."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest
from sqlmodel import select

from app.database import create_engine, create_sessionmaker
from orchestrator.models import Campaign
from orchestrator.rendering import Renderer
from orchestrator.step_renders import PAUSE_AFTER
from orchestrator.templates import renders_in_linear_time
from tests.databases import empty_postgres
from tests.engine import add_contacts, dispatcher, enroll, enrollments, launch, touches

#: Two nested loops: a billion turns, minutes of one core.
SPINNING = "{% for i in range(100000) %}{% for j in range(10000) %}{% endfor %}{% endfor %}"
#: Ten million characters, well over the cap the tests set.
HUGE = "{% for i in range(100000) %}{{ 'x' * 100 }}{% endfor %}"


def calling(name: str, script: str) -> dict[str, object]:
    return {
        "name": name,
        "steps": [
            {"id": "call", "type": "send", "channel": "phone", "template": {"script": script}}
        ],
    }


@pytest.fixture
def renderer() -> Iterator[Renderer]:
    bounded = Renderer(seconds=0.5, most=64 * 1024)
    yield bounded
    bounded.close()


async def test_a_render_over_the_time_limit_fails_its_touch_and_others_go_on(
    sessions, clock, renderer
):
    first, second = await add_contacts(sessions, clock, 2, attributes={"name": "佐藤"})
    poison = await launch(sessions, clock, calling("Spin", SPINNING))
    normal = await launch(sessions, clock, calling("Hello", "Hello {{ contact.attributes.name }}"))
    await enroll(sessions, clock, poison, [first])
    await enroll(sessions, clock, normal, [first, second])

    await dispatcher(sessions, clock, renderer=renderer).run_until_idle()

    (stopped,) = await touches(sessions, campaign_id=poison)
    assert stopped.status == "failed"
    assert stopped.error == "template: rendering took longer than 0.5 s and was stopped"
    assert [(t.status, t.content) for t in await touches(sessions, campaign_id=normal)] == [
        ("queued", {"script": "Hello 佐藤"}),
        ("queued", {"script": "Hello 佐藤"}),
    ]
    (spun,) = await enrollments(sessions, campaign_id=poison)
    assert (spun.state, spun.exit_reason) == ("failed", "template")


async def test_a_field_over_the_size_limit_fails_its_touch(sessions, clock, renderer):
    (contact,) = await add_contacts(sessions, clock, 1)
    campaign = await launch(sessions, clock, calling("Huge", HUGE))
    await enroll(sessions, clock, campaign, [contact])

    await dispatcher(sessions, clock, renderer=renderer).run_until_idle()

    (huge,) = await touches(sessions, campaign_id=campaign)
    assert (huge.status, huge.content) == ("failed", {})
    assert huge.error == "template: field 'script' renders to more than 65,536 bytes"


async def test_a_render_needing_more_memory_than_a_worker_has_fails_its_touch(
    sessions, clock, renderer
):
    (contact,) = await add_contacts(sessions, clock, 1, attributes={"n": 2_000_000_000})
    campaign = await launch(sessions, clock, calling("Big", "{{ 'ab' * contact.attributes.n }}"))
    await enroll(sessions, clock, campaign, [contact])

    await dispatcher(sessions, clock, renderer=renderer).run_until_idle()

    (big,) = await touches(sessions, campaign_id=campaign)
    assert (big.status, big.error) == ("failed", "template: rendering ran out of memory")


async def test_a_step_that_keeps_going_over_the_limits_pauses_its_campaign(
    sessions, clock, renderer
):
    contacts = await add_contacts(sessions, clock, PAUSE_AFTER + 3)
    campaign = await launch(sessions, clock, calling("Huge", HUGE))
    await enroll(sessions, clock, campaign, contacts)

    await dispatcher(sessions, clock, renderer=renderer).run_until_idle()

    failed = await touches(sessions, campaign_id=campaign)
    assert len(failed) == PAUSE_AFTER
    assert failed[-1].error is not None
    assert failed[-1].error.endswith(
        f"; {PAUSE_AFTER} touches of step 'call' in a row went over the rendering bounds, "
        "so the campaign is paused"
    )
    async with sessions() as session:
        paused = (await session.exec(select(Campaign).where(Campaign.id == campaign))).one()
    assert paused.status == "paused"
    assert [e.state for e in await enrollments(sessions, campaign_id=campaign)] == [
        *["failed"] * PAUSE_AFTER,
        *["paused"] * 3,
    ]


@pytest.mark.postgres
async def test_a_touch_the_database_refuses_fails_alone(postgres_url, clock, renderer):
    # SQLite stores a NUL character; PostgreSQL's jsonb refuses it.
    empty_postgres(postgres_url)
    engine = create_engine(postgres_url, pool_size=2)
    try:
        await _refused_touch_fails_alone(create_sessionmaker(engine), clock, renderer)
    finally:
        await engine.dispose()


async def _refused_touch_fails_alone(sessions, clock, renderer):
    first, second = await add_contacts(sessions, clock, 2)
    refused = await launch(sessions, clock, calling("NUL", "{{ '\\x00' }}"))
    normal = await launch(sessions, clock, calling("Hello", "Hello {{ contact.id }}"))
    await enroll(sessions, clock, refused, [first])
    await enroll(sessions, clock, normal, [first, second])

    await dispatcher(sessions, clock, renderer=renderer).run_until_idle()

    (stored,) = await touches(sessions, campaign_id=refused)
    assert (stored.status, stored.content) == ("failed", {})
    assert stored.error is not None
    assert stored.error.startswith("store: the database refused the touch: ")
    assert [t.status for t in await touches(sessions, campaign_id=normal)] == ["queued"] * 2
    (ended,) = await enrollments(sessions, campaign_id=refused)
    assert (ended.state, ended.exit_reason) == ("failed", "store")


async def test_healthz_answers_promptly_while_a_template_spins(client, sessions, clock):
    (contact,) = await add_contacts(sessions, clock, 1)
    campaign = await launch(sessions, clock, calling("Spin", SPINNING))
    await enroll(sessions, clock, campaign, [contact])
    spinning = Renderer(seconds=5)
    try:
        rendering = asyncio.create_task(
            dispatcher(sessions, clock, renderer=spinning).run_until_idle()
        )
        await asyncio.sleep(0.5)  # the render is under way
        waits = []
        for _ in range(5):
            started = time.perf_counter()
            assert (await client.get("/healthz")).status_code == 200
            waits.append(time.perf_counter() - started)
        assert not rendering.done()
        assert max(waits) < 2
        await rendering
    finally:
        spinning.close()
    (stopped,) = await touches(sessions, campaign_id=campaign)
    assert stopped.error == "template: rendering took longer than 5 s and was stopped"


@pytest.mark.parametrize(
    ("source", "linear"),
    [
        ("Plain text", True),
        ("Hello {{ contact.attributes.name }}", True),
        ("{% if contact.email is defined %}{{ contact.email | lower }}{% endif %}", True),
        ("{{ contact.attributes.name | default('customer') ~ '様' }}", True),
        ("{% for i in range(3) %}{{ i }}{% endfor %}", False),
        ("{{ contact.attributes.name | center(1000000) }}", False),
        ("{{ 'a' * contact.attributes.n }}", False),
        ("{{ contact.attributes.name[::-1] }}", False),
        ("{{ contact.attributes.name.upper() }}", False),
    ],
)
def test_only_templates_that_look_values_up_render_in_the_dispatcher(source, linear):
    assert renders_in_linear_time({"script": source}) is linear
