"""Failures a user can see: with no SMTP relay, a mail shows its error and next attempt in the
timeline, stats count it retrying, `/readyz` says degraded; a mail in doubt is resolved
over HTTP as sent or sent again."""

from __future__ import annotations

from datetime import datetime, timedelta

from channels.email import EmailChannel, MemorySmtp, SmtpConfig
from orchestrator.housekeeping import reap_leases
from orchestrator.store.leases import LeaseStore
from tests.app.test_auth import bearer, make_key
from tests.app.test_campaigns_api import activate, define
from tests.app.test_contacts_api import assert_problem
from tests.engine import add_contacts, touches
from tests.smtp_sink import free_port

NEWS = {
    "name": "Newsletter",
    "steps": [
        {"id": "mail1", "type": "send", "channel": "email",
         "template": {"subject": "第1号", "text": "今月のお知らせです。"}},
    ],
}  # fmt: skip


async def queue_mail(app, client, sessions, clock) -> tuple[int, int]:
    """One contact enrolled in the newsletter, its mail queued; (contact, campaign)."""
    (contact,) = await add_contacts(sessions, clock, 1)
    campaign = await define(client, NEWS)
    await activate(client, campaign["id"])
    enrolled = await client.post(
        f"/v1/campaigns/{campaign['id']}/enrollments", json={"contact_ids": [contact]}
    )
    assert enrolled.status_code == 200, enrolled.text
    await app.state.runtime.dispatcher().run_until_idle()
    return contact, campaign["id"]


async def test_with_no_relay_the_mail_shows_its_error_and_retry_and_readyz_is_degraded(
    app, client, sessions, clock
):
    runtime = app.state.runtime
    runtime.channels["email"] = EmailChannel(SmtpConfig(port=free_port(), timeout=2.0))
    contact, campaign = await queue_mail(app, client, sessions, clock)
    assert (await client.get("/readyz")).json()["status"] == "ready"

    assert await runtime.outbox().run_once() == 1

    (entry,) = [
        item
        for item in (await client.get(f"/v1/contacts/{contact}/timeline")).json()["items"]
        if item["kind"] == "touch"
    ]
    assert (entry["status"], entry["attempts"]) == ("queued", 1)
    assert entry["error"]
    assert datetime.fromisoformat(entry["retry_at"]) > clock.now()
    stats = (await client.get(f"/v1/campaigns/{campaign}/stats")).json()
    (step,) = stats["steps"]
    assert (step["retrying"], step["sent"], step["failed"], stats["retrying"]) == (1, 0, 0, 1)
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    email = ready.json()["channels"]["email"]
    assert ready.json()["status"] == "degraded"
    assert (email["status"], email["reachable"], email["last_success_at"]) == (
        "degraded",
        False,
        None,
    )
    assert email["last_error"] == entry["error"]
    assert email["last_failure_at"]


async def test_a_relay_that_answers_again_makes_readyz_ready_and_the_mail_goes(
    app, client, sessions, clock
):
    runtime = app.state.runtime
    runtime.channels["email"] = EmailChannel(SmtpConfig(port=free_port(), timeout=2.0))
    _, campaign = await queue_mail(app, client, sessions, clock)
    await runtime.outbox().run_once()
    runtime.channels["email"] = EmailChannel(transport=MemorySmtp())
    clock.advance(timedelta(minutes=2))

    assert await runtime.outbox().run_once() == 1

    ready = (await client.get("/readyz")).json()
    assert (ready["status"], ready["channels"]["email"]["reachable"]) == ("ready", True)
    assert ready["channels"]["email"]["last_error"]  # the last failure stays on record
    stats = (await client.get(f"/v1/campaigns/{campaign}/stats")).json()
    assert (stats["steps"][0]["sent"], stats["retrying"]) == (1, 0)


async def put_in_doubt(sessions, clock) -> int:
    """A sender took the queued mail into its SMTP transaction and died there."""
    async with sessions.begin() as session:
        store = LeaseStore(session)
        (touch,) = await store.claim_outbox(["email"], 10, clock.now(), clock.now())
        await store.settle_and_start([], [touch], clock.now(), clock.now())
    clock.advance(timedelta(seconds=1))
    assert await reap_leases(sessions, clock) == (0, 1)
    assert touch.id is not None
    return touch.id


async def test_a_mail_in_doubt_is_counted_and_resolved_as_sent(app, client, sessions, clock):
    _, campaign = await queue_mail(app, client, sessions, clock)
    touch = await put_in_doubt(sessions, clock)
    stats = (await client.get(f"/v1/campaigns/{campaign}/stats")).json()
    assert (stats["in_doubt"], stats["steps"][0]["in_doubt"]) == (1, 1)

    resolved = await client.post(f"/v1/touches/{touch}/resolve", json={"as": "sent"})

    assert resolved.status_code == 200, resolved.text
    assert resolved.json()["status"] == "sent"
    stats = (await client.get(f"/v1/campaigns/{campaign}/stats")).json()
    assert (stats["in_doubt"], stats["steps"][0]["sent"]) == (0, 1)
    again = await client.post(f"/v1/touches/{touch}/resolve", json={"as": "resend"})
    assert_problem(again, 409)


async def test_a_mail_in_doubt_resolved_for_resend_goes_out_once_more(app, client, sessions, clock):
    runtime = app.state.runtime
    relay = MemorySmtp()
    runtime.channels["email"] = EmailChannel(transport=relay)
    await queue_mail(app, client, sessions, clock)
    touch = await put_in_doubt(sessions, clock)
    assert await runtime.outbox().run_once() == 0  # never sent again by itself

    resolved = await client.post(f"/v1/touches/{touch}/resolve", json={"as": "resend"})

    assert resolved.json()["status"] == "queued"
    assert await runtime.outbox().run_once() == 1
    (sent,) = await touches(sessions, channel="email")
    assert (sent.id, sent.status, len(relay.sent)) == (touch, "sent", 1)


async def test_resolving_an_unknown_or_settled_touch_or_a_bad_answer_is_refused(
    app, client, sessions, clock
):
    await queue_mail(app, client, sessions, clock)
    (queued,) = await touches(sessions, channel="email")
    assert_problem(await client.post(f"/v1/touches/{queued.id}/resolve", json={"as": "sent"}), 409)
    assert_problem(await client.post("/v1/touches/999999/resolve", json={"as": "sent"}), 404)
    assert_problem(
        await client.post(f"/v1/touches/{queued.id}/resolve", json={"as": "ignore"}), 422
    )


async def test_resolving_needs_the_campaigns_scope(client):
    worker = await make_key(client, "worker")
    answer = await client.post("/v1/touches/1/resolve", json={"as": "sent"}, headers=bearer(worker))
    assert_problem(answer, 403)
