"""`GET /v1/touches`: filters, pages, scopes; a touch held by several rules in the list and
in the stats."""

from __future__ import annotations

from datetime import timedelta
from typing import cast

from orchestrator.admission import also_held
from orchestrator.store.touches import NewTouch, TouchStore
from policies import Candidate, ContactFacts, CountedTouch, History, Policy, evaluate
from tests.app.test_auth import bearer, make_key
from tests.app.test_campaigns_api import activate, define
from tests.app.test_contacts_api import assert_problem
from tests.app.test_policy_api import POLICY, TWO_MAILS
from tests.engine import enrollments
from tests.factories import contact_payload

CALL = {
    "name": "Call them",
    "steps": [{"id": "call", "type": "send", "channel": "phone", "template": {"script": "Hi"}}],
}

#: The case of issue 9: a weekly weighted cap of 5 and one call a fortnight.
TWO_CAPS = Policy.model_validate(
    {
        "weights": {"email": 1, "dm": 2, "phone": 3},
        "rules": [
            {"type": "cap", "name": "weekly", "max": 5, "window": "P7D", "unit": "weight"},
            {"type": "cap", "name": "one-call-a-fortnight", "max": 1, "window": "P14D",
             "channels": ["phone"]},
        ],
        "consent": {},
    }
)  # fmt: skip


async def two_mails_for(client, app, count: int) -> tuple[dict, list[int]]:
    """Two mails a day apart for `count` opted-in contacts: per contact the first queued,
    the second deferred by `a-day-apart`."""
    await client.put("/v1/policy", json=POLICY)
    ids = []
    for n in range(count):
        payload = contact_payload(external_id=f"list-{n}", email=f"list{n}@example.jp")
        contact = (await client.post("/v1/contacts", json=payload)).json()
        await client.put(
            f"/v1/contacts/{contact['id']}/consent/email",
            json={"status": "opted_in", "source": "web form"},
        )
        ids.append(contact["id"])
    campaign = await define(client, TWO_MAILS)
    await activate(client, campaign["id"])
    await client.post(f"/v1/campaigns/{campaign['id']}/enrollments", json={"contact_ids": ids})
    await app.state.runtime.dispatcher().run_until_idle()
    return campaign, ids


async def listed(client, **params) -> list[dict]:
    response = await client.get("/v1/touches", params=params)
    assert response.status_code == 200, response.text
    return response.json()["items"]


async def test_touches_are_listed_newest_first_with_their_campaign_and_decision(app, client):
    campaign, (first, second) = await two_mails_for(client, app, 2)
    items = await listed(client)
    assert len(items) == 4
    order = [(item["created_at"], item["id"]) for item in items]
    assert order == sorted(order, reverse=True)
    assert {item["campaign_name"] for item in items} == {"Two mails"}
    deferred = await listed(client, status="deferred", contact_id=second)
    assert [(d["step_id"], d["rule"], d["also_held"]) for d in deferred] == [
        ("second", "a-day-apart", {})
    ]
    assert "a-day-apart: the last touch was" in deferred[0]["reason"]
    assert deferred[0]["defer_until"] is not None
    queued = await listed(client, campaign_id=campaign["id"], step_id="first")
    assert {(q["contact_id"], q["status"], q["attempts"]) for q in queued} == {
        (first, "queued", 0),
        (second, "queued", 0),
    }
    assert len(await listed(client, rule="a-day-apart")) == 2
    assert len(await listed(client, held_by="a-day-apart", contact_id=first)) == 1
    assert await listed(client, rule="weekly") == []
    assert await listed(client, channel="phone") == []
    assert await listed(client, campaign_id=campaign["id"] + 1) == []


async def test_a_time_range_bounds_the_creation_time(app, client, clock):
    await two_mails_for(client, app, 1)
    made = clock.now()
    assert (
        len(
            await listed(
                client, since=made.isoformat(), until=(made + timedelta(seconds=1)).isoformat()
            )
        )
        == 2
    )
    assert await listed(client, since=(made + timedelta(seconds=1)).isoformat()) == []
    assert await listed(client, until=made.isoformat()) == []  # `until` is exclusive


async def test_pages_follow_the_cursor_without_gaps_or_repeats(app, client):
    await two_mails_for(client, app, 3)
    every = [item["id"] for item in await listed(client)]
    seen, cursor = [], None
    while True:
        params = {"limit": 4} | ({"cursor": cursor} if cursor else {})
        page = (await client.get("/v1/touches", params=params)).json()
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == every
    assert len(seen) == 6


async def test_bad_filters_are_problems_listing_the_field(client):
    cases = [
        ({"cursor": "not-a-cursor"}, ["query", "cursor"]),
        ({"since": "2026-11-23T10:00:00"}, ["query", "since"]),  # no offset
        ({"since": "2026-11-24T00:00:00Z", "until": "2026-11-23T00:00:00Z"}, ["query", "since"]),
        ({"until": "0001-01-01T00:00:00+09:00"}, ["query", "until"]),
        ({"status": "lost"}, ["query", "status"]),
        ({"limit": 0}, ["query", "limit"]),
        ({"rule": "x" * 101}, ["query", "rule"]),
    ]
    for params, location in cases:
        body = assert_problem(await client.get("/v1/touches", params=params), 422)
        assert location in [problem["loc"] for problem in body["errors"]], params


