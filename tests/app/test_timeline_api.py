"""A contact's timeline over HTTP: campaign names, enrollments starting and ending with
their reasons, caller notes, and when a message was sent beside when it was made."""

from __future__ import annotations

from datetime import timedelta

import pytest

from channels.email import EmailChannel, MemorySmtp
from tests.app.test_auth import bearer, make_key
from tests.app.test_campaigns_api import activate, define
from tests.app.test_tasks_and_events_api import CALLS
from tests.engine import add_contacts
from tests.factories import contact_payload


def iso(instant) -> str:
    return instant.isoformat().replace("+00:00", "Z")


async def timeline(client, contact_id: int) -> list[dict]:
    response = await client.get(f"/v1/contacts/{contact_id}/timeline")
    assert response.status_code == 200, response.text
    return response.json()["items"]


async def run(app, client, definition: dict, contact_id: int) -> dict:
    """Define, activate, enroll the contact, dispatch; the campaign."""
    campaign = await define(client, definition)
    await activate(client, campaign["id"])
    enrolled = await client.post(
        f"/v1/campaigns/{campaign['id']}/enrollments", json={"contact_ids": [contact_id]}
    )
    assert enrolled.status_code == 200, enrolled.text
    await app.state.runtime.dispatcher().run_until_idle()
    return campaign


def enrollment_changes(items: list[dict]) -> list[tuple[str, str | None, str | None]]:
    return [
        (i["change"], i["reason"], i["campaign_name"]) for i in items if i["kind"] == "enrollment"
    ]


async def test_a_sent_mail_shows_when_it_was_made_and_when_it_went(app, client, sessions, clock):
    (contact,) = await add_contacts(sessions, clock, 1)
    news = {
        "name": "月刊ニュース",
        "steps": [{"id": "mail1", "type": "send", "channel": "email",
                   "template": {"subject": "第1号", "text": "今月のお知らせです。"}}],
    }  # fmt: skip
    made = clock.now()
    await run(app, client, news, contact)
    clock.advance(timedelta(minutes=5))
    app.state.runtime.channels["email"] = EmailChannel(transport=MemorySmtp())
    assert await app.state.runtime.outbox().run_once() == 1

    items = await timeline(client, contact)
    (mail,) = [i for i in items if i["kind"] == "touch"]
    assert (mail["status"], mail["campaign_name"]) == ("sent", "月刊ニュース")
    assert mail["at"] == mail["created_at"] == iso(made)
    assert mail["sent_at"] == iso(made + timedelta(minutes=5))
    # the enrollment completes once its last step is carried out: newest first
    assert enrollment_changes(items) == [
        ("completed", None, "月刊ニュース"),
        ("started", None, "月刊ニュース"),
    ]


async def test_a_goal_ends_the_enrollment_as_exited_with_the_reason_goal(app, client):
    contact = (await client.post("/v1/contacts", json=contact_payload())).json()
    waiting = {
        "name": "Wait for a purchase",
        "goal": {"event": "purchased"},
        "steps": [{"id": "wait", "type": "wait", "duration": "P3D"}],
    }
    await run(app, client, waiting, contact["id"])
    event = {"contact_id": contact["id"], "type": "purchased", "idempotency_key": "order-1"}
    assert (await client.post("/v1/events", json=event)).status_code == 201

    items = await timeline(client, contact["id"])
    assert [i["kind"] for i in items] == ["enrollment", "event", "enrollment"]
    assert enrollment_changes(items) == [
        ("exited", "goal", "Wait for a purchase"),
        ("started", None, "Wait for a purchase"),
    ]


async def test_a_blocked_step_that_exits_shows_the_block_then_the_exit(app, client):
    contact = (await client.post("/v1/contacts", json=contact_payload())).json()
    strict = {
        "name": "Opt-in only",
        "steps": [{"id": "mail", "type": "send", "channel": "email", "on_blocked": "exit",
                   "template": {"subject": "Hi", "text": "Hi"}}],
    }  # fmt: skip
    await run(app, client, strict, contact["id"])

    items = await timeline(client, contact["id"])
    assert [i["kind"] for i in items] == ["enrollment", "touch", "enrollment"]
    assert (items[1]["status"], items[1]["rule"]) == ("blocked", "consent")
    assert items[1]["reason"] == "email needs the contact's opt-in, and there is none."
    assert enrollment_changes(items)[0] == ("exited", "blocked", "Opt-in only")


async def test_archiving_a_campaign_ends_its_enrollments_as_exited_archived(app, client):
    contact = (await client.post("/v1/contacts", json=contact_payload())).json()
    waiting = {"name": "Slow", "steps": [{"id": "wait", "type": "wait", "duration": "P3D"}]}
    campaign = await run(app, client, waiting, contact["id"])
    assert (await client.post(f"/v1/campaigns/{campaign['id']}/archive")).status_code == 200

    changes = enrollment_changes(await timeline(client, contact["id"]))
    assert changes == [("exited", "archived", "Slow"), ("started", None, "Slow")]


@pytest.mark.parametrize("notes", ["call back next week", None])
async def test_a_completed_call_shows_the_callers_notes(app, client, clock, notes):
    contact = (await client.post("/v1/contacts", json=contact_payload())).json()
    await run(app, client, CALLS, contact["id"])
    worker = bearer(await make_key(client, "worker", name="call-team"))
    claim = {"channel": "phone", "worker": "alice"}
    (task,) = (await client.post("/v1/tasks/claim", json=claim, headers=worker)).json()["tasks"]
    clock.advance(timedelta(minutes=3))
    completion = {"worker": "alice", "outcome": "no_answer", "notes": notes}
    done = await client.post(f"/v1/tasks/{task['id']}/complete", json=completion, headers=worker)
    assert done.status_code == 200, done.text

    (call,) = [i for i in await timeline(client, contact["id"]) if i["kind"] == "touch"]
    assert (call["status"], call["outcome"], call["notes"]) == ("completed", "no_answer", notes)
    assert call["completed_at"] == iso(clock.now())
    assert call["campaign_name"] == "Calls"
