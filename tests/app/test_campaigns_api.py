"""`/v1/campaigns` over HTTP: define, edit, versions, lifecycle, enrollments, stats."""

from __future__ import annotations

from typing import Any

import pytest

from tests.app.test_contacts_api import assert_problem
from tests.factories import contact_payload
from tests.orchestrator.test_definitions import FIRST_TRY, FIRST_TRY_PROBLEMS

NURTURE: dict[str, Any] = {
    "name": "Nurture",
    "priority": 40,
    "steps": [
        {"id": "mail1", "type": "send", "channel": "email",
         "template": {"subject": "Hello {{ contact.attributes.name }}", "text": "..."}},
        {"id": "pause", "type": "wait", "duration": "P3D"},
        {"id": "call", "type": "send", "channel": "phone", "template": {"script": "Hi"}},
    ],
}  # fmt: skip


async def define(client, definition=NURTURE) -> dict:
    response = await client.post("/v1/campaigns", json=definition)
    assert response.status_code == 201, response.text
    return response.json()


async def activate(client, campaign_id: int) -> dict:
    response = await client.post(f"/v1/campaigns/{campaign_id}/activate")
    assert response.status_code == 200, response.text
    return response.json()


async def test_a_campaign_is_defined_as_a_draft_and_read_back(client):
    created = await define(client)
    assert (created["status"], created["version"], created["priority"]) == ("draft", 1, 40)
    assert created["definition"]["steps"][1] == {
        "id": "pause",
        "type": "wait",
        "duration": "P3D",
    }
    fetched = (await client.get(f"/v1/campaigns/{created['id']}")).json()
    assert fetched["definition"] == created["definition"]
    listed = (await client.get("/v1/campaigns", params={"status": "draft"})).json()
    assert [c["id"] for c in listed["items"]] == [created["id"]]


async def test_every_problem_of_a_definition_is_answered_at_once(client):
    broken = {
        "name": "Broken",
        "steps": [
            {"id": "a", "type": "send", "channel": "fax", "template": {}},
            {"id": "b", "type": "wait", "duration": "soon"},
        ],
    }
    body = assert_problem(await client.post("/v1/campaigns", json=broken), 422)
    assert {tuple(p["loc"]) for p in body["errors"]} == {
        ("body", "steps", 0, "channel"),
        ("body", "steps", 1, "duration"),
    }
    graph = {**NURTURE, "steps": [*NURTURE["steps"], {"id": "mail1", "type": "exit"}]}
    body = assert_problem(await client.post("/v1/campaigns", json=graph), 422)
    assert body["errors"][0]["loc"] == ["body", "steps", 3, "id"]
    assert (await client.get("/v1/campaigns")).json()["items"] == []


async def test_shape_and_graph_problems_come_back_in_one_answer(client):
    created = await define(client)
    for answer in (
        await client.post("/v1/campaigns", json=FIRST_TRY),
        await client.put(f"/v1/campaigns/{created['id']}", json=FIRST_TRY),
    ):
        body = assert_problem(answer, 422)
        assert [(tuple(p["loc"]), p["msg"]) for p in body["errors"]] == FIRST_TRY_PROBLEMS


async def test_editing_a_draft_keeps_its_version_and_an_active_one_makes_a_new_one(client):
    created = await define(client)
    renamed = {**NURTURE, "name": "Nurture v2"}
    edited = (await client.put(f"/v1/campaigns/{created['id']}", json=renamed)).json()
    assert (edited["version"], edited["name"]) == (1, "Nurture v2")
    await activate(client, created["id"])
    again = (await client.put(f"/v1/campaigns/{created['id']}", json=NURTURE)).json()
    assert again["version"] == 2
    versions = (await client.get(f"/v1/campaigns/{created['id']}/versions")).json()
    assert [v["version"] for v in versions] == [1, 2]
    first = (await client.get(f"/v1/campaigns/{created['id']}", params={"version": 1})).json()
    assert first["definition"]["name"] == "Nurture v2"


@pytest.mark.parametrize(
    ("path", "allowed_from"),
    [("activate", "draft"), ("pause", "active"), ("resume", "paused")],
)
async def test_lifecycle_transitions_are_enforced(client, path, allowed_from):
    created = await define(client)
    campaign_id = created["id"]
    if allowed_from in ("active", "paused"):
        await activate(client, campaign_id)
    if allowed_from == "paused":
        await client.post(f"/v1/campaigns/{campaign_id}/pause")
    moved = await client.post(f"/v1/campaigns/{campaign_id}/{path}")
    assert moved.status_code == 200, moved.text
    assert_problem(await client.post(f"/v1/campaigns/{campaign_id}/{path}"), 409)


