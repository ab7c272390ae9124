"""Errors as the OpenAPI document promises them: 400 for a body that is not JSON, 422 for
JSON that is not a valid payload, and details that read as sentences."""

from __future__ import annotations

import re

import pytest

from app.main import create_app
from app.settings import Settings
from tests.app.test_campaigns_api import NURTURE
from tests.app.test_contacts_api import assert_problem, contact_count
from tests.app.test_contacts_bulk import ndjson
from tests.factories import contact_payload

DOCUMENT = create_app(Settings(_env_file=None)).openapi()
JSON_OPERATIONS = [
    (method.upper(), path)
    for path, operations in DOCUMENT["paths"].items()
    for method, operation in operations.items()
    if "application/json" in operation.get("requestBody", {}).get("content", {})
]


def documented(method: str, path: str, status: int) -> str:
    response = DOCUMENT["paths"][path][method.lower()]["responses"][str(status)]
    assert list(response["content"]) == ["application/problem+json"]
    description: str = response["description"]
    return description


def test_every_route_that_reads_json_is_listed():
    assert ("POST", "/v1/contacts") in JSON_OPERATIONS
    assert ("PUT", "/v1/policy") in JSON_OPERATIONS
    assert len(JSON_OPERATIONS) >= 10


@pytest.mark.parametrize(("method", "path"), JSON_OPERATIONS)
async def test_a_body_that_is_not_json_is_400_as_documented(client, method, path):
    assert "not JSON" in documented(method, path, 400)
    url = re.sub(r"\{[^}]+\}", "1", path)
    response = await client.request(
        method, url, content=b'{"name": "cut off', headers={"content-type": "application/json"}
    )
    body = assert_problem(response, 400)
    assert body["detail"] == "The body is not JSON."
    [problem] = body["errors"]
    assert (problem["loc"], problem["type"]) == (["body"], "json_invalid")
    assert re.fullmatch(r".+: line 1 column \d+ \(char \d+\)", problem["msg"])


async def test_json_that_is_not_a_valid_payload_is_422_as_documented(client):
    assert "invalid" in documented("POST", "/v1/contacts", 422)
    response = await client.post("/v1/contacts", json={"external_id": "c-1", "email": "broken@"})
    body = assert_problem(response, 422)
    assert [problem["loc"] for problem in body["errors"]] == [["body", "email"]]


async def test_a_bulk_body_that_is_not_json_is_400_and_stores_nothing(client):
    response = await client.post(
        "/v1/contacts/bulk", content=b"[{", headers={"content-type": "application/json"}
    )
    assert_problem(response, 400)
    damaged = ndjson([contact_payload()]) + b'{"external_id": "cut off\n'
    response = await client.post(
        "/v1/contacts/bulk", content=damaged, headers={"content-type": "application/x-ndjson"}
    )
    body = assert_problem(response, 400)
    assert [problem["loc"] for problem in body["errors"]] == [["body", 1]]
    assert await contact_count(client) == 0


@pytest.mark.parametrize(
    ("actions", "refused", "detail"),
    [
        (["activate"], "activate", "an active campaign cannot activate; it can archive, pause"),
        (["activate", "archive"], "pause", "an archived campaign cannot pause; it can do nothing"),
        (["activate", "pause"], "pause", "a paused campaign cannot pause; it can archive, resume"),
        ([], "resume", "a draft campaign cannot resume; it can activate, archive"),
    ],
)
async def test_a_refused_transition_reads_as_a_sentence(client, actions, refused, detail):
    campaign_id = (await client.post("/v1/campaigns", json=NURTURE)).json()["id"]
    for action in actions:
        assert (await client.post(f"/v1/campaigns/{campaign_id}/{action}")).status_code == 200
    body = assert_problem(await client.post(f"/v1/campaigns/{campaign_id}/{refused}"), 409)
    assert body["detail"].startswith(detail)
