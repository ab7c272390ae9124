"""Forecasts (`POST /v1/campaigns/{id}/simulate`) and policy what-ifs
(`POST /v1/policy/simulate`) over HTTP, held against a real run of the engine."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from orchestrator.simulation import Assumptions, in_memory_channels, run_engine
from orchestrator.simulation.campaign_forecast import daily
from orchestrator.simulation.report import journeys
from orchestrator.store.simulation import SimulationStore
from tests.app.test_campaigns_api import activate, define
from tests.app.test_contacts_api import assert_problem
from tests.app.test_policy_api import POLICY
from tests.engine import add_contacts, enroll, touches

#: Mail, wait for a click; a click gets a call, silence a letter; the call's answer decides.
CHANNEL_MIX: dict[str, Any] = {
    "name": "Mail, then call the clickers",
    "priority": 50,
    "throttle": {"phone": {"max": 3, "per": "P1D"}},
    "steps": [
        {"id": "mail1", "type": "send", "channel": "email",
         "template": {"subject": "Guide", "text": "https://example.com/guide"}},
        {"id": "wait_click", "type": "wait_for_event", "timeout": "P2D",
         "cases": [{"when": {"event": "click", "step": "mail1"}, "next": "call"}],
         "on_timeout": "letter"},
        {"id": "call", "type": "send", "channel": "phone", "template": {"script": "Hello"}},
        {"id": "after_call", "type": "wait_for_event", "timeout": "P1D",
         "cases": [{"when": {"event": "call_outcome", "data": {"outcome": "interested"}},
                    "next": "mail2"}],
         "on_timeout": "end"},
        {"id": "mail2", "type": "send", "channel": "email",
         "template": {"subject": "Next", "text": "..."}, "next": "end"},
        {"id": "letter", "type": "send", "channel": "dm", "template": {"letter": "Dear ..."}},
        {"id": "end", "type": "exit"},
    ],
}  # fmt: skip

#: Another team's weekly mail, higher in priority: it competes for the same weekly points.
NEWSLETTER: dict[str, Any] = {
    "name": "Newsletter",
    "priority": 70,
    "steps": [
        {"id": "issue", "type": "send", "channel": "email",
         "template": {"subject": "News", "text": "..."}},
        {"id": "week", "type": "wait", "duration": "P3D"},
        {"id": "issue2", "type": "send", "channel": "email",
         "template": {"subject": "More news", "text": "..."}},
    ],
}  # fmt: skip

ASSUME: dict[str, Any] = {
    "open_rate": 0.5,
    "click_rate": 0.4,
    "outcomes": {"phone": {"interested": 0.5, "no_answer": 0.3, "not_interested": 0.2}},
    "seed": 7,
}
AUDIENCE = {"attribute": "segment", "op": "eq", "value": "trial"}


async def _world(client, sessions, clock) -> tuple[int, int]:
    """A policy, 12 contacts in the audience and 4 beside it, the newsletter running to
    half of them; the channel-mix campaign as a draft. Its id and the newsletter's."""
    assert (await client.put("/v1/policy", json=POLICY)).status_code == 200
    trial = await add_contacts(sessions, clock, 12, prefix="t", attributes={"segment": "trial"})
    await add_contacts(sessions, clock, 4, prefix="o", attributes={"segment": "other"})
    newsletter = (await define(client, NEWSLETTER))["id"]
    await activate(client, newsletter)
    await enroll(sessions, clock, newsletter, trial[::2])
    return (await define(client, CHANNEL_MIX))["id"], newsletter


async def _forecast(client, campaign_id: int, **body: Any) -> dict[str, Any]:
    body = {"days": 6, "audience": AUDIENCE, "assume": ASSUME, **body}
    response = await client.post(f"/v1/campaigns/{campaign_id}/simulate", json=body)
    assert response.status_code == 200, response.text
    return response.json()


