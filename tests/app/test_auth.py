"""API keys and scopes: 401 without a valid key, 403 without the scope, hashes at rest."""

from __future__ import annotations

import asyncio
import time

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.database import create_engine, create_sessionmaker
from app.main import create_app
from orchestrator.clock import Clock
from orchestrator.errors import Conflict
from orchestrator.models import ApiKey
from orchestrator.services.api_keys import ApiKeyService, hash_key
from tests.app.test_contacts_api import assert_problem
from tests.conftest import ADMIN_KEY
from tests.databases import empty_postgres

BOOTSTRAP = "admin (KIZUNA_ADMIN_API_KEY)"


async def make_key(client, *scopes: str, name: str = "k") -> str:
    response = await client.post("/v1/keys", json={"name": name, "scopes": list(scopes)})
    assert response.status_code == 201, response.text
    return response.json()["key"]


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def key_id(client, name: str, *, as_key: str = ADMIN_KEY) -> int:
    listed = (await client.get("/v1/keys", headers=bearer(as_key))).json()
    return next(k["id"] for k in listed if k["name"] == name)


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


async def test_the_last_active_admin_key_cannot_be_revoked(client):
    await make_key(client, "campaigns", "worker", "events", name="not-admin")
    bootstrap = await key_id(client, BOOTSTRAP)
    body = assert_problem(await client.delete(f"/v1/keys/{bootstrap}"), 409)
    assert body["detail"] == (
        f"API key {bootstrap} ({BOOTSTRAP}) is the last active admin key; revoking it would "
        "leave nobody able to manage keys. Create another admin key first."
    )
    listed = (await client.get("/v1/keys")).json()
    assert all(k["revoked_at"] is None for k in listed)


async def test_an_admin_key_may_revoke_itself_while_another_admin_key_stays(client):
    second = await make_key(client, "admin", "campaigns", name="second")
    bootstrap = await key_id(client, BOOTSTRAP)
    assert (await client.delete(f"/v1/keys/{bootstrap}")).status_code == 200
    assert_problem(await client.get("/v1/keys"), 401)
    second_id = await key_id(client, "second", as_key=second)
    assert_problem(await client.delete(f"/v1/keys/{second_id}", headers=bearer(second)), 409)


async def test_a_restart_warns_once_that_the_configured_admin_key_is_revoked(
    client, settings, clock, caplog
):
    await make_key(client, "admin", name="second")
    bootstrap = await key_id(client, BOOTSTRAP)
    assert (await client.delete(f"/v1/keys/{bootstrap}")).status_code == 200
    restarted = create_app(settings, clock=clock)
    with caplog.at_level("WARNING", logger="kizuna.runtime"):
        async with restarted.router.lifespan_context(restarted):
            pass
    [warning] = [r for r in caplog.records if r.name == "kizuna.runtime"]
    assert warning.levelname == "WARNING"
    message = warning.getMessage()
    assert f"KIZUNA_ADMIN_API_KEY names key {bootstrap}" in message
    assert "stays revoked" in message
    assert ADMIN_KEY not in message


async def test_a_live_configured_admin_key_logs_no_warning(settings, clock, caplog):
    started = create_app(settings, clock=clock)
    with caplog.at_level("WARNING", logger="kizuna.runtime"):
        async with started.router.lifespan_context(started):
            pass
    assert [r for r in caplog.records if r.name == "kizuna.runtime"] == []


async def _revoke_alone(
    sessions: async_sessionmaker[AsyncSession], clock: Clock, revoked: int
) -> ApiKey:
    async with sessions.begin() as session:
        return await ApiKeyService(session, clock).revoke(revoked)


async def _until_one_waits_for_a_lock(engine: AsyncEngine, task: asyncio.Task[ApiKey]) -> None:
    waiting = text(
        "SELECT count(*) FROM pg_stat_activity"
        " WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    deadline = time.monotonic() + 60  # a loaded machine may take seconds to get there
    async with engine.connect() as connection:
        while time.monotonic() < deadline:
            if task.done() or (await connection.execute(waiting)).scalar_one():
                return
            await asyncio.sleep(0.01)
    pytest.fail("the second revocation neither finished nor waited")


@pytest.mark.postgres
async def test_two_admin_keys_revoked_at_once_leave_one_active(postgres_url, clock):
    empty_postgres(postgres_url)
    engine = create_engine(postgres_url, pool_size=3)
    sessions = create_sessionmaker(engine)
    try:
        async with sessions.begin() as session:
            service = ApiKeyService(session, clock)
            first, _ = await service.create("first", ["admin"])
            second, _ = await service.create("second", ["admin"])
        assert first.id is not None
        assert second.id is not None
        async with sessions() as session:
            await ApiKeyService(session, clock).revoke(first.id)
            other = asyncio.create_task(_revoke_alone(sessions, clock, second.id))
            await _until_one_waits_for_a_lock(engine, other)
            await session.commit()
        with pytest.raises(Conflict, match="last active admin key"):
            await other
        async with sessions() as session:
            active = (
                await session.exec(select(ApiKey).where(col(ApiKey.revoked_at).is_(None)))
            ).all()
        assert [key.name for key in active] == ["second"]
    finally:
        await engine.dispose()
