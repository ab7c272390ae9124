"""`/v1/policy` and a contact's pressure over HTTP; decisions in timelines and stats."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from tests.app.test_campaigns_api import activate, define
from tests.app.test_contacts_api import assert_problem
from tests.factories import contact_payload

POLICY: dict[str, Any] = {
    "weights": {"email": 1, "sns": 1, "dm": 2, "phone": 3},
    "rules": [
        {"type": "cap", "name": "weekly", "max": 4, "window": "P7D", "unit": "weight"},
        {"type": "min_gap", "name": "a-day-apart", "gap": "PT24H"},
        {"type": "quiet_hours", "name": "office-hours-calls", "channels": ["phone"],
         "allow": [{"days": ["mon", "tue", "wed", "thu", "fri"], "from": "09:00", "to": "19:00"}],
         "holidays": "JP"},
    ],
    "consent": {"email": "opt_in", "sns": "opt_in", "phone": "opt_out", "dm": "opt_out"},
}  # fmt: skip

TWO_MAILS = {
    "name": "Two mails",
    "steps": [
        {"id": "first", "type": "send", "channel": "email",
         "template": {"subject": "1", "text": "1"}},
        {"id": "second", "type": "send", "channel": "email",
         "template": {"subject": "2", "text": "2"}},
    ],
}  # fmt: skip


async def test_the_default_policy_is_version_zero_until_one_is_stored(client):
    current = (await client.get("/v1/policy")).json()
    assert current["version"] == 0
    assert current["document"]["consent"]["email"] == "opt_in"
    stored = await client.put("/v1/policy", json=POLICY)
    assert stored.status_code == 200, stored.text
    assert stored.json()["version"] == 1
    assert stored.json()["created_by"] == "admin (KIZUNA_ADMIN_API_KEY)"
    again = (await client.put("/v1/policy", json={**POLICY, "rules": []})).json()
    assert again["version"] == 2
    versions = (await client.get("/v1/policy/versions")).json()
    assert [v["version"] for v in versions] == [2, 1]
    first = (await client.get("/v1/policy/versions/1")).json()
    assert first["document"]["rules"][2]["allow"][0]["from"] == "09:00"
    assert_problem(await client.get("/v1/policy/versions/9"), 404)


async def test_every_problem_of_a_policy_is_listed_and_nothing_changes(client):
    broken = {
        "rules": [
            {"type": "cap", "name": "x", "max": 0, "window": "soon"},
            {"type": "quiet_hours", "name": "x", "allow": [], "holidays": "Atlantis"},
            {"type": "surprise", "name": "y"},
        ],
        "consent": {"email": "maybe"},
    }
    body = assert_problem(await client.put("/v1/policy", json=broken), 422)
    locations = {tuple(p["loc"]) for p in body["errors"]}
    assert {
        ("body", "rules", 0, "max"),
        ("body", "rules", 0, "window"),
        ("body", "rules", 1, "allow"),
        ("body", "rules", 1, "holidays"),
        ("body", "rules", 2),
        ("body", "consent", "email"),
    } <= locations
    unknown = await client.put("/v1/policy", json={"weights": {"fax": 1}})
    assert_problem(unknown, 422)
    assert (await client.get("/v1/policy")).json()["version"] == 0


async def test_decisions_show_in_the_timeline_stats_and_pressure(app, client, clock):
    await client.put("/v1/policy", json=POLICY)
    contact = (await client.post("/v1/contacts", json=contact_payload())).json()
    await client.put(
        f"/v1/contacts/{contact['id']}/consent/email",
        json={"status": "opted_in", "source": "web form"},
    )
    campaign = await define(client, TWO_MAILS)
    await activate(client, campaign["id"])
    await client.post(
        f"/v1/campaigns/{campaign['id']}/enrollments", json={"contact_ids": [contact["id"]]}
    )
    await app.state.runtime.dispatcher().run_until_idle()

    timeline = (await client.get(f"/v1/contacts/{contact['id']}/timeline")).json()["items"]
    touches = [i for i in timeline if i["kind"] == "touch"]
    assert [(t["step_id"], t["status"], t["rule"], t["policy_version"]) for t in touches] == [
        ("second", "deferred", "a-day-apart", 1),
        ("first", "queued", None, 1),
    ]
    assert "next free" in touches[0]["reason"]
    stats = (await client.get(f"/v1/campaigns/{campaign['id']}/stats")).json()
    second = next(s for s in stats["steps"] if s["step_id"] == "second")
    assert second["deferred_by_rule"] == {"a-day-apart": 1}

    pressure = (await client.get(f"/v1/contacts/{contact['id']}/pressure")).json()
    assert pressure["policy_version"] == 1
    weekly = next(r for r in pressure["rules"] if r["name"] == "weekly")
    assert (weekly["used"], weekly["limit"]) == (1, 4)
    channels = {c["channel"]: c for c in pressure["channels"]}
    assert channels["email"]["decision"] == "defer"
    assert channels["email"]["rule"] == "a-day-apart"
    assert channels["sns"]["decision"] == "block"  # no handle, no opt-in

    clock.advance(timedelta(hours=24))
    await app.state.runtime.dispatcher().run_until_idle()
    timeline = (await client.get(f"/v1/contacts/{contact['id']}/timeline")).json()["items"]
    assert timeline[0]["step_id"] == "second"
    assert timeline[0]["status"] == "queued"


async def test_pressure_of_an_unknown_contact_is_404(client):
    assert_problem(await client.get("/v1/contacts/777777/pressure"), 404)
