"""Workers over HTTP (claim, heartbeat, complete, fail) and client events."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.app.test_auth import bearer, key_id, make_key
from tests.app.test_campaigns_api import activate, define
from tests.app.test_contacts_api import assert_problem
from tests.engine import enrollments, touches
from tests.factories import contact_payload

CALLS = {
    "name": "Calls",
    "steps": [
        {"id": "call", "type": "send", "channel": "phone",
         "template": {"script": "Hello {{ contact.attributes.name }}"}},
        {"id": "wait", "type": "wait_for_event", "timeout": "P2D",
         "cases": [{"when": {"event": "call_outcome", "data": {"outcome": "interested"}},
                    "next": "hot"}],
         "on_timeout": "cold"},
        {"id": "hot", "type": "exit"},
        {"id": "cold", "type": "exit"},
    ],
}  # fmt: skip


@pytest.fixture
async def calls(app, client):
    """A running call campaign with three enrolled contacts, dispatched: three open tasks."""
    campaign = await define(client, CALLS)
    await activate(client, campaign["id"])
    contacts = [
        (await client.post("/v1/contacts", json=contact_payload(attributes={"name": n}))).json()
        for n in ("佐藤", "鈴木", "高橋")
    ]
    await client.post(
        f"/v1/campaigns/{campaign['id']}/enrollments",
        json={"contact_ids": [c["id"] for c in contacts]},
    )
    await app.state.runtime.dispatcher().run_until_idle()
    return contacts


@pytest.fixture
async def worker(client) -> dict[str, str]:
    return bearer(await make_key(client, "worker", name="call-team"))


async def claim(client, headers, **body):
    response = await client.post(
        "/v1/tasks/claim", json={"channel": "phone", "worker": "alice", **body}, headers=headers
    )
    assert response.status_code == 200, response.text
    return response.json()["tasks"]


async def test_a_worker_claims_the_oldest_tasks_with_everything_needed(client, calls, worker):
    tasks = await claim(client, worker, limit=2, lease_seconds=120)
    assert [t["contact"]["id"] for t in tasks] == [calls[0]["id"], calls[1]["id"]]
    first = tasks[0]
    assert first["content"] == {"script": "Hello 佐藤"}
    assert "do_not_call" in first["outcomes"]
    assert (first["status"], first["worker"], first["attempts"]) == ("claimed", "alice", 1)
    rest = await claim(client, worker, limit=5)
    assert [t["contact"]["id"] for t in rest] == [calls[2]["id"]]
    assert await claim(client, worker) == []


async def test_completing_a_task_records_the_outcome_and_moves_the_enrollment(
    app, client, calls, worker, sessions
):
    (task,) = await claim(client, worker)
    completed = await client.post(
        f"/v1/tasks/{task['id']}/complete",
        json={"worker": "alice", "outcome": "interested", "data": {"budget": "high"},
              "consent": {"email": "opted_in"}, "notes": "call back next week"},
        headers=worker,
    )  # fmt: skip
    assert completed.status_code == 200, completed.text
    assert (completed.json()["status"], completed.json()["outcome"]) == ("completed", "interested")
    contact = (await client.get(f"/v1/contacts/{task['contact']['id']}")).json()
    assert contact["consent"] == {"email": "opted_in"}
    timeline = (await client.get(f"/v1/contacts/{task['contact']['id']}/timeline")).json()
    kinds = [(i["kind"], i.get("type") or i.get("status")) for i in timeline["items"]]
    assert ("event", "call_outcome") in kinds
    assert ("consent", "opted_in") in kinds

    await app.state.runtime.dispatcher().run_until_idle()
    states = {e.contact_id: (e.state, e.step_id) for e in await enrollments(sessions)}
    assert states[task["contact"]["id"]] == ("exited", "hot")


async def test_do_not_call_opts_the_contact_out_of_phone(client, calls, worker):
    (task,) = await claim(client, worker)
    await client.post(
        f"/v1/tasks/{task['id']}/complete",
        json={"worker": "alice", "outcome": "do_not_call"},
        headers=worker,
    )
    contact = (await client.get(f"/v1/contacts/{task['contact']['id']}")).json()
    assert contact["consent"]["phone"] == "opted_out"


async def test_an_unknown_outcome_is_refused_and_changes_nothing(client, calls, worker, sessions):
    (task,) = await claim(client, worker)
    response = await client.post(
        f"/v1/tasks/{task['id']}/complete",
        json={"worker": "alice", "outcome": "maybe"},
        headers=worker,
    )
    assert_problem(response, 422)
    (stored,) = [t for t in await touches(sessions) if t.id == task["id"]]
    assert stored.status == "claimed"


async def test_only_the_worker_holding_the_lease_may_act(client, calls, worker, clock):
    (task,) = await claim(client, worker, lease_seconds=60)
    url = f"/v1/tasks/{task['id']}"
    other = {"worker": "bob", "outcome": "connected"}
    assert_problem(await client.post(f"{url}/complete", json=other, headers=worker), 409)
    beat = await client.post(f"{url}/heartbeat", json={"worker": "alice", "lease_seconds": 600},
                             headers=worker)  # fmt: skip
    assert beat.status_code == 200
    clock.advance(timedelta(minutes=11))
    late = {"worker": "alice", "outcome": "connected"}
    body = assert_problem(await client.post(f"{url}/complete", json=late, headers=worker), 409)
    assert "expired" in body["detail"]
    again = await claim(client, worker, limit=5)
    assert task["id"] in [t["id"] for t in again]
    assert {t["attempts"] for t in again if t["id"] == task["id"]} == {2}


async def test_another_key_gets_409_whatever_worker_name_it_sends(client, calls, worker, sessions):
    """A lease is bound to the key that claimed it; an admin key takes no task over."""
    (task,) = await claim(client, worker, worker="w4")
    url = f"/v1/tasks/{task['id']}"
    intruder = bearer(await make_key(client, "worker", name="intruder"))
    calls_as_w4 = [
        ("heartbeat", {"worker": "w4", "lease_seconds": 600}),
        ("complete", {"worker": "w4", "outcome": "interested"}),
        ("fail", {"worker": "w4", "reason": "busy", "retry": False}),
    ]
    for headers in (intruder, {}):  # {}: the client's admin key
        for action, body in calls_as_w4:
            refused = assert_problem(
                await client.post(f"{url}/{action}", json=body, headers=headers), 409
            )
            assert "another API key" in refused["detail"]
    (stored,) = [t for t in await touches(sessions) if t.id == task["id"]]
    assert (stored.status, stored.worker, stored.outcome) == ("claimed", "w4", None)
    done = await client.post(f"{url}/complete", json=calls_as_w4[1][1], headers=worker)
    assert done.json()["status"] == "completed"


async def test_a_revoked_keys_leases_run_out_and_another_key_claims_the_tasks(
    client, calls, worker, clock
):
    (task,) = await claim(client, worker, lease_seconds=60)
    await client.delete(f"/v1/keys/{await key_id(client, 'call-team')}")
    beat = {"worker": "alice", "lease_seconds": 600}
    assert_problem(
        await client.post(f"/v1/tasks/{task['id']}/heartbeat", json=beat, headers=worker), 401
    )
    successor = bearer(await make_key(client, "worker", name="successor"))
    assert task["id"] not in [t["id"] for t in await claim(client, successor, limit=5)]
    clock.advance(timedelta(seconds=61))
    (again,) = await claim(client, successor, worker="bob")
    assert again["id"] == task["id"]
    done = await client.post(
        f"/v1/tasks/{task['id']}/complete",
        json={"worker": "bob", "outcome": "connected"},
        headers=successor,
    )
    assert done.json()["status"] == "completed"


async def test_a_completed_task_cannot_be_completed_twice(client, calls, worker):
    (task,) = await claim(client, worker)
    done = {"worker": "alice", "outcome": "voicemail"}
    url = f"/v1/tasks/{task['id']}/complete"
    assert (await client.post(url, json=done, headers=worker)).status_code == 200
    assert_problem(await client.post(url, json=done, headers=worker), 409)


async def test_a_failed_task_goes_back_to_the_queue_or_fails_for_good(client, calls, worker):
    first, second = await claim(client, worker, limit=2)
    back = await client.post(
        f"/v1/tasks/{first['id']}/fail",
        json={"worker": "alice", "reason": "line busy"},
        headers=worker,
    )
    assert back.json()["status"] == "queued"
    gone = await client.post(
        f"/v1/tasks/{second['id']}/fail",
        json={"worker": "alice", "reason": "number does not exist", "retry": False},
        headers=worker,
    )
    assert gone.json()["status"] == "failed"
    reclaimed = {t["id"]: t["attempts"] for t in await claim(client, worker, limit=5)}
    assert second["id"] not in reclaimed
    assert reclaimed[first["id"]] == 2
    assert len(reclaimed) == 2  # the given-back task and the one never claimed


async def test_claiming_needs_a_task_channel_and_the_worker_scope(client, calls, worker):
    response = await client.post(
        "/v1/tasks/claim", json={"channel": "email", "worker": "alice"}, headers=worker
    )
    assert_problem(response, 422)
    events_key = bearer(await make_key(client, "events"))
    response = await client.post(
        "/v1/tasks/claim", json={"channel": "phone", "worker": "alice"}, headers=events_key
    )
    assert_problem(response, 403)


async def test_unknown_tasks_are_404(client, worker):
    assert_problem(
        await client.post("/v1/tasks/424242/heartbeat", json={"worker": "a"}, headers=worker), 404
    )


async def test_an_event_is_stored_once_and_wakes_the_waiting(app, client, calls, sessions):
    contact = calls[0]
    events_key = bearer(await make_key(client, "events"))
    body = {
        "external_id": contact["external_id"],
        "type": "call_outcome",
        "idempotency_key": "crm-42",
        "data": {"outcome": "interested"},
    }
    first = await client.post("/v1/events", json=body, headers=events_key)
    assert first.status_code == 201, first.text
    second = await client.post("/v1/events", json=body, headers=events_key)
    assert second.status_code == 200
    assert second.json()["duplicate"] is True
    assert second.json()["id"] == first.json()["id"]
    (waiting,) = [e for e in await enrollments(sessions) if e.contact_id == contact["id"]]
    assert waiting.next_action_at == app.state.runtime.clock.now()


async def test_events_for_unknown_contacts_are_404_and_bad_ones_422(client):
    missing = {"contact_id": 999_999, "type": "purchased", "idempotency_key": "k"}
    assert_problem(await client.post("/v1/events", json=missing), 404)
    both = {"contact_id": 1, "external_id": "x", "type": "Bad Type!", "idempotency_key": ""}
    body = assert_problem(await client.post("/v1/events", json=both), 422)
    assert {tuple(p["loc"]) for p in body["errors"]} >= {
        ("body", "type"),
        ("body", "idempotency_key"),
    }


async def test_an_event_may_name_the_touch_it_answers(client, calls, sessions):
    first, second = calls[0], calls[1]
    by_contact = {t.contact_id: t.id for t in await touches(sessions)}
    body = {"contact_id": first["id"], "type": "click", "idempotency_key": "c-1"}

    answered = await client.post("/v1/events", json={**body, "touch_id": by_contact[first["id"]]})
    assert answered.status_code == 201, answered.text
    history = (await client.get(f"/v1/contacts/{first['id']}/timeline")).json()
    (click,) = [e for e in history["items"] if e["kind"] == "event"]
    assert (click["type"], click["touch_id"]) == ("click", by_contact[first["id"]])

    foreign = {**body, "idempotency_key": "c-2", "touch_id": by_contact[second["id"]]}
    problem = assert_problem(await client.post("/v1/events", json=foreign), 422)
    assert [p["loc"] for p in problem["errors"]] == [["body", "touch_id"]]


async def test_a_task_whose_contact_opted_out_since_is_withdrawn_not_handed_out(
    client, calls, worker, sessions
):
    opted_out = calls[0]
    response = await client.put(
        f"/v1/contacts/{opted_out['id']}/consent/phone",
        json={"status": "opted_out", "source": "web form"},
    )
    assert response.status_code == 200, response.text
    tasks = await claim(client, worker, limit=5)
    assert [t["contact"]["id"] for t in tasks] == [calls[1]["id"], calls[2]["id"]]
    (withdrawn,) = [t for t in await touches(sessions) if t.contact_id == opted_out["id"]]
    assert (withdrawn.status, withdrawn.rule, withdrawn.worker) == ("canceled", "consent", None)
