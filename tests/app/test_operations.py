"""Health, readiness, metrics, request ids, logs free of personal data, a transaction a request."""

from __future__ import annotations

import logging
import re
from urllib.parse import urljoin

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr

from app.database import create_engine, create_sessionmaker
from app.deps import RuntimeDep, SessionDep
from app.logging import configure_logging
from app.main import create_app
from app.runtime import Runtime
from orchestrator.errors import Conflict
from orchestrator.models import ContactUpsert
from orchestrator.services.contacts import ContactService
from tests.app.test_contacts_api import assert_problem, contact_count
from tests.factories import contact_payload


async def test_healthz_answers_without_a_key(client):
    response = await client.get("/healthz", headers={"Authorization": ""})
    assert response.json() == {"status": "ok"}


async def test_readyz_checks_the_database(client):
    response = await client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["database"] == "ok"


async def test_readyz_is_503_when_the_database_is_unreachable(app, client):
    runtime = app.state.runtime
    unreachable = create_engine("postgresql+asyncpg://kizuna@127.0.0.1:1/none", pool_size=1)
    app.state.runtime = Runtime(
        runtime.settings, unreachable, create_sessionmaker(unreachable), runtime.clock, "s"
    )
    try:
        assert_problem(await client.get("/readyz"), 503)
    finally:
        app.state.runtime = runtime
        await unreachable.dispose()


async def test_a_request_the_database_cannot_take_is_a_503_that_says_so(app, client):
    runtime = app.state.runtime
    unreachable = create_engine("postgresql+asyncpg://kizuna@127.0.0.1:1/none", pool_size=1)
    app.state.runtime = Runtime(
        runtime.settings, unreachable, create_sessionmaker(unreachable), runtime.clock, "s"
    )
    try:
        response = await client.post("/v1/contacts", json=contact_payload())
    finally:
        app.state.runtime = runtime
        await unreachable.dispose()
    assert_problem(response, 503)
    assert response.json()["type"] == "urn:kizuna:problem:database-unavailable"
    assert "(unreachable)" in response.json()["detail"]
    assert response.headers["Retry-After"] == "5"


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # a page limit is SQLite's
async def test_a_full_disk_is_a_503_that_says_so(app, client):
    """SQLite's own "database or disk is full", from a page limit on the app's connection."""
    engine = app.state.runtime.engine
    async with engine.connect() as connection:
        pages = (await connection.exec_driver_sql("PRAGMA page_count")).scalar_one()
        await connection.exec_driver_sql(f"PRAGMA max_page_count = {pages}")
    try:
        contact = contact_payload(attributes={"note": "x" * 65536})
        response = await client.post("/v1/contacts", json=contact)
    finally:
        async with engine.connect() as connection:
            await connection.exec_driver_sql("PRAGMA max_page_count = 1073741823")
    assert_problem(response, 503)
    assert "database or disk is full" in response.json()["detail"]


async def test_metrics_count_requests_by_route_template(client):
    contact = (await client.post("/v1/contacts", json=contact_payload())).json()
    await client.get(f"/v1/contacts/{contact['id']}")
    text = (await client.get("/metrics")).text
    assert (
        'kizuna_http_requests_total{method="GET",route="/v1/contacts/{contact_id}",status="200"}'
        in text
    )
    assert f'/v1/contacts/{contact["id"]}"' not in text
    assert "kizuna_contacts_upserted_total" in text


async def test_requests_no_route_takes_share_one_label_whatever_their_path(client):
    anonymous = {"Authorization": ""}
    await client.get("/v1/nothing-here", headers=anonymous)
    before = (await client.get("/metrics")).text
    paths = [f"/v1/campaigns/r{n}x/stats/" for n in range(20)] + [f"/r{n}x" for n in range(20)]
    for path in paths:
        response = await client.get(path, headers=anonymous)
        assert response.status_code in (307, 401, 404)
    after = (await client.get("/metrics")).text
    assert not re.search(r"r\d+x", after)
    assert 'route="unmatched"' in after
    series = re.compile(r"^kizuna_http_requests_total\{.*$", re.MULTILINE)
    assert len(series.findall(after)) - len(series.findall(before)) <= 4


@pytest.mark.parametrize(
    ("authorization", "status"),
    [
        (None, 401),
        ("Bearer wrong-token", 401),
        ("Basic bWV0cmljcw==", 401),
        ("Bearer m-token", 200),
    ],
)
async def test_metrics_need_the_metrics_token_when_one_is_set(
    settings, clock, authorization, status
):
    guarded = create_app(
        settings.model_copy(update={"metrics_token": SecretStr("m-token")}), clock=clock
    )
    async with guarded.router.lifespan_context(guarded):
        transport = httpx.ASGITransport(app=guarded)
        async with httpx.AsyncClient(transport=transport, base_url="http://kizuna.test") as http:
            headers = {} if authorization is None else {"Authorization": authorization}
            response = await http.get("/metrics", headers=headers)
    assert response.status_code == status
    if status == 401:
        assert response.headers["www-authenticate"] == "Bearer"
        assert "kizuna_http_requests_total" not in response.text
    else:
        assert "kizuna_http_requests_total" in response.text


