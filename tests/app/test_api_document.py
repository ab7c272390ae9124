"""Inputs as the OpenAPI document describes them: what is required, and what is kept."""

from __future__ import annotations

from channels.sns import NETWORKS
from tests.app.test_contacts_api import assert_problem
from tests.app.test_errors import DOCUMENT
from tests.factories import contact_payload

SCHEMAS = DOCUMENT["components"]["schemas"]


def request_schema(path: str) -> dict:
    reference = DOCUMENT["paths"][path]["post"]["requestBody"]["content"]["application/json"]
    return SCHEMAS[reference["schema"]["$ref"].rsplit("/", 1)[-1]]


async def test_an_event_without_an_idempotency_key_is_refused_as_documented(client):
    assert "idempotency_key" in request_schema("/v1/events")["required"]
    contact = (await client.post("/v1/contacts", json=contact_payload())).json()
    response = await client.post("/v1/events", json={"contact_id": contact["id"], "type": "x"})
    body = assert_problem(response, 422)
    assert [problem["loc"] for problem in body["errors"]] == [["body", "idempotency_key"]]


async def test_any_social_network_is_kept_and_the_known_ones_are_documented(client):
    description = request_schema("/v1/contacts")["properties"]["social"]["description"]
    assert "any lower-case network name is kept" in description
    assert all(f" {network}" in description for network in NETWORKS)
    social = {"x": "@sato", "mastodon": "@sato@example.social"}
    response = await client.post("/v1/contacts", json=contact_payload(social=social))
    assert response.status_code == 201, response.text
    assert response.json()["social"] == social
