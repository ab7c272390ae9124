"""A contact's timeline and erasure, with touches, events and enrollments stored beside it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import col, select

from orchestrator.contact_fields import address_hash
from orchestrator.models import Campaign, Contact, Enrollment, Event, Suppression, Touch
from tests.app.test_contacts_api import assert_problem
from tests.conftest import START
from tests.factories import contact_payload

pytestmark = pytest.mark.rolled_back


async def make_contact(client, **fields) -> dict:
    response = await client.post("/v1/contacts", json=contact_payload(**fields))
    assert response.status_code == 201, response.text
    return response.json()


async def store_enrollment(sessions, contact_id: int) -> int:
    """A campaign, an active enrollment, one touch and one click event for the contact."""
    async with sessions.begin() as session:
        campaign = Campaign(
            name="Autumn",
            status="active",
            priority=50,
            category="marketing",
            current_version=1,
            created_at=START,
            updated_at=START,
        )
        session.add(campaign)
        await session.flush()
        assert campaign.id is not None
        enrollment = Enrollment(
            campaign_id=campaign.id,
            campaign_version=1,
            contact_id=contact_id,
            state="active",
            step_id="mail1",
            next_action_at=START + timedelta(days=1),
            created_at=START,
            updated_at=START,
        )
        session.add(enrollment)
        await session.flush()
        touch = Touch(
            contact_id=contact_id,
            enrollment_id=enrollment.id,
            campaign_id=campaign.id,
            campaign_version=1,
            step_id="mail1",
            channel="email",
            category="marketing",
            status="sent",
            weight=1.0,
            idempotency_key=f"{enrollment.id}:mail1:0",
            content={"subject": "秋のご案内"},
            created_at=START + timedelta(minutes=1),
            updated_at=START + timedelta(minutes=1),
        )
        session.add(touch)
        await session.flush()
        session.add(
            Event(
                contact_id=contact_id,
                type="click",
                dedupe_key=f"click-{touch.id}",
                touch_id=touch.id,
                source="tracking",
                data={"url": "https://example.com/guide"},
                occurred_at=START + timedelta(minutes=5),
                received_at=START,
            )
        )
        assert enrollment.id is not None
        return enrollment.id


async def test_the_timeline_merges_touches_events_and_consent_newest_first(client, sessions, clock):
    contact = await make_contact(client)
    await store_enrollment(sessions, contact["id"])
    clock.advance(timedelta(minutes=10))
    await client.put(
        f"/v1/contacts/{contact['id']}/consent/email",
        json={"status": "opted_out", "source": "unsubscribe-link"},
    )
    items = (await client.get(f"/v1/contacts/{contact['id']}/timeline")).json()["items"]
    assert [item["kind"] for item in items] == ["consent", "event", "touch", "enrollment"]
    assert items[1]["type"] == "click"
    assert items[1]["touch_id"] == items[2]["id"]
    assert items[2]["channel"] == "email"
    assert items[2]["status"] == "sent"
    assert items[2]["campaign_name"] == items[3]["campaign_name"] == "Autumn"
    assert (items[3]["change"], items[3]["reason"]) == ("started", None)


async def test_timeline_pages_follow_the_cursor_without_gaps_or_repeats(client, clock):
    contact = await make_contact(client)
    url = f"/v1/contacts/{contact['id']}/consent/email"
    for n in range(7):
        # Two changes share each instant, so the cursor must break ties.
        for status in ("opted_in", "opted_out"):
            await client.put(url, json={"status": status, "source": f"step-{n}"})
        clock.advance(timedelta(seconds=1))
    seen, cursor = [], None
    while True:
        params = {"limit": 3} | ({"cursor": cursor} if cursor else {})
        page = (await client.get(f"/v1/contacts/{contact['id']}/timeline", params=params)).json()
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted(seen, reverse=True)
    assert len(seen) == len(set(seen)) == 14


async def test_a_cursor_that_was_not_given_out_is_422(client):
    contact = await make_contact(client)
    response = await client.get(
        f"/v1/contacts/{contact['id']}/timeline", params={"cursor": "bm90LWEtY3Vyc29y"}
    )
    body = assert_problem(response, 422)
    assert body["errors"][0]["loc"] == ["query", "cursor"]


async def test_erasing_removes_personal_data_and_ends_enrollments(client, sessions):
    contact = await make_contact(
        client,
        address={
            "postal_code": "150-0001",
            "country": "JP",
            "locality": "渋谷区",
            "line1": "神宮前1-2-3",
        },
    )
    enrollment_id = await store_enrollment(sessions, contact["id"])

    response = await client.delete(f"/v1/contacts/{contact['id']}")
    assert response.status_code == 204

    assert_problem(await client.get(f"/v1/contacts/{contact['id']}"), 404)
    async with sessions() as session:
        row = await session.get(Contact, contact["id"])
        assert row is not None
        assert row.erased_at is not None
        personal = (row.external_id, row.email, row.phone, row.address, row.locale)
        assert personal == (None, None, None, None, None)
        assert row.attributes == {}
        assert row.social == {}
        enrollment = await session.get(Enrollment, enrollment_id)
        assert (enrollment.state, enrollment.exit_reason) == ("exited", "erased")
        assert enrollment.next_action_at is None
        touch = (await session.exec(select(Touch))).one()
        assert (touch.status, touch.content) == ("sent", {})
        event = (await session.exec(select(Event))).one()
        assert (event.type, event.data) == ("click", {"erased": True})


async def test_erasing_keeps_what_suppressed_the_contact_as_address_hashes(client, sessions):
    contact = await make_contact(client)
    async with sessions.begin() as session:
        session.add(
            Suppression(
                channel="*",
                contact_id=contact["id"],
                reason="complaint",
                source="manual",
                created_at=START,
            )
        )
    await client.delete(f"/v1/contacts/{contact['id']}")

    async with sessions() as session:
        kept = (
            await session.exec(
                select(Suppression).where(col(Suppression.address_hash).is_not(None))
            )
        ).all()
    assert {(s.channel, s.address_hash, s.reason) for s in kept} == {
        ("email", address_hash("email", contact["email"]), "complaint"),
        ("phone", address_hash("phone", contact["phone"]), "complaint"),
        ("pager", address_hash("pager", contact["phone"]), "complaint"),  # the test plugin
    }
    stored = " ".join(repr(s.model_dump()) for s in kept)
    assert contact["email"] not in stored
    assert contact["phone"] not in stored


async def test_an_erased_contact_can_be_erased_no_more(client):
    contact = await make_contact(client)
    await client.delete(f"/v1/contacts/{contact['id']}")
    assert_problem(await client.delete(f"/v1/contacts/{contact['id']}"), 404)


async def test_erasure_frees_the_external_id_for_a_new_contact(client):
    contact = await make_contact(client, external_id="crm-reuse")
    await client.delete(f"/v1/contacts/{contact['id']}")
    again = await client.post("/v1/contacts", json={"external_id": "crm-reuse"})
    assert again.status_code == 201
    assert again.json()["id"] != contact["id"]
