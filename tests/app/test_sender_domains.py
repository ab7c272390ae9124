"""`KIZUNA_ALLOWED_FROM_DOMAINS`: a step's `from` of another domain is refused when the
campaign is defined, and a rendered one fails its touch alone."""

from __future__ import annotations

import pytest

from app.settings import Settings
from channels.email import EmailChannel, MemorySmtp
from tests.app.test_campaigns_api import activate, define
from tests.app.test_contacts_api import assert_problem
from tests.conftest import ADMIN_KEY
from tests.engine import add_contacts, touches

ALLOWED = frozenset({"shop.example.jp"})


def mailing(sender: str) -> dict:
    return {"name": "News", "steps": [
        {"id": "mail", "type": "send", "channel": "email",
         "template": {"subject": "ご案内", "text": "こんにちは", "from": sender}}]}  # fmt: skip


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(
        database_url=database_url,
        admin_api_key=ADMIN_KEY,
        allowed_from_domains="shop.example.jp",
        _env_file=None,
    )


async def test_a_from_of_a_domain_not_allowed_is_422_at_its_field(client):
    response = await client.post("/v1/campaigns", json=mailing("Sales <sales@evil.example>"))
    body = assert_problem(response, 422)
    assert [e["loc"] for e in body["errors"]] == [["body", "steps", 0, "template", "from"]]
    assert "shop.example.jp" in body["errors"][0]["msg"]
    campaign = await define(client, mailing("Sales <sales@Shop.Example.jp>"))
    edit = await client.put(f"/v1/campaigns/{campaign['id']}", json=mailing("x@evil.example"))
    assert_problem(edit, 422)
    kept = (await client.get(f"/v1/campaigns/{campaign['id']}")).json()
    assert kept["definition"]["steps"][0]["template"]["from"] == "Sales <sales@Shop.Example.jp>"


async def test_a_rendered_from_of_a_domain_not_allowed_fails_that_touch_alone(
    app, client, sessions, clock
):
    contacts = [
        *await add_contacts(sessions, clock, 1, prefix="ok", email="ok@example.jp",
                            attributes={"rep": "rep@shop.example.jp"}),
        *await add_contacts(sessions, clock, 1, prefix="bad", email="bad@example.jp",
                            attributes={"rep": "rep@evil.example"}),
    ]  # fmt: skip
    campaign = await define(client, mailing("{{ contact.attributes.rep }}"))
    await activate(client, campaign["id"])
    await client.post(f"/v1/campaigns/{campaign['id']}/enrollments", json={"contact_ids": contacts})
    runtime = app.state.runtime
    relay = MemorySmtp()
    runtime.channels["email"] = EmailChannel(transport=relay, allowed_from_domains=ALLOWED)
    await runtime.dispatcher().run_until_idle()
    await runtime.outbox().run_once()
    mails = {t.contact_id: t for t in await touches(sessions, channel="email")}
    ok, bad = (mails[contact] for contact in contacts)
    assert (ok.status, bad.status) == ("sent", "failed")
    assert "'evil.example'" in (bad.error or "")
    assert [m["To"] for m in relay.sent] == ["ok@example.jp"]