async def test_a_request_id_is_echoed_or_made(client):
    given = await client.get("/healthz", headers={"X-Request-ID": "trace-123"})
    assert given.headers["x-request-id"] == "trace-123"
    made = await client.get("/healthz", headers={"X-Request-ID": "bad id\twith spaces"})
    assert len(made.headers["x-request-id"]) == 32


async def test_logs_carry_the_request_id_and_no_personal_data(client, capfd):
    configure_logging("DEBUG")
    try:
        payload = contact_payload(email="hanako.sato@example.jp", phone="+81 90 1234 5678")
        await client.post("/v1/contacts", json=payload, headers={"X-Request-ID": "req-pii"})
        await client.post("/v1/contacts", json={**payload, "email": "broken@"})
        logging.getLogger("kizuna.test").warning("forwarding %s", "hanako.sato@example.jp")
    finally:
        logging.getLogger().handlers.clear()
    logged = capfd.readouterr().err
    assert "[req-pii] POST /v1/contacts 201" in logged
    assert "forwarding [email]" in logged
    for secret in ("hanako.sato", "1234 5678", "819012345678"):
        assert secret not in logged


async def test_unknown_routes_and_methods_are_problems(client):
    assert_problem(await client.get("/v1/nothing-here"), 404)
    assert_problem(await client.patch("/v1/contacts"), 405)


async def failing_app(settings, clock) -> FastAPI:
    """The real application plus a route that writes a contact and then fails."""
    application = create_app(settings, clock=clock)

    @application.post("/test/write-then-fail")
    async def write_then_fail(session: SessionDep, runtime: RuntimeDep) -> None:
        service = ContactService(session, runtime.clock, default_timezone="Asia/Tokyo")
        await service.upsert(ContactUpsert.model_validate(contact_payload()))
        raise Conflict("the second half of the work failed")

    @application.post("/test/write-then-crash")
    async def write_then_crash(session: SessionDep, runtime: RuntimeDep) -> None:
        service = ContactService(session, runtime.clock, default_timezone="Asia/Tokyo")
        await service.upsert(ContactUpsert.model_validate(contact_payload()))
        raise RuntimeError("a bug")

    return application


async def test_a_failing_request_stores_nothing(settings, clock):
    application = await failing_app(settings, clock)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application, raise_app_exceptions=False)
        async with httpx.AsyncClient(
            transport=transport,
            base_url="http://kizuna.test",
            headers={"Authorization": f"Bearer {settings.admin_api_key.get_secret_value()}"},
        ) as http:
            assert_problem(await http.post("/test/write-then-fail"), 409)
            crashed = await http.post("/test/write-then-crash")
            body = assert_problem(crashed, 500)
            assert "a bug" not in body["detail"]
            assert await contact_count(http) == 0


def links(page: str) -> list[str]:
    return re.findall(r'(?:href|src)="([^"]*)"', page)


async def test_the_landing_page_links_the_docs_and_operations_and_no_dead_end(client):
    response = await client.get("/", headers={"Authorization": ""})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    page = response.text
    assert "Kizuna" in page
    assert "ひとつの接触頻度ポリシー" in page
    assert {"docs", "redoc", "openapi.json", "healthz", "readyz", "metrics"} <= set(links(page))
    assert "://" not in page
    for link in links(page):
        followed = await client.get(urljoin("/", link), headers={"Authorization": ""})
        assert followed.status_code == 200, link


@pytest.mark.parametrize(
    ("page", "assets"),
    [("/docs", {".js", ".css", ".png"}), ("/redoc", {".js", ".png"})],
)
async def test_the_docs_pages_load_every_asset_from_the_service_itself(client, page, assets):
    response = await client.get(page)
    assert response.status_code == 200
    html = response.text
    assert "http://" not in html
    assert "https://" not in html
    referenced = links(html)
    assert {link[link.rindex(".") :] for link in referenced} == assets
    for link in referenced:
        assert link.startswith("/")
        asset = await client.get(link, headers={"Authorization": ""})
        assert asset.status_code == 200, link
        if link.endswith(".js"):
            assert "javascript" in asset.headers["content-type"]
            assert len(asset.content) > 500_000  # the bundle itself, not a loader
        if link.endswith(".css"):
            assert asset.headers["content-type"].startswith("text/css")
