"""`POST /v1/contacts/bulk`: JSON arrays and NDJSON, bad rows reported, good rows kept."""

from __future__ import annotations

import asyncio

import orjson
import pytest

from tests.app.test_contacts_api import assert_problem, contact_count
from tests.factories import contact_payload

pytestmark = pytest.mark.rolled_back


def ndjson(rows) -> bytes:
    return b"\n".join(orjson.dumps(row) for row in rows) + b"\n"


async def test_good_rows_are_stored_and_each_bad_row_is_reported_by_index(client):
    rows = [
        contact_payload(external_id="b-0"),
        contact_payload(external_id="b-1", email="broken"),
        contact_payload(external_id="b-2"),
        {"email": "no-key@example.jp"},
        "not an object",
        contact_payload(external_id="b-5", timezone="Asia/Nowhere", phone="1"),
    ]
    response = await client.post("/v1/contacts/bulk", json=rows)
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["received"], body["created"], body["updated"], body["failed"]) == (6, 2, 0, 4)
    by_index = {error["index"]: error for error in body["errors"]}
    assert sorted(by_index) == [1, 3, 4, 5]
    assert by_index[1]["external_id"] == "b-1"
    assert [p["loc"] for p in by_index[1]["errors"]] == [["email"]]
    assert by_index[3]["external_id"] is None
    assert [p["loc"] for p in by_index[3]["errors"]] == [["external_id"]]
    assert {tuple(p["loc"]) for p in by_index[5]["errors"]} == {("phone",), ("timezone",)}
    assert await contact_count(client) == 2


async def test_ndjson_rows_are_upserted(client):
    rows = [contact_payload() for _ in range(5)]
    response = await client.post(
        "/v1/contacts/bulk", content=ndjson(rows), headers={"content-type": "application/x-ndjson"}
    )
    assert response.json()["created"] == 5
    again = await client.post(
        "/v1/contacts/bulk", content=ndjson(rows), headers={"content-type": "application/x-ndjson"}
    )
    assert (again.json()["created"], again.json()["updated"]) == (0, 5)
    assert await contact_count(client) == 5


async def test_a_malformed_ndjson_line_stores_nothing(client):
    body = ndjson([contact_payload(), contact_payload()]) + b'{"external_id": "cut off\n'
    response = await client.post(
        "/v1/contacts/bulk", content=body, headers={"content-type": "application/x-ndjson"}
    )
    problem = assert_problem(response, 400)
    assert [p["loc"] for p in problem["errors"]] == [["body", 2]]
    assert await contact_count(client) == 0


async def test_a_body_that_is_not_an_array_stores_nothing(client):
    response = await client.post("/v1/contacts/bulk", json=contact_payload())
    assert_problem(response, 422)
    assert await contact_count(client) == 0


async def test_more_than_ten_thousand_rows_are_refused_whole(client):
    rows = [{"external_id": f"many-{i}"} for i in range(10_001)]
    response = await client.post("/v1/contacts/bulk", json=rows)
    assert_problem(response, 413)
    assert await contact_count(client) == 0


async def test_an_unsupported_media_type_is_415(client):
    response = await client.post(
        "/v1/contacts/bulk", content=b"external_id\nx\n", headers={"content-type": "text/csv"}
    )
    assert_problem(response, 415)


async def test_a_contact_repeated_in_one_request_is_merged_later_fields_winning(client):
    rows = [
        {"external_id": "dup", "email": "first@example.jp", "locale": "ja-JP"},
        {"external_id": "dup", "email": "second@example.jp"},
    ]
    body = (await client.post("/v1/contacts/bulk", json=rows)).json()
    assert (body["created"], body["updated"]) == (1, 0)
    stored = (await client.get("/v1/contacts", params={"external_id": "dup"})).json()["items"]
    assert [(c["email"], c["locale"]) for c in stored] == [("second@example.jp", "ja-JP")]


async def test_rows_of_different_shapes_update_only_their_own_fields(client):
    await client.post(
        "/v1/contacts/bulk",
        json=[contact_payload(external_id="s-1"), contact_payload(external_id="s-2")],
    )
    await client.post(
        "/v1/contacts/bulk",
        json=[{"external_id": "s-1", "locale": "en-GB"}, {"external_id": "s-2", "phone": None}],
    )
    items = (await client.get("/v1/contacts")).json()["items"]
    by_key = {c["external_id"]: c for c in items}
    assert by_key["s-1"]["locale"] == "en-GB"
    assert by_key["s-1"]["phone"] is not None
    assert by_key["s-2"]["phone"] is None
    assert by_key["s-2"]["locale"] is None


@pytest.mark.rolled_back(False)  # two requests at once, each with its own connection
async def test_concurrent_bulk_requests_for_the_same_new_contacts_both_succeed(client):
    rows = [contact_payload(external_id=f"race-{i}") for i in range(200)]
    first, second = await asyncio.gather(
        client.post("/v1/contacts/bulk", json=rows), client.post("/v1/contacts/bulk", json=rows)
    )
    assert first.status_code == second.status_code == 200
    created = first.json()["created"] + second.json()["created"]
    updated = first.json()["updated"] + second.json()["updated"]
    assert (created, updated) == (200, 200)
    assert await contact_count(client) == 200


@pytest.fixture
def settings(settings):
    """Large requests are validated in two worker processes."""
    return settings.model_copy(update={"bulk_processes": 2})


async def test_a_large_request_is_validated_across_processes_with_rows_numbered_in_order(
    client,
):
    rows = [contact_payload(external_id=f"big-{i}") for i in range(2_500)]
    bad = {7: {"email": "x@"}, 1_300: {"timezone": "Nowhere"}, 2_499: {"phone": "1"}}
    for index, change in bad.items():
        rows[index] |= change
    response = await client.post("/v1/contacts/bulk", json=rows)
    body = response.json()
    assert (body["received"], body["created"], body["failed"]) == (2_500, 2_497, 3)
    assert [(e["index"], e["external_id"]) for e in body["errors"]] == [
        (index, f"big-{index}") for index in bad
    ]
    stored = (await client.get("/v1/contacts", params={"external_id": "big-1299"})).json()
    assert stored["items"][0]["phone"].startswith("+8190")
