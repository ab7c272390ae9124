"""`/v1/policy` and a contact's pressure over HTTP; decisions in timelines and stats."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from channels.registry import channel_class, channel_names
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
        ("body", "rules", 2, "type"),
        ("body", "consent", "email"),
    } <= locations
    unknown = await client.put("/v1/policy", json={"weights": {"fax": 1}})
    assert_problem(unknown, 422)
    assert (await client.get("/v1/policy")).json()["version"] == 0


def unknown(name: str) -> str:
    return f"unknown channel {name!r}; known: {', '.join(sorted(channel_names()))}"


def repeated(name: str, first: int) -> str:
    return f"rule names must be unique: {name!r} is also the name of rule {first}"


GAP = {"type": "min_gap", "gap": "PT1H"}

#: Documents with many problems, and every problem the answer lists, in its order: the
#: shape first, then repeated rule names, then unknown channels.
EVERY_PROBLEM: list[tuple[str, Any, list[tuple[list[Any], str]]]] = [
    (
        "shape, names and channels at once",
        {
            "weights": {"fax": 1, "email": -1},
            "rules": [
                {"type": "cap", "name": "weekly", "max": 0, "window": "soon",
                 "channels": ["email", "ghost"]},
                {"type": "quiet_hours", "name": "weekly", "allow": [], "holidays": "Atlantis"},
                {"type": "teleport", "name": "weekly", "channels": ["zzz"]},
            ],
            "consent": {"fax": "opt_in", "sns": "maybe"},
        },
        [
            (["body", "weights", "email"], "Input should be greater than or equal to 0"),
            (["body", "rules", 0, "max"], "Input should be greater than 0"),
            (["body", "rules", 0, "window"],
             "a duration is an ISO 8601 string such as 'PT2H' or 'P3D'"),
            (["body", "rules", 1, "allow"],
             "List should have at least 1 item after validation, not 0"),
            (["body", "rules", 1, "holidays"],
             "no public holidays are known for country 'Atlantis'"),
            (["body", "rules", 2, "type"],
             "unknown rule type 'teleport'; known: cap, min_gap, preference, quiet_hours"),
            (["body", "consent", "sns"], "Input should be 'opt_in' or 'opt_out'"),
            (["body", "rules", 1, "name"], repeated("weekly", 0)),
            (["body", "rules", 2, "name"], repeated("weekly", 0)),
            (["body", "weights", "fax"], unknown("fax")),
            (["body", "consent", "fax"], unknown("fax")),
            (["body", "rules", 0, "channels", 1], unknown("ghost")),
            (["body", "rules", 2, "channels", 0], unknown("zzz")),
        ],
    ),
    (
        "repeated names, each at its later use",
        {"rules": [{**GAP, "name": "a"}, {**GAP, "name": "b"}, {**GAP, "name": "a"},
                   {**GAP, "name": "b"}, {**GAP, "name": "a"}]},
        [
            (["body", "rules", 2, "name"], repeated("a", 0)),
            (["body", "rules", 3, "name"], repeated("b", 1)),
            (["body", "rules", 4, "name"], repeated("a", 0)),
        ],
    ),
    (
        "a rule without a type still has its name and channels read",
        {"rules": [{**GAP, "name": "a"}, {"name": "a", "channels": ["*", "fax"]}]},
        [
            (["body", "rules", 1, "type"], "Field required"),
            (["body", "rules", 1, "name"], repeated("a", 0)),
            (["body", "rules", 1, "channels", 1], unknown("fax")),
        ],
    ),
    (
        "a body that is not an object",
        ["weights"],
        [(["body"], "Input should be a valid dictionary or instance of Policy")],
    ),
]  # fmt: skip


@pytest.mark.parametrize(
    ("document", "expected"),
    [pytest.param(document, expected, id=case) for case, document, expected in EVERY_PROBLEM],
)
async def test_every_problem_of_a_policy_is_listed_at_its_field(client, document, expected):
    body = assert_problem(await client.put("/v1/policy", json=document), 422)
    assert [(p["loc"], p["msg"]) for p in body["errors"]] == expected
    count = len(expected)
    assert body["detail"] == f"the policy has {count} problem{'s' if count != 1 else ''}"
    assert (await client.get("/v1/policy")).json()["version"] == 0


async def test_channels_the_document_leaves_out_keep_their_adapters_defaults(client):
    names = sorted(channel_names())
    weights = {name: channel_class(name).default_weight for name in names}
    consent = {name: channel_class(name).default_consent for name in names}
    default = (await client.get("/v1/policy")).json()["document"]
    assert (default["weights"], default["consent"]) == (weights, consent)

    document = {"weights": {"phone": 5}, "consent": {"email": "opt_out"}}
    stored = await client.put("/v1/policy", json=document)
    assert stored.status_code == 200, stored.text
    current = (await client.get("/v1/policy")).json()
    assert current["version"] == 1
    assert current["document"]["weights"] == {**weights, "phone": 5}
    assert current["document"]["consent"] == {**consent, "email": "opt_out"}


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
    assert (timeline[0]["kind"], timeline[0]["change"]) == ("enrollment", "completed")
    assert timeline[1]["step_id"] == "second"
    assert timeline[1]["status"] == "queued"


async def test_pressure_of_an_unknown_contact_is_404(client):
    assert_problem(await client.get("/v1/contacts/777777/pressure"), 404)


async def test_an_empty_document_is_answered_with_everything_it_defaulted(client):
    names = sorted(channel_names())
    stored = await client.put("/v1/policy", json={})
    assert stored.status_code == 200, stored.text
    assert stored.json()["defaulted"] == [
        "rules",
        *(f"weights.{name}" for name in names),
        *(f"consent.{name}" for name in names),
    ]
    # No rules but the contact's preferences, which every policy in force ends with.
    assert [rule["type"] for rule in stored.json()["document"]["rules"]] == ["preference"]
    assert "defaulted" not in (await client.get("/v1/policy")).json()


async def test_a_whole_document_defaults_only_the_channels_it_leaves_out(client):
    stored = (await client.put("/v1/policy", json=POLICY)).json()
    left_out = sorted(set(channel_names()) - set(POLICY["weights"]))
    assert stored["defaulted"] == [
        *(f"weights.{name}" for name in left_out),
        *(f"consent.{name}" for name in left_out),
    ]