async def test_the_touch_list_needs_the_campaigns_scope(client):
    assert (
        await client.get("/v1/touches", headers=bearer(await make_key(client, "campaigns")))
    ).status_code == 200
    worker = await make_key(client, "worker", name="w")
    assert_problem(await client.get("/v1/touches", headers=bearer(worker)), 403)


async def test_a_touch_held_by_two_rules_is_found_by_either_and_counted_by_both(
    app, client, clock, sessions
):
    contact = (await client.post("/v1/contacts", json=contact_payload())).json()
    campaign = await define(client, CALL)
    await activate(client, campaign["id"])
    await client.post(
        f"/v1/campaigns/{campaign['id']}/enrollments", json={"contact_ids": [contact["id"]]}
    )
    (enrollment,) = await enrollments(sessions)
    now = clock.now()
    history = History(
        [
            CountedTouch("email", now - timedelta(days=6), 1),
            CountedTouch("email", now - timedelta(days=5), 1),
            CountedTouch("dm", now - timedelta(days=4), 2),
            CountedTouch("phone", now - timedelta(days=10), 3),
        ]
    )
    deadline = now + timedelta(days=3)
    decision = evaluate(
        Candidate("phone", "marketing", "0901", deadline=deadline),
        history,
        TWO_CAPS,
        ContactFacts("Asia/Tokyo"),
        now,
    )
    row = {
        "contact_id": contact["id"], "enrollment_id": enrollment.id,
        "campaign_id": campaign["id"], "campaign_version": 1, "step_id": "call",
        "channel": "phone", "category": "marketing", "status": "blocked", "weight": 3.0,
        "idempotency_key": f"{enrollment.id}:1:0", "rule": decision.rule,
        "reason": decision.reason, "also_held": also_held(decision), "policy_version": 1,
        "defer_until": None, "content": {}, "error": None, "attempts": 0,
        "created_at": now, "updated_at": now,
    }  # fmt: skip
    async with sessions.begin() as session:
        await TouchStore(session).add_many([cast("NewTouch", row)])

    (blocked,) = await listed(client, held_by="weekly")
    assert blocked["rule"] == "one-call-a-fortnight"
    weekly_frees = now + timedelta(days=2)
    assert blocked["also_held"] == {"weekly": weekly_frees.isoformat().replace("+00:00", "Z")}
    assert blocked["reason"].startswith("one-call-a-fortnight: 1 of 1 calls used")
    assert (
        "weekly: 4 of 5 points used since 2026-11-16 10:00 JST and a call costs 3"
        in (blocked["reason"])
    )
    assert await listed(client, rule="weekly") == []
    assert [t["id"] for t in await listed(client, rule="one-call-a-fortnight")] == [blocked["id"]]
    assert await listed(client, held_by="a-day-apart") == []

    stats = (await client.get(f"/v1/campaigns/{campaign['id']}/stats")).json()
    (call,) = stats["steps"]
    assert call["blocked_by_rule"] == {"one-call-a-fortnight": 1}
    assert call["blocked_also_by_rule"] == {"weekly": 1}
    assert call["deferred_also_by_rule"] == {}


TWO_CALLS = {
    "name": "Call twice",
    "steps": [
        {"id": "call1", "type": "send", "channel": "phone", "template": {"script": "Hi"}},
        {"id": "call2", "type": "send", "channel": "phone", "template": {"script": "Again"},
         "max_delay": "P30D"},
    ],
}  # fmt: skip


async def test_the_engine_stores_every_rule_that_held_a_touch(app, client, clock):
    await client.put("/v1/policy", json=TWO_CAPS.model_dump(mode="json", by_alias=True))
    contact = (await client.post("/v1/contacts", json=contact_payload())).json()
    campaign = await define(client, TWO_CALLS)
    await activate(client, campaign["id"])
    await client.post(
        f"/v1/campaigns/{campaign['id']}/enrollments", json={"contact_ids": [contact["id"]]}
    )
    await app.state.runtime.dispatcher().run_until_idle()

    # the first call costs 3 of the 5 weekly points and the fortnight's one call
    (deferred,) = await listed(client, status="deferred")
    assert deferred["step_id"] == "call2"
    assert deferred["rule"] == "one-call-a-fortnight"
    week = (clock.now() + timedelta(days=7)).isoformat().replace("+00:00", "Z")
    assert deferred["also_held"] == {"weekly": week}
    assert deferred["defer_until"] == (clock.now() + timedelta(days=14)).isoformat().replace(
        "+00:00", "Z"
    )
    assert [t["id"] for t in await listed(client, held_by="weekly")] == [deferred["id"]]
    stats = (await client.get(f"/v1/campaigns/{campaign['id']}/stats")).json()
    call2 = next(s for s in stats["steps"] if s["step_id"] == "call2")
    assert call2["deferred_by_rule"] == {"one-call-a-fortnight": 1}
    assert call2["deferred_also_by_rule"] == {"weekly": 1}
