"""`/metrics` after small real runs: the gauges read from the database (touches, decisions,
lag, the outbox's backlog, task queues), deliveries timed and their failures classed, the
scheduler's passes, and provider webhooks counted by result."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

import httpx
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr

from app.main import create_app
from channels.email import EmailChannel, SmtpConfig
from channels.webhooks import sign_webhook
from tests.conftest import ADMIN_KEY
from tests.engine import add_contacts, enroll, launch, touches
from tests.smtp_sink import free_port, smtp_sink

POLICY = {
    "rules": [{"type": "min_gap", "name": "a-day-apart", "gap": "PT24H", "channels": ["*"]}],
    "consent": {"email": "opt_in"},
}
MAIL_THEN_CALL = {
    "name": "Mail, then a call",
    "steps": [
        {"id": "mail1", "type": "send", "channel": "email",
         "template": {"subject": "ご案内", "text": "新しいプランのご案内です。"}},
        {"id": "call", "type": "send", "channel": "phone", "template": {"script": "こんにちは"}},
    ],
}  # fmt: skip
MAIL = {
    "name": "Newsletter",
    "steps": [{"id": "mail1", "type": "send", "channel": "email",
               "template": {"subject": "第1号", "text": "今月のお知らせです。"}}],
}  # fmt: skip


async def scrape(client: httpx.AsyncClient) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of `/metrics`, by name and labels."""
    response = await client.get("/metrics")
    assert response.status_code == 200
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples, name: str, **labels: str) -> float:
    """A sample's value; 0 for a series not there (yet)."""
    return samples.get((name, frozenset(labels.items())), 0.0)


def series(samples, name: str) -> dict[frozenset[tuple[str, str]], float]:
    return {labels: found for (each, labels), found in samples.items() if each == name}


async def test_gauges_count_touches_decisions_queues_and_lag_from_the_database(
    app, client, sessions, clock
):
    assert (await client.put("/v1/policy", json=POLICY)).status_code == 200
    consenting = await add_contacts(sessions, clock, 2, prefix="yes")
    (silent,) = await add_contacts(sessions, clock, 1, prefix="no", consent={})
    campaign = await launch(sessions, clock, MAIL_THEN_CALL)
    await enroll(sessions, clock, campaign, [*consenting, silent])
    await app.state.runtime.dispatcher().run_until_idle()
    (late,) = await add_contacts(sessions, clock, 1, prefix="late")
    await enroll(sessions, clock, campaign, [late])  # due now, and not dispatched
    clock.advance(timedelta(seconds=90))

    samples = await scrape(client)

    assert value(samples, "kizuna_database_up") == 1
    assert series(samples, "kizuna_touches_last_hour") == {
        frozenset({("channel", "email"), ("status", "queued")}): 2,
        frozenset({("channel", "email"), ("status", "blocked")}): 1,
        frozenset({("channel", "phone"), ("status", "deferred")}): 2,
        frozenset({("channel", "phone"), ("status", "queued")}): 1,
    }
    assert series(samples, "kizuna_decisions_last_hour") == {
        frozenset({("rule", "consent"), ("outcome", "blocked")}): 1,
        frozenset({("rule", "a-day-apart"), ("outcome", "deferred")}): 2,
    }
    assert value(samples, "kizuna_dispatch_lag_seconds") == 90
    assert value(samples, "kizuna_outbox_backlog", channel="email", status="queued") == 2
    assert value(samples, "kizuna_outbox_backlog", channel="email", status="claimed") == 0
    assert value(samples, "kizuna_outbox_oldest_age_seconds", channel="email") == 90
    assert value(samples, "kizuna_touches_in_doubt", channel="email") == 0
    assert value(samples, "kizuna_task_queue_depth", channel="phone") == 1
    assert value(samples, "kizuna_task_queue_oldest_age_seconds", channel="phone") == 90
    # Every task channel has its series, also with nothing queued.
    assert ("kizuna_task_queue_depth", frozenset({("channel", "dm")})) in samples

    clock.advance(timedelta(hours=1))
    later = await scrape(client)
    assert series(later, "kizuna_touches_last_hour") == {}
    assert series(later, "kizuna_decisions_last_hour") == {}
    assert value(later, "kizuna_outbox_oldest_age_seconds", channel="email") == 3690
    assert value(later, "kizuna_dispatch_lag_seconds") == 3690