async def test_a_forecast_matches_a_real_run_day_by_day(client, app, sessions, clock):
    campaign_id, newsletter = await _world(client, sessions, clock)
    start = clock.now()
    forecast = await _forecast(client, campaign_id)
    assert await touches(sessions, campaign_id=campaign_id) == []  # nothing written live
    assert forecast["audience"] == 12
    assert {row["channel"] for row in forecast["daily"]} >= {"email", "phone", "dm"}
    assert sum(row["deferred"] + row["blocked"] for row in forecast["daily"]) > 0

    # The same campaign for real, on the live tables and the same clock and assumptions.
    await activate(client, campaign_id)
    enrolled = await client.post(
        f"/v1/campaigns/{campaign_id}/enrollments", json={"filter": AUDIENCE}
    )
    assert enrolled.json()["enrolled"] == 12
    channels = in_memory_channels(app.state.runtime.channels)
    await run_engine(
        sessions, clock, channels, Assumptions.model_validate(ASSUME), start + timedelta(days=6)
    )
    async with sessions() as session:
        store = SimulationStore(session)
        made = await store.decisions_since(start)
        ours = [row for row in made if row["campaign_id"] == campaign_id]
        enrollments = await store.enrollments_of(campaign_id)
    real = [row.model_dump(mode="json") for row in daily(ours, start)]
    assert forecast["daily"] == real
    paths, states = journeys(ours, enrollments)
    assert forecast["paths"] == [path.model_dump() for path in paths]
    assert forecast["end_states"] == states
    # The newsletter, higher in priority, lost nothing; the campaign lost to it instead.
    assert all(loss["campaign_id"] != newsletter or loss["lost"] <= 0
               for loss in forecast["collisions"]["campaigns"])  # fmt: skip


async def test_the_same_seed_gives_the_same_forecast_and_another_may_not(client, sessions, clock):
    campaign_id, _ = await _world(client, sessions, clock)
    first = await _forecast(client, campaign_id)
    assert await _forecast(client, campaign_id) == first
    other = await _forecast(client, campaign_id, assume={**ASSUME, "seed": 8})
    assert (other["daily"], other["paths"]) != (first["daily"], first["paths"])


async def test_a_campaign_that_takes_the_weekly_points_costs_the_others(client, sessions, clock):
    """A higher-priority campaign mailing daily pushes the newsletter's contacts into the cap."""
    _, newsletter = await _world(client, sessions, clock)
    daily_mail = {
        "name": "Daily push",
        "priority": 90,
        "steps": [
            {"id": f"m{n}", "type": "send", "channel": "email",
             "template": {"subject": "Buy", "text": "..."}}
            for n in range(4)
        ],
    }  # fmt: skip
    push = (await define(client, daily_mail))["id"]
    forecast = await _forecast(client, push, days=4)
    collisions = forecast["collisions"]
    assert collisions["contacts_pushed_into_cap"] >= 6
    (loss,) = [c for c in collisions["campaigns"] if c["campaign_id"] == newsletter]
    assert loss["lost"] > 0
    assert loss["admitted_with"] == loss["admitted_without"] - loss["lost"]
    assert (loss["name"], loss["priority"]) == ("Newsletter", 70)


async def test_forecast_bounds_and_bad_assumptions_are_422(client, sessions, clock):
    campaign_id, _ = await _world(client, sessions, clock)
    too_long = await client.post(
        f"/v1/campaigns/{campaign_id}/simulate", json={"days": 91, "audience": AUDIENCE}
    )
    assert_problem(too_long, 422)
    assert "90" in too_long.text
    no_audience = await client.post(f"/v1/campaigns/{campaign_id}/simulate", json={"days": 3})
    assert_problem(no_audience, 422)
    bad = await client.post(
        f"/v1/campaigns/{campaign_id}/simulate",
        json={"audience": AUDIENCE, "assume": {"outcomes": {"email": {"x": 1},
                                                            "phone": {"maybe": 1}}}},
    )  # fmt: skip
    assert_problem(bad, 422)
    locs = [error["loc"] for error in bad.json()["errors"]]
    assert locs == [["body", "assume", "outcomes", "email"],
                    ["body", "assume", "outcomes", "phone", "maybe"]]  # fmt: skip
    assert_problem(await client.post("/v1/campaigns/999/simulate", json={}), 404)