async def test_an_archived_campaign_changes_no_more(client):
    created = await define(client)
    archived = await client.post(f"/v1/campaigns/{created['id']}/archive")
    assert archived.json()["status"] == "archived"
    body = assert_problem(await client.post(f"/v1/campaigns/{created['id']}/activate"), 409)
    assert "archived" in body["detail"]
    assert_problem(await client.put(f"/v1/campaigns/{created['id']}", json=NURTURE), 409)


async def test_enrollment_answers_counts_and_every_skipped_contact(client):
    created = await define(client)
    contacts = [
        (await client.post("/v1/contacts", json=contact_payload())).json() for _ in range(3)
    ]
    ids = [c["id"] for c in contacts]
    assert_problem(
        await client.post(f"/v1/campaigns/{created['id']}/enrollments", json={"contact_ids": ids}),
        409,
    )
    await activate(client, created["id"])
    url = f"/v1/campaigns/{created['id']}/enrollments"
    first = (await client.post(url, json={"contact_ids": [*ids[:2], 999_999]})).json()
    assert (first["enrolled"], first["skipped"]) == (
        2,
        [{"contact_id": 999_999, "external_id": None, "reason": "not_found"}],
    )
    by_key = {"external_ids": [contacts[1]["external_id"], contacts[2]["external_id"], "nobody"]}
    second = (await client.post(url, json=by_key)).json()
    assert second["enrolled"] == 1
    assert sorted((s["external_id"], s["reason"]) for s in second["skipped"]) == sorted(
        [(contacts[1]["external_id"], "already_enrolled"), ("nobody", "not_found")]
    )


async def test_enrollment_by_filter_takes_the_matching_contacts(client):
    created = await define(client)
    await activate(client, created["id"])
    for tier in ("gold", "silver", "gold"):
        await client.post("/v1/contacts", json=contact_payload(attributes={"tier": tier}))
    result = await client.post(
        f"/v1/campaigns/{created['id']}/enrollments",
        json={"filter": {"attribute": "tier", "op": "eq", "value": "gold"}},
    )
    assert result.json()["enrolled"] == 2


async def test_an_enrollment_request_gives_exactly_one_way(client):
    created = await define(client)
    body = {"contact_ids": [1], "external_ids": ["x"]}
    problem = assert_problem(
        await client.post(f"/v1/campaigns/{created['id']}/enrollments", json=body), 422
    )
    assert "exactly one" in problem["errors"][0]["msg"]


async def test_stats_count_enrollments_and_steps(client):
    created = await define(client)
    await activate(client, created["id"])
    contact = (await client.post("/v1/contacts", json=contact_payload())).json()
    await client.post(
        f"/v1/campaigns/{created['id']}/enrollments", json={"contact_ids": [contact["id"]]}
    )
    stats = (await client.get(f"/v1/campaigns/{created['id']}/stats")).json()
    assert stats["enrollments"] == {"active": 1}
    assert [(s["step_id"], s["at_step"]) for s in stats["steps"]] == [
        ("mail1", 1),
        ("pause", 0),
        ("call", 0),
    ]


async def test_pausing_holds_running_enrollments_and_resuming_releases_them(client, sessions):
    from tests.engine import enrollments

    created = await define(client)
    await activate(client, created["id"])
    contact = (await client.post("/v1/contacts", json=contact_payload())).json()
    url = f"/v1/campaigns/{created['id']}/enrollments"
    await client.post(url, json={"contact_ids": [contact["id"]]})
    await client.post(f"/v1/campaigns/{created['id']}/pause")
    assert [e.state for e in await enrollments(sessions)] == ["paused"]
    await client.post(f"/v1/campaigns/{created['id']}/resume")
    assert [e.state for e in await enrollments(sessions)] == ["active"]
    await client.post(f"/v1/campaigns/{created['id']}/archive")
    assert [(e.state, e.exit_reason) for e in await enrollments(sessions)] == [
        ("exited", "archived")
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{{ 'a' * 10**9 }}", "makes text of 1,000,000,000 characters"),
        ("{{ 1/0 }}", "fails for every contact: division by zero"),
        ("x" * (64 * 1024 + 1), "it is 65,537 bytes; the limit is 65,536"),
    ],
)
async def test_a_template_that_cannot_render_for_anyone_is_refused_at_its_field(
    client, text, message
):
    mail = NURTURE["steps"][0]
    definition = {**NURTURE, "steps": [{**mail, "template": {**mail["template"], "text": text}}]}
    response = await client.post("/v1/campaigns", json=definition)
    assert response.status_code == 422, response.text
    [problem] = response.json()["errors"]
    assert problem["loc"] == ["body", "steps", 0, "template", "text"]
    assert message in problem["msg"]
