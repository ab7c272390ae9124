"""Erasure leaves nothing of the person in the database: what `pg_dump` prints of every
table holds none of the contact's email, phone, name, address or handles."""

from __future__ import annotations

import subprocess

import pytest
from sqlalchemy.engine import make_url
from sqlmodel import col, select

from orchestrator.models import Event, Suppression
from orchestrator.services.events import keyed_digest
from tests.app.test_auth import bearer, make_key
from tests.app.test_campaigns_api import activate, define
from tests.conftest import START
from tests.factories import contact_payload

EMAIL = "erasure.target@example.org"
PERSON = {
    "email": EMAIL,
    "phone": "090-5555-0199",
    "attributes": {"name": "消去花子", "nickname": "Hanako-Erasure"},
    "address": {
        "recipient": "消去 花子 様",
        "postal_code": "150-0001",
        "country": "JP",
        "locality": "渋谷区",
        "line1": "神宮前9-8-7 消去ハイツ",
    },
    "social": {"x": "erasure_handle_77", "linkedin": "erasure-li-88"},
}
#: Everything of the person that must be gone, as it would be stored.
PERSONAL = [
    EMAIL,
    "erasure.target",
    "+819055550199",
    "9055550199",
    "消去花子",
    "Hanako-Erasure",
    "消去 花子",
    "神宮前9-8-7",
    "消去ハイツ",
    "erasure_handle_77",
    "erasure-li-88",
]

CALL = {
    "name": "Call",
    "steps": [
        {"id": "call", "type": "send", "channel": "phone",
         "template": {"script": "{{ contact.attributes.name }} ({{ contact.email }}, "
                                "{{ contact.phone }}, {{ contact.social.x }})"}},
        {"id": "wait", "type": "wait_for_event", "timeout": "P2D",
         "cases": [{"when": {"event": "replied"}, "next": "done"}], "on_timeout": "done"},
        {"id": "done", "type": "exit"},
    ],
}  # fmt: skip


def dump(database_url: str) -> str:
    """Every row of every table, as `pg_dump --data-only` prints them."""
    url = make_url(database_url).set(drivername="postgresql")
    result = subprocess.run(
        ["pg_dump", "--data-only", "-d", url.render_as_string(hide_password=False)],
        capture_output=True,
        check=True,
        timeout=120,
    )
    return result.stdout.decode()


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_after_erasure_a_dump_of_the_database_holds_nothing_of_the_person(
    app, client, sessions, database_url
):
    worker = bearer(await make_key(client, "worker", name="callers"))
    person = (await client.post("/v1/contacts", json=contact_payload(**PERSON))).json()
    other = (await client.post("/v1/contacts", json=contact_payload())).json()
    consent = {
        "status": "opted_in",
        "source": "web form",
        "evidence": {"typed": EMAIL, "phone": "090-5555-0199", "name": "消去花子"},
    }
    url = f"/v1/contacts/{person['id']}/consent/email"
    assert (await client.put(url, json=consent)).status_code == 200
    campaign = await define(client, CALL)
    await activate(client, campaign["id"])
    enrolled = await client.post(
        f"/v1/campaigns/{campaign['id']}/enrollments", json={"contact_ids": [person["id"]]}
    )
    assert enrolled.json()["enrolled"] == 1
    await app.state.runtime.dispatcher().run_until_idle()
    claimed = await client.post(
        "/v1/tasks/claim", json={"channel": "phone", "worker": "alice"}, headers=worker
    )
    [task] = claimed.json()["tasks"]
    assert "消去花子" in task["content"]["script"]
    completed = await client.post(
        f"/v1/tasks/{task['id']}/complete",
        json={"worker": "alice", "outcome": "interested", "data": {"spoke_to": "消去花子"},
              "notes": f"write to {EMAIL}", "consent": {"dm": "opted_in"}},
        headers=worker,
    )  # fmt: skip
    assert completed.status_code == 200, completed.text
    event = {
        "contact_id": person["id"],
        "type": "replied",
        "idempotency_key": f"reply-{EMAIL}",
        "data": {"from": EMAIL, "signature": "消去花子 090-5555-0199"},
    }
    assert (await client.post("/v1/events", json=event)).status_code == 201
    async with sessions.begin() as session:
        session.add(
            Suppression(
                channel="*",
                contact_id=person["id"],
                reason="complaint",
                source="manual",
                created_at=START,
            )
        )
    before = dump(database_url)
    assert all(value in before for value in PERSONAL), "the dump shows what it must hide"

    assert (await client.delete(f"/v1/contacts/{person['id']}")).status_code == 204

    after = dump(database_url)
    assert [value for value in PERSONAL if value in after] == []
    assert other["email"] in after
    assert "消去花子" not in after


async def test_a_repeated_idempotency_key_still_dedupes_and_is_kept_as_a_keyed_hash(
    app, client, sessions
):
    contact = (await client.post("/v1/contacts", json=contact_payload())).json()
    event = {"contact_id": contact["id"], "type": "replied", "idempotency_key": f"r-{EMAIL}"}
    first = await client.post("/v1/events", json=event)
    again = await client.post("/v1/events", json=event)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"]
    other = await client.post("/v1/events", json={**event, "idempotency_key": "r-2"})
    assert other.status_code == 201
    secret = app.state.runtime.secret_key
    expected = f"api:{contact['id']}:{keyed_digest(secret, f'r-{EMAIL}')}"
    async with sessions() as session:
        keys = (await session.exec(select(col(Event.dedupe_key)))).all()
    assert expected in keys
    assert not any(EMAIL in key for key in keys)
    assert keyed_digest(secret, "r-2") != keyed_digest(secret + "x", "r-2")