async def test_deliveries_are_timed_and_their_failures_counted_by_class(
    app, client, sessions, clock
):
    runtime = app.state.runtime
    (contact,) = await add_contacts(sessions, clock, 1)
    await enroll(sessions, clock, await launch(sessions, clock, MAIL), [contact])
    await runtime.dispatcher().run_until_idle()
    before = await scrape(client)
    retry_in = timedelta(minutes=5)
    quick_tries = 3  # the outbox's first attempt and its two quick retries

    with smtp_sink(refuse={"person0@example.jp": "451 4.3.0 try again later"}) as sink:
        runtime.channels["email"] = EmailChannel(SmtpConfig(port=sink.port))
        assert await runtime.outbox().run_once() == 1
    transient = await scrape(client)
    runtime.channels["email"] = EmailChannel(SmtpConfig(port=free_port(), timeout=2.0))
    clock.advance(retry_in)
    assert await runtime.outbox().run_once() == 1
    unreachable = await scrape(client)
    with smtp_sink(refuse={"person0@example.jp": "550 5.1.1 no such user"}) as sink:
        runtime.channels["email"] = EmailChannel(SmtpConfig(port=sink.port))
        clock.advance(retry_in)
        assert await runtime.outbox().run_once() == 1
    after = await scrape(client)

    def errors(samples, kind: str) -> float:
        return value(samples, "kizuna_delivery_errors_total", channel="email", **{"class": kind})

    assert errors(transient, "transient") - errors(before, "transient") == quick_tries
    assert errors(unreachable, "unreachable") - errors(transient, "unreachable") == quick_tries
    assert errors(after, "permanent") - errors(unreachable, "permanent") == 1
    assert errors(after, "transient") == errors(transient, "transient")
    attempts = "kizuna_delivery_seconds_count"
    assert value(after, attempts, channel="email") - value(before, attempts, channel="email") == 7
    assert value(after, "kizuna_delivery_seconds_sum", channel="email") > value(
        before, "kizuna_delivery_seconds_sum", channel="email"
    )
    (touch,) = await touches(sessions, channel="email")
    assert touch.status == "failed"


@asynccontextmanager
async def serving(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """The application running with its lifespan, and an admin's client."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport,
            base_url="http://kizuna.test",
            headers={"Authorization": f"Bearer {ADMIN_KEY}"},
        ) as http:
            yield http


async def eventually(check, seconds: float = 10.0) -> None:
    for _ in range(int(seconds / 0.05)):
        if await check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the condition never held")


async def test_the_scheduler_observes_each_pass_that_found_work(settings, clock, sessions):
    with smtp_sink() as sink:
        running = settings.model_copy(update={"smtp_port": sink.port, "dispatch_interval": 60})
        async with serving(create_app(running, clock=clock, run_engine=True)) as http:
            (contact,) = await add_contacts(sessions, clock, 1)
            campaign = await launch(sessions, clock, MAIL)
            before = await scrape(http)
            enrolled = await http.post(
                f"/v1/campaigns/{campaign}/enrollments", json={"contact_ids": [contact]}
            )
            assert enrolled.status_code == 200
            await eventually(lambda: _observed(http, before, "deliver"))
            after = await scrape(http)
        assert len(sink.messages) == 1
    for job in ("dispatch", "deliver"):
        taken = "kizuna_engine_batch_size_sum"
        assert value(after, taken, job=job) - value(before, taken, job=job) == 1
        passes = "kizuna_engine_pass_seconds_count"
        assert value(after, passes, job=job) - value(before, passes, job=job) == 1
        assert value(after, "kizuna_engine_pass_failures_total", job=job) == value(
            before, "kizuna_engine_pass_failures_total", job=job
        )


async def _observed(http: httpx.AsyncClient, before, job: str) -> bool:
    """Whether a pass of `job` was observed since `before` (it is, once its write is done)."""
    name = "kizuna_engine_pass_seconds_count"
    return value(await scrape(http), name, job=job) > value(before, name, job=job)


SECRET = "whsec_" + base64.b64encode(b"metrics webhook secret, 32 bytes").decode()


async def post_standard(
    http: httpx.AsyncClient, clock, provider: str, *, message: str, secret=SECRET, body=None
) -> httpx.Response:
    """A Standard Webhooks request reporting a delivery, signed with `secret`."""
    if body is None:
        event = {"type": "email.delivered", "timestamp": clock.now().isoformat(),
                 "data": {"email": "nobody@example.jp", "message_id": "<m@kizuna>"}}  # fmt: skip
        body = json.dumps(event).encode()
    stamp = int(clock.now().timestamp())
    headers = {
        "content-type": "application/json",
        "webhook-id": message,
        "webhook-timestamp": str(stamp),
        "webhook-signature": sign_webhook(secret, message, stamp, body),
    }
    return await http.post(f"/v1/webhooks/email/{provider}", content=body, headers=headers)


async def test_webhook_requests_are_counted_by_provider_and_result(settings, clock):
    configured = settings.model_copy(update={"webhook_secret": SecretStr(SECRET)})
    async with serving(create_app(configured, clock=clock)) as http:
        before = await scrape(http)
        answers = [
            await post_standard(http, clock, "standard", message="msg_1"),
            await post_standard(http, clock, "standard", message="msg_1"),
            await post_standard(http, clock, "standard", message="msg_2", secret="whsec_AAAA"),
            await post_standard(http, clock, "standard", message="msg_3", body=b"[1, 2"),
            await post_standard(http, clock, "standard", message="msg_4", body=b" " * 5_000_000),
            await post_standard(http, clock, "sendgrid", message="msg_5"),
            await post_standard(http, clock, "fax-o-matic", message="msg_6"),
        ]
        after = await scrape(http)
    assert [answer.status_code for answer in answers] == [200, 200, 401, 400, 413, 404, 404]
    counted = {
        (provider, result): value(after, name, provider=provider, result=result)
        - value(before, name, provider=provider, result=result)
        for name in ["kizuna_webhook_requests_total"]
        for provider, result in [
            ("standard", "accepted"),
            ("standard", "duplicate"),
            ("standard", "refused"),
            ("standard", "unreadable"),
            ("standard", "too_large"),
            ("sendgrid", "not_configured"),
            ("unknown", "not_configured"),
        ]
    }
    assert set(counted.values()) == {1}, counted
    assert not any("fax-o-matic" in str(labels) for _, labels in after)