async def test_a_stricter_policy_is_tried_side_by_side_and_never_stored(client, sessions, clock):
    campaign_id, _ = await _world(client, sessions, clock)
    await activate(client, campaign_id)
    await client.post(f"/v1/campaigns/{campaign_id}/enrollments", json={"filter": AUDIENCE})
    stricter = {
        **POLICY,
        "rules": [{"type": "cap", "name": "two-a-week", "max": 2, "window": "P7D"}],
    }
    response = await client.post(
        "/v1/policy/simulate", json={"policy": stricter, "days": 7, "assume": ASSUME}
    )
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["current_version"] == 1
    current = sum(row["current"]["admitted"] for row in answer["rows"])
    proposed = sum(row["proposed"]["admitted"] for row in answer["rows"])
    assert proposed < current
    held = {rule for row in answer["rows"] for rule in row["proposed"]["deferred_by_rule"]}
    held |= {rule for row in answer["rows"] for rule in row["proposed"]["blocked_by_rule"]}
    assert "two-a-week" in held
    assert answer["pressure_changed"] >= len(answer["examples"]) > 0
    example = answer["examples"][0]
    assert example["proposed_points"] != example["current_points"]
    assert example["external_id"].startswith("c-t-")
    versions = (await client.get("/v1/policy/versions")).json()
    assert [v["version"] for v in versions] == [1]
    assert await touches(sessions) == []  # the engine never ran live


async def test_a_proposed_policy_is_checked_like_a_replacement(client):
    response = await client.post(
        "/v1/policy/simulate",
        json={"policy": {"rules": [{"type": "cap", "name": "x", "max": 0, "window": "soon"}]}},
    )
    assert_problem(response, 422)
    locs = [error["loc"] for error in response.json()["errors"]]
    assert all(loc[:2] == ["body", "policy"] for loc in locs)
    assert len(locs) >= 2
    too_long = await client.post("/v1/policy/simulate", json={"policy": {}, "days": 91})
    assert_problem(too_long, 422)
    assert (await client.get("/v1/policy/versions")).json() == []


async def test_an_active_campaign_is_forecast_for_its_running_enrollments(client, sessions, clock):
    campaign_id, _ = await _world(client, sessions, clock)
    await activate(client, campaign_id)
    await client.post(f"/v1/campaigns/{campaign_id}/enrollments", json={"filter": AUDIENCE})
    forecast = await _forecast(client, campaign_id, audience=None)
    assert forecast["audience"] == 12
    assert sum(path["count"] for path in forecast["paths"]) == 12
    assert forecast["daily"][0]["channel"] == "email"
    archived = await client.post(f"/v1/campaigns/{campaign_id}/archive")
    assert archived.status_code == 200
    assert_problem(await client.post(f"/v1/campaigns/{campaign_id}/simulate", json={}), 409)


async def test_a_campaign_alone_pushes_its_own_audience_into_the_cap(client, sessions, clock):
    """With no other journey running, the run without the campaign is skipped: nothing
    would move there, so every contact a cap holds is one the campaign pushed."""
    assert (await client.put("/v1/policy", json=POLICY)).status_code == 200
    await add_contacts(sessions, clock, 5, prefix="t", attributes={"segment": "trial"})
    five_mails = {
        "name": "Five mails",
        "steps": [
            {"id": f"m{n}", "type": "send", "channel": "email",
             "template": {"subject": "Buy", "text": "..."}}
            for n in range(5)
        ],
    }  # fmt: skip
    campaign_id = (await define(client, five_mails))["id"]
    forecast = await _forecast(client, campaign_id, days=8)
    assert forecast["collisions"] == {"contacts_pushed_into_cap": 5, "campaigns": []}
    held = {rule for row in forecast["daily"] for rule in row["deferred_by_rule"]}
    assert "weekly" in held
    assert forecast["end_states"] == {"completed": 5}
