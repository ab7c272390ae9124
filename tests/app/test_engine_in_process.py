"""The engine as `kizuna serve` runs it beside the API: scheduler, dispatcher, outbox."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx

from app.main import create_app
from tests.conftest import ADMIN_KEY
from tests.factories import contact_payload
from tests.smtp_sink import smtp_sink

WELCOME = {
    "name": "Welcome",
    "steps": [{"id": "hello", "type": "send", "channel": "email",
               "template": {"subject": "ようこそ", "text": "{{ contact.attributes.plan }}"}}],
}  # fmt: skip


@asynccontextmanager
async def serving(settings, clock) -> AsyncIterator[httpx.AsyncClient]:
    """The app with its engine running, as `kizuna serve` runs it, and an admin's client."""
    app = create_app(settings, clock=clock, run_engine=True)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
        async with httpx.AsyncClient(
            transport=transport, base_url="http://kizuna.test", headers=headers
        ) as http:
            yield http


async def test_an_enrolled_contact_gets_the_mail_without_anyone_calling_the_engine(settings, clock):
    with smtp_sink() as sink:
        running = settings.model_copy(update={"smtp_port": sink.port, "dispatch_interval": 60})
        async with serving(running, clock) as http:
            contact = (await http.post("/v1/contacts", json=contact_payload())).json()
            await http.put(
                f"/v1/contacts/{contact['id']}/consent/email",
                json={"status": "opted_in", "source": "signup"},
            )
            campaign = (await http.post("/v1/campaigns", json=WELCOME)).json()
            await http.post(f"/v1/campaigns/{campaign['id']}/activate")
            await http.post(
                f"/v1/campaigns/{campaign['id']}/enrollments",
                json={"contact_ids": [contact["id"]]},
            )
            for _ in range(100):  # the wake-ups, not the 60-second interval, do it
                if sink.messages:
                    break
                await asyncio.sleep(0.05)
            assert [m["Subject"] for m in sink.messages] == ["ようこそ"]
            assert sink.messages[0]["To"] == contact["email"]


SPINNING = {
    "name": "Spinning script",
    "steps": [{"id": "call", "type": "send", "channel": "phone",
               "template": {"script": "{% for i in range(99999) %}{% for j in range(99999) %}"
                                     "{% endfor %}{% endfor %}"}}],
}  # fmt: skip


async def test_the_render_time_limit_is_the_one_the_settings_give(settings, clock):
    running = settings.model_copy(update={"render_timeout": 0.5, "dispatch_interval": 60})
    async with serving(running, clock) as http:
        contact = (await http.post("/v1/contacts", json=contact_payload())).json()
        campaign = (await http.post("/v1/campaigns", json=SPINNING)).json()
        await http.post(f"/v1/campaigns/{campaign['id']}/activate")
        await http.post(
            f"/v1/campaigns/{campaign['id']}/enrollments", json={"contact_ids": [contact["id"]]}
        )
        touches: list[dict[str, object]] = []
        for _ in range(200):
            timeline = (await http.get(f"/v1/contacts/{contact['id']}/timeline")).json()
            touches = [item for item in timeline["items"] if item["kind"] == "touch"]
            if touches:
                break
            await asyncio.sleep(0.05)
    assert [touch["status"] for touch in touches] == ["failed"]
    assert "longer than 0.5 s" in str(touches[0]["error"])
