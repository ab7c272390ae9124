"""The contact routes over HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import func
from sqlmodel import col, select

from orchestrator.models import Contact
from tests.factories import contact_payload

pytestmark = pytest.mark.rolled_back


async def contact_count(client) -> int:
    response = await client.get("/v1/contacts", params={"limit": 500})
    assert response.status_code == 200
    return len(response.json()["items"])


def assert_problem(response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status
    assert body["type"].startswith("urn:kizuna:problem:")
    return body


async def test_upsert_creates_then_updates_by_external_id(client):
    created = await client.post("/v1/contacts", json=contact_payload(external_id="crm-a"))
    assert created.status_code == 201
    updated = await client.post("/v1/contacts", json={"external_id": "crm-a", "locale": "ja-JP"})
    assert updated.status_code == 200
    assert updated.json()["id"] == created.json()["id"]
    assert await contact_count(client) == 1


async def test_upsert_sets_given_fields_and_keeps_the_others(client):
    first = await client.post(
        "/v1/contacts",
        json=contact_payload(external_id="crm-b", attributes={"name": "佐藤"}, locale="ja-JP"),
    )
    second = await client.post(
        "/v1/contacts", json={"external_id": "crm-b", "email": None, "attributes": {"tier": 2}}
    )
    before, after = first.json(), second.json()
    assert after["email"] is None
    assert after["attributes"] == {"tier": 2}
    assert after["phone"] == before["phone"]
    assert after["locale"] == "ja-JP"
    assert after["created_at"] == before["created_at"]


async def test_upsert_normalises_addresses_and_applies_the_default_zone(client):
    response = await client.post(
        "/v1/contacts",
        json={"external_id": "crm-c", "email": "Sato.Hanako@EXAMPLE.JP", "phone": "090-1234-5678"},
    )
    body = response.json()
    assert body["email"] == "Sato.Hanako@example.jp"
    assert body["phone"] == "+819012345678"
    assert body["timezone"] == "Asia/Tokyo"
    assert body["consent"] == {}


async def test_a_national_number_is_read_in_the_region_of_the_contacts_locale(client):
    response = await client.post(
        "/v1/contacts",
        json={"external_id": "crm-us", "phone": "(212) 555-0142", "locale": "en-US"},
    )
    assert response.status_code == 201, response.text
    assert response.json()["phone"] == "+12125550142"


async def test_every_problem_of_a_bad_contact_is_listed_and_nothing_is_stored(client):
    response = await client.post(
        "/v1/contacts",
        json={
            "external_id": "crm-bad",
            "email": "not-an-address",
            "phone": "12",
            "timezone": "Mars/Olympus_Mons",
            "paused_until": "2026-12-01T10:00:00",
            "attributes": ["not", "an", "object"],
            "favourite_colour": "blue",
        },
    )
    body = assert_problem(response, 422)
    locations = {tuple(problem["loc"]) for problem in body["errors"]}
    assert locations == {
        ("body", "email"),
        ("body", "phone"),
        ("body", "timezone"),
        ("body", "paused_until"),
        ("body", "attributes"),
        ("body", "favourite_colour"),
    }
    assert "not-an-address" not in response.text, "the input is not echoed back"
    assert await contact_count(client) == 0


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("external_id", 42),
        ("external_id", ""),
        ("email", "sato@"),
        ("phone", "090-1234"),
        ("timezone", "JST"),
        ("locale", "日本語"),
        ("social", {"LinkedIn": "x"}),
        ("address", {"postal_code": "150-0001", "country": "Japan"}),
        ("attributes", {"note": "nul \u0000 inside"}),
    ],
)
async def test_a_bad_field_is_answered_with_422_naming_it(client, field, value):
    response = await client.post("/v1/contacts", json=contact_payload(**{field: value}))
    body = assert_problem(response, 422)
    assert any(problem["loc"][:2] == ["body", field] for problem in body["errors"])
    assert await contact_count(client) == 0


async def test_a_body_that_is_not_json_is_a_problem(client):
    response = await client.post(
        "/v1/contacts", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert_problem(response, 400)


async def test_a_body_over_the_limit_is_refused_with_413(client, settings):
    big = {"external_id": "crm-big", "attributes": {"blob": "x" * settings.max_body_bytes}}
    response = await client.post("/v1/contacts", json=big)
    assert_problem(response, 413)
    assert await contact_count(client) == 0


async def test_a_streamed_body_over_the_limit_is_refused_with_413(client, settings):
    async def chunks():
        yield b'{"external_id": "crm-stream", "attributes": {"blob": "'
        for _ in range(settings.max_body_bytes // 65536 + 2):
            yield b"x" * 65536
        yield b'"}}'

    response = await client.post(
        "/v1/contacts", content=chunks(), headers={"content-type": "application/json"}
    )
    assert_problem(response, 413)
    assert await contact_count(client) == 0


async def test_reading_an_unknown_contact_is_404(client):
    assert_problem(await client.get("/v1/contacts/987654"), 404)


async def test_find_by_external_id(client):
    await client.post("/v1/contacts", json=contact_payload(external_id="crm-find"))
    await client.post("/v1/contacts", json=contact_payload())
    found = await client.get("/v1/contacts", params={"external_id": "crm-find"})
    assert [c["external_id"] for c in found.json()["items"]] == ["crm-find"]


async def test_the_list_pages_through_every_contact_once(client):
    for _ in range(7):
        await client.post("/v1/contacts", json=contact_payload())
    seen, after = [], None
    while True:
        params = {"limit": 3} | ({"after": after} if after else {})
        page = (await client.get("/v1/contacts", params=params)).json()
        seen += [c["id"] for c in page["items"]]
        after = page["next_after"]
        if after is None:
            break
    assert len(seen) == len(set(seen)) == 7


async def test_consent_is_appended_and_becomes_current(client):
    contact = (await client.post("/v1/contacts", json=contact_payload())).json()
    url = f"/v1/contacts/{contact['id']}/consent/email"
    first = await client.put(
        url, json={"status": "opted_in", "source": "web-form", "evidence": {"ip": "203.0.113.9"}}
    )
    assert first.status_code == 200, first.text
    await client.put(url, json={"status": "opted_out", "source": "call", "evidence": {}})
    current = (await client.get(f"/v1/contacts/{contact['id']}")).json()
    assert current["consent"] == {"email": "opted_out"}
    timeline = (await client.get(f"/v1/contacts/{contact['id']}/timeline")).json()
    assert [(e["kind"], e["status"], e["source"]) for e in timeline["items"]] == [
        ("consent", "opted_out", "call"),
        ("consent", "opted_in", "web-form"),
    ]
    assert timeline["items"][1]["evidence"] == {"ip": "203.0.113.9"}


async def test_consent_for_an_unknown_channel_is_404(client):
    contact = (await client.post("/v1/contacts", json=contact_payload())).json()
    response = await client.put(
        f"/v1/contacts/{contact['id']}/consent/fax", json={"status": "opted_in", "source": "x"}
    )
    assert_problem(response, 404)


async def test_consent_with_a_bad_status_lists_the_problems(client):
    contact = (await client.post("/v1/contacts", json=contact_payload())).json()
    response = await client.put(
        f"/v1/contacts/{contact['id']}/consent/email", json={"status": "maybe", "source": ""}
    )
    body = assert_problem(response, 422)
    assert {tuple(p["loc"]) for p in body["errors"]} == {("body", "status"), ("body", "source")}
    assert (await client.get(f"/v1/contacts/{contact['id']}")).json()["consent"] == {}


async def test_consent_for_an_unknown_contact_is_404(client):
    response = await client.put(
        "/v1/contacts/424242/consent/email", json={"status": "opted_in", "source": "x"}
    )
    assert_problem(response, 404)


async def test_an_absent_address_is_stored_as_sql_null_not_json_null(client, sessions):
    await client.post("/v1/contacts/bulk", json=[contact_payload(), contact_payload()])
    await client.post("/v1/contacts", json=contact_payload())
    async with sessions() as session:
        result = await session.exec(
            select(func.count()).select_from(Contact).where(col(Contact.address).is_(None))
        )
        assert result.one() == 3


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("timezone", "Asia/" + "x" * 5000),
        ("social", {"X" * 5000: "handle"}),
    ],
)
async def test_a_problem_quotes_a_long_value_cut_short(client, field, value):
    response = await client.post("/v1/contacts", json=contact_payload(**{field: value}))
    [problem] = assert_problem(response, 422)["errors"]
    assert problem["loc"] == ["body", field]
    assert len(problem["msg"]) < 200
    assert "…" in problem["msg"]
