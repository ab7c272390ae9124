"""API keys and scopes: 401 without a valid key, 403 without the scope, hashes at rest."""

from __future__ import annotations

import pytest
from sqlmodel import select

from app.main import create_app
from orchestrator.models import ApiKey
from orchestrator.services.api_keys import hash_key
from tests.app.test_contacts_api import assert_problem
from tests.conftest import ADMIN_KEY


async def make_key(client, *scopes: str, name: str = "k") -> str:
    response = await client.post("/v1/keys", json={"name": name, "scopes": list(scopes)})
    assert response.status_code == 201, response.text
    return response.json()["key"]


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def test_a_request_without_a_key_is_401_with_a_bearer_challenge(client):
    response = await client.get("/v1/contacts", headers={"Authorization": ""})
    assert_problem(response, 401)
    assert response.headers["www-authenticate"] == "Bearer"


async def test_an_unknown_key_is_401(client):
    assert_problem(await client.get("/v1/contacts", headers=bearer("kz_guess")), 401)


@pytest.mark.parametrize(
    ("scope", "allowed"),
    [("campaigns", True), ("admin", True), ("worker", False), ("events", False)],
)
async def test_contact_routes_need_the_campaigns_scope(client, scope, allowed):
    key = await make_key(client, scope)
    response = await client.get("/v1/contacts", headers=bearer(key))
    if allowed:
        assert response.status_code == 200
    else:
        body = assert_problem(response, 403)
        assert "campaigns" in body["detail"]


@pytest.mark.parametrize("scope", ["campaigns", "worker", "events"])
async def test_key_management_needs_admin(client, scope):
    key = await make_key(client, scope)
    assert_problem(await client.get("/v1/keys", headers=bearer(key)), 403)
    assert_problem(
        await client.post("/v1/keys", json={"name": "x", "scopes": ["admin"]}, headers=bearer(key)),
        403,
    )


async def test_a_new_key_is_shown_once_and_stored_only_as_a_hash(client, sessions):
    key = await make_key(client, "campaigns", "events", name="crm-sync")
    listed = (await client.get("/v1/keys")).json()
    entry = next(k for k in listed if k["name"] == "crm-sync")
    assert "key" not in entry
    assert key.startswith(entry["prefix"])
    assert entry["scopes"] == ["campaigns", "events"]
    async with sessions() as session:
        rows = (await session.exec(select(ApiKey))).all()
    assert all(key not in repr(row.model_dump()) for row in rows)
    assert hash_key(key) in {row.key_hash for row in rows}


async def test_a_revoked_key_stops_working_at_once(client):
    key = await make_key(client, "campaigns")
    key_id = next(k["id"] for k in (await client.get("/v1/keys")).json() if k["name"] == "k")
    assert (await client.get("/v1/contacts", headers=bearer(key))).status_code == 200
    revoked = await client.delete(f"/v1/keys/{key_id}")
    assert revoked.json()["revoked_at"] is not None
    assert_problem(await client.get("/v1/contacts", headers=bearer(key)), 401)


async def test_revoking_an_unknown_key_is_404(client):
    assert_problem(await client.delete("/v1/keys/999999"), 404)


async def test_a_key_with_an_unknown_scope_is_refused(client):
    response = await client.post("/v1/keys", json={"name": "x", "scopes": ["root"]})
    body = assert_problem(response, 422)
    assert body["errors"][0]["loc"][:2] == ["body", "scopes"]


async def test_the_bootstrap_admin_key_is_kept_across_restarts(settings, clock, sessions):
    for _ in range(2):
        application = create_app(settings, clock=clock)
        async with application.router.lifespan_context(application):
            pass
    async with sessions() as session:
        rows = (await session.exec(select(ApiKey))).all()
    assert [(row.key_hash, row.scopes) for row in rows] == [(hash_key(ADMIN_KEY), ["admin"])]
