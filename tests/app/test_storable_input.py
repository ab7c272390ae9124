"""Values no database stores faithfully (a lone surrogate, an integer beyond 64 bits, NaN,
infinities) are a 422 at their field on every route, never a 5xx nor a silent change."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.app.test_campaigns_api import NURTURE
from tests.app.test_contacts_api import assert_problem, contact_count
from tests.factories import contact_payload

#: Each value as its JSON text: the standard library writes them as any client may send them.
UNSTORABLE = {
    "lone surrogate": ('"\\ud800"', "lone surrogate (U+D800)"),
    "integer over 64 bits": ("1000000000000000000000000000000", "between -2**63 and 2**63 - 1"),
    "integer under 64 bits": ("-9223372036854775809", "between -2**63 and 2**63 - 1"),
    "1e400": ("1e400", "finite"),
    "-1e400": ("-1e400", "finite"),
    "NaN": ("NaN", "finite"),
}
CASES = [pytest.param(text, msg, id=name) for name, (text, msg) in UNSTORABLE.items()]
JSON = {"content-type": "application/json"}


def with_value(document: Any, text: str) -> bytes:
    """`document` as JSON with the string "VALUE" replaced by the raw JSON `text`."""
    return json.dumps(document).replace('"VALUE"', text).encode()


def assert_named(problem: dict[str, Any], loc: list[Any], msg: str) -> None:
    assert problem["loc"] == loc
    assert msg in problem["msg"]


@pytest.mark.parametrize(("text", "msg"), CASES)
async def test_a_contact_attribute_is_refused_at_its_place(client, text, msg):
    body = with_value(contact_payload(attributes={"score": {"now": "VALUE"}}), text)
    problem = assert_problem(await client.post("/v1/contacts", content=body, headers=JSON), 422)
    [error] = problem["errors"]
    assert_named(error, ["body", "attributes", "score", "now"], msg)
    assert await contact_count(client) == 0


@pytest.mark.parametrize("media_type", ["application/json", "application/x-ndjson"])
@pytest.mark.parametrize(("text", "msg"), CASES)
async def test_a_bulk_row_is_refused_at_its_field_and_the_good_rows_kept(
    client, media_type, text, msg
):
    good, bad = contact_payload(), contact_payload(attributes={"score": "VALUE"})
    if media_type == "application/json":
        content = with_value([good, bad], text)
    else:
        content = b"".join(with_value(row, text) + b"\n" for row in (good, bad))
    response = await client.post(
        "/v1/contacts/bulk", content=content, headers={"content-type": media_type}
    )
    assert response.status_code == 200, response.text
    result = response.json()
    assert (result["created"], result["failed"]) == (1, 1)
    [row] = result["errors"]
    assert (row["index"], row["external_id"]) == (1, bad["external_id"])
    [error] = row["errors"]
    assert_named(error, ["attributes", "score"], msg)
    assert await contact_count(client) == 1


async def test_a_bulk_integer_beyond_64_bits_is_not_stored_as_a_float(client):
    row = contact_payload(attributes={"big": "VALUE"})
    response = await client.post(
        "/v1/contacts/bulk", content=with_value([row], str(10**30)), headers=JSON
    )
    assert response.json()["failed"] == 1
    assert await contact_count(client) == 0


@pytest.mark.parametrize(("text", "msg"), CASES)
async def test_consent_evidence_is_refused_at_its_place(client, text, msg):
    contact = (await client.post("/v1/contacts", json=contact_payload())).json()
    change = {"status": "opted_in", "source": "form", "evidence": {"ip": "VALUE"}}
    response = await client.put(
        f"/v1/contacts/{contact['id']}/consent/email",
        content=with_value(change, text),
        headers=JSON,
    )
    [error] = assert_problem(response, 422)["errors"]
    assert_named(error, ["body", "evidence", "ip"], msg)
    assert (await client.get(f"/v1/contacts/{contact['id']}")).json()["consent"] == {}


@pytest.mark.parametrize(("text", "msg"), CASES)
async def test_event_data_is_refused_at_its_place(client, text, msg):
    contact = (await client.post("/v1/contacts", json=contact_payload())).json()
    event = {"contact_id": contact["id"], "type": "purchased", "idempotency_key": "k-1"}
    content = with_value({**event, "data": {"amounts": [1, "VALUE"]}}, text)
    response = await client.post("/v1/events", content=content, headers=JSON)
    [error] = assert_problem(response, 422)["errors"]
    assert_named(error, ["body", "data", "amounts", 1], msg)
    timeline = (await client.get(f"/v1/contacts/{contact['id']}/timeline")).json()
    assert [entry for entry in timeline["items"] if entry["kind"] == "event"] == []


@pytest.mark.parametrize(("text", "msg"), CASES)
async def test_a_campaign_condition_value_is_refused_at_its_place(client, text, msg):
    steps = [
        {"id": "check", "type": "branch",
         "cases": [{"when": {"attribute": "score", "op": "eq", "value": "VALUE"}, "next": "done"}],
         "default": "done"},
        {"id": "done", "type": "exit"},
    ]  # fmt: skip
    content = with_value({"name": "Scored", "steps": steps}, text)
    response = await client.post("/v1/campaigns", content=content, headers=JSON)
    errors = assert_problem(response, 422)["errors"]
    assert_named(errors[0], ["body", "steps", 0, "cases", 0, "when", "value"], msg)
    assert (await client.get("/v1/campaigns")).json()["items"] == []


async def test_a_template_with_a_lone_surrogate_is_refused_at_its_field(client):
    definition = json.loads(json.dumps(NURTURE))
    definition["steps"][0]["template"]["text"] = "VALUE"
    content = with_value(definition, '"Hi \\udfff"')
    response = await client.post("/v1/campaigns", content=content, headers=JSON)
    errors = assert_problem(response, 422)["errors"]
    assert_named(errors[0], ["body", "steps", 0, "template", "text"], "lone surrogate (U+DFFF)")


@pytest.mark.parametrize(("text", "msg"), CASES)
async def test_an_enrollment_filter_value_is_refused_at_its_place(client, text, msg):
    campaign = (await client.post("/v1/campaigns", json=NURTURE)).json()
    await client.post(f"/v1/campaigns/{campaign['id']}/activate")
    content = with_value({"filter": {"attribute": "tier", "value": "VALUE"}}, text)
    response = await client.post(
        f"/v1/campaigns/{campaign['id']}/enrollments", content=content, headers=JSON
    )
    [error] = assert_problem(response, 422)["errors"]
    assert_named(error, ["body", "filter", "value"], msg)


async def test_a_policy_rule_name_with_a_lone_surrogate_is_refused_at_its_place(client):
    rule = {"type": "min_gap", "name": "VALUE", "gap": "P1D"}
    content = with_value({"rules": [rule]}, '"gap \\ud800"')
    response = await client.put("/v1/policy", content=content, headers=JSON)
    [error] = assert_problem(response, 422)["errors"]
    assert_named(error, ["body", "rules", 0, "name"], "lone surrogate")
    assert (await client.get("/v1/policy")).json()["version"] == 0


def nested(depth: int, inner: Any, wrap: Any) -> Any:
    for _ in range(depth):
        inner = wrap(inner)
    return inner


@pytest.mark.parametrize("depth", [70, 300, 600])
async def test_values_nested_deeper_than_the_limit_are_a_422_not_a_crash(client, depth):
    deep = nested(depth, {}, lambda inner: {"x": inner})
    for method, path, body in [
        ("POST", "/v1/contacts", contact_payload(attributes=deep)),
        ("POST", "/v1/events", {"external_id": "nobody", "type": "t",
                                "idempotency_key": "k", "data": deep}),
    ]:  # fmt: skip
        content = json.dumps(body).encode()
        response = await client.request(method, path, content=content, headers=JSON)
        problem = assert_problem(response, 422)
        assert any("levels deep" in error["msg"] for error in problem["errors"]), problem
    assert await contact_count(client) == 0


@pytest.mark.parametrize("wrap", ["not", "all"])
async def test_a_condition_nested_hundreds_deep_is_a_422(client, wrap):
    leaf = {"attribute": "a", "op": "exists"}
    condition = nested(
        300, leaf, lambda inner: {"not": inner} if wrap == "not" else {"all": [inner]}
    )
    campaign = {
        "name": "Deep",
        "steps": [
            {"id": "b", "type": "branch", "cases": [{"when": condition, "next": "e"}]},
            {"id": "e", "type": "exit"},
        ],
    }
    content = json.dumps(campaign).encode()
    assert_problem(await client.post("/v1/campaigns", content=content, headers=JSON), 422)
