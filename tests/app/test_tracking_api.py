"""Tracked links, open pixels and unsubscribes over HTTP, on both databases: a click wakes the
enrollment waiting for it, a scanner's click does not, a one-click POST stops the next mail."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlmodel import col, select

from channels.email import EmailChannel, MemorySmtp
from orchestrator.models import ConsentLog, Event
from tests.app.test_campaigns_api import activate, define
from tests.app.test_contacts_api import assert_problem
from tests.engine import add_contacts, enrollments, touches

TARGET = "https://shop.example.jp/new?utm=mail&id=1"

CLICK_THEN_CALL = {
    "name": "Mail, then call whoever clicks",
    "steps": [
        {"id": "mail1", "type": "send", "channel": "email",
         "template": {"subject": "{{ contact.attributes.name }}様、新製品のご案内",
                      "text": f"詳しくは {TARGET} をご覧ください。",
                      "html": '<p><a href="https://shop.example.jp/new?utm=mail&amp;id=1">'
                              "新製品</a></p>"}},
        {"id": "listen", "type": "wait_for_event", "timeout": "P3D",
         "cases": [{"when": {"event": "click", "step": "mail1"}, "next": "call"}],
         "on_timeout": "done"},
        {"id": "call", "type": "send", "channel": "phone", "template": {"script": "ご興味は?"}},
        {"id": "done", "type": "exit"},
    ],
}  # fmt: skip

TWO_MAILS = {
    "name": "Two newsletters",
    "steps": [
        {"id": "mail1", "type": "send", "channel": "email",
         "template": {"subject": "第1号", "text": "https://shop.example.jp/1"}},
        {"id": "pause", "type": "wait", "duration": "PT1H"},
        {"id": "mail2", "type": "send", "channel": "email",
         "template": {"subject": "第2号", "text": "https://shop.example.jp/2"}},
    ],
}  # fmt: skip


async def run_campaign(app, client, sessions, clock, definition) -> tuple[int, MemorySmtp]:
    """One contact with email consent, enrolled and dispatched, its first mail sent through
    the application's outbox to an in-memory relay."""
    (contact,) = await add_contacts(sessions, clock, 1, attributes={"name": "佐藤"})
    campaign = await define(client, definition)
    await activate(client, campaign["id"])
    enrolled = await client.post(
        f"/v1/campaigns/{campaign['id']}/enrollments", json={"contact_ids": [contact]}
    )
    assert enrolled.status_code == 200, enrolled.text
    runtime = app.state.runtime
    relay = MemorySmtp()
    runtime.channels["email"] = EmailChannel(transport=relay)
    await runtime.dispatcher().run_until_idle()
    assert await runtime.outbox().run_once() == 1
    return contact, relay


def tracked(relay: MemorySmtp, route: str, number: int = 0) -> str:
    """The path of the `route` link (`/t/c/`, `/t/o/`, `/u/`) of the last message sent."""
    message = relay.sent[-1]
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",))
    found = re.findall(rf"http://127\.0\.0\.1:8000({route}[A-Za-z0-9._-]+)", text)
    if html is not None:
        found += re.findall(
            rf"http://127\.0\.0\.1:8000({route}[A-Za-z0-9._-]+)", html.get_content()
        )
    return found[number]


async def events_of(sessions, type: str) -> list[Event]:
    async with sessions() as session:
        query = select(Event).where(col(Event.type) == type).order_by(col(Event.id))
        return list((await session.exec(query)).all())


async def test_a_click_on_a_tracked_link_redirects_and_wakes_the_enrollment_for_the_call(
    app, client, sessions, clock
):
    contact, relay = await run_campaign(app, client, sessions, clock, CLICK_THEN_CALL)
    assert TARGET not in relay.sent[0].get_body(("plain",)).get_content()
    (mail,) = await touches(sessions, channel="email")
    clock.advance(timedelta(minutes=5))

    response = await client.get(tracked(relay, "/t/c/"))
    assert response.status_code == 302
    assert response.headers["location"] == TARGET
    (click,) = await events_of(sessions, "click")
    assert (click.touch_id, click.data["suspected_bot"]) == (mail.id, False)
    (waiting,) = await enrollments(sessions)
    assert waiting.next_action_at == clock.now()  # woken, as a posted event wakes it

    await app.state.runtime.dispatcher().run_until_idle()
    (call,) = await touches(sessions, channel="phone")
    assert (call.contact_id, call.status, call.step_id) == (contact, "queued", "call")

    html_link = await client.get(tracked(relay, "/t/c/", 1))  # the same target, in HTML
    assert html_link.headers["location"] == TARGET


async def test_a_scanners_click_at_delivery_is_flagged_and_wakes_no_step(
    app, client, sessions, clock
):
    _, relay = await run_campaign(app, client, sessions, clock, CLICK_THEN_CALL)
    clock.advance(timedelta(milliseconds=300))
    first, second = tracked(relay, "/t/c/", 0), tracked(relay, "/t/c/", 1)
    assert (await client.get(first)).status_code == 302
    assert (await client.get(second)).status_code == 302
    (flagged,) = await events_of(sessions, "click")  # the burst is one click
    assert flagged.data["suspected_bot"] is True
    await app.state.runtime.dispatcher().run_until_idle()
    assert await touches(sessions, channel="phone") == []
    (waiting,) = await enrollments(sessions)
    assert waiting.step_id == "listen"

    clock.advance(timedelta(seconds=40))  # the person, later
    assert (await client.get(first)).status_code == 302
    await app.state.runtime.dispatcher().run_until_idle()
    assert len(await touches(sessions, channel="phone")) == 1
    campaign_id = (await enrollments(sessions))[0].campaign_id
    stats = (await client.get(f"/v1/campaigns/{campaign_id}/stats")).json()
    (mail1,) = [step for step in stats["steps"] if step["step_id"] == "mail1"]
    assert mail1["clicks"] == 1  # the person's; the scanner's is not counted


async def test_a_scanners_click_reaches_no_goal_and_the_persons_does(app, client, sessions, clock):
    _, relay = await run_campaign(
        app, client, sessions, clock, {**TWO_MAILS, "goal": {"event": "click"}}
    )
    link = tracked(relay, "/t/c/")
    assert (await client.get(link)).status_code == 302  # as the mail arrives
    assert [e.state for e in await enrollments(sessions)] == ["active"]
    clock.advance(timedelta(minutes=2))
    assert (await client.get(link)).status_code == 302
    (reached,) = await enrollments(sessions)
    assert (reached.state, reached.exit_reason) == ("exited", "goal")


async def test_a_reload_is_not_a_second_click_and_the_pixel_records_one_open(
    app, client, sessions, clock
):
    _, relay = await run_campaign(app, client, sessions, clock, CLICK_THEN_CALL)
    clock.advance(timedelta(minutes=5))
    link = tracked(relay, "/t/c/")
    for _ in range(3):
        assert (await client.get(link)).status_code == 302
    assert len(await events_of(sessions, "click")) == 1
    clock.advance(timedelta(minutes=1))
    assert (await client.get(link)).status_code == 302
    assert len(await events_of(sessions, "click")) == 2

    pixel = tracked(relay, "/t/o/")
    for _ in range(2):
        response = await client.get(pixel)
        assert response.status_code == 200
        assert response.headers["content-type"] == "image/gif"
        assert "no-store" in response.headers["cache-control"]
        assert response.content.startswith(b"GIF89a")
    (opened,) = await events_of(sessions, "open")
    assert opened.data == {"suspected_bot": False}


@pytest.mark.parametrize("route", ["/t/c/", "/t/o/", "/u/"])
async def test_a_tampered_token_answers_404_and_redirects_nowhere(
    app, client, sessions, clock, route
):
    _, relay = await run_campaign(app, client, sessions, clock, CLICK_THEN_CALL)
    clock.advance(timedelta(minutes=5))
    path = tracked(relay, route)
    tampered = path[:-2] + ("AA" if not path.endswith("AA") else "BB")
    for bad in (tampered, path.replace(route, "/t/c/" if route != "/t/c/" else "/t/o/")):
        response = await client.get(bad)
        assert_problem(response, 404)
        assert "location" not in response.headers
    assert await events_of(sessions, "click") == []


async def test_a_link_of_an_erased_contact_answers_404(app, client, sessions, clock):
    contact, relay = await run_campaign(app, client, sessions, clock, CLICK_THEN_CALL)
    assert (await client.delete(f"/v1/contacts/{contact}")).status_code == 204
    assert_problem(await client.get(tracked(relay, "/t/c/")), 404)


async def test_one_click_unsubscribes_and_cancels_the_next_mail_while_a_get_does_not(
    app, client, sessions, clock
):
    contact, relay = await run_campaign(app, client, sessions, clock, TWO_MAILS)
    message = relay.sent[0]
    unsubscribe = tracked(relay, "/u/")
    assert message["List-Unsubscribe"] == f"<http://127.0.0.1:8000{unsubscribe}>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    clock.advance(timedelta(hours=1))
    await app.state.runtime.dispatcher().run_until_idle()
    mail2 = (await touches(sessions, step_id="mail2"))[0]
    assert mail2.status == "queued"

    page = await client.get(unsubscribe)
    assert page.status_code == 200
    assert "配信停止" in page.text
    assert "Unsubscribe" in page.text
    assert "<form" in page.text
    assert (await touches(sessions, step_id="mail2"))[0].status == "queued"  # GET changes nothing

    done = await client.post(
        unsubscribe,
        content=b"List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded", "Authorization": ""},
    )
    assert done.status_code == 200, done.text
    canceled = (await touches(sessions, step_id="mail2"))[0]
    assert (canceled.status, canceled.rule) == ("canceled", "consent")
    async with sessions() as session:
        log = (await session.exec(select(ConsentLog).order_by(col(ConsentLog.id)))).all()
    newest = log[-1]
    assert (newest.contact_id, newest.channel, newest.status) == (contact, "email", "opted_out")
    assert newest.source == "one-click"
    assert newest.evidence["touch_id"] == (await touches(sessions, step_id="mail1"))[0].id
    assert await app.state.runtime.outbox().run_once() == 0
    assert len(relay.sent) == 1
    (event,) = await events_of(sessions, "unsubscribe")
    assert (event.touch_id, event.data) == (newest.evidence["touch_id"], {"source": "one-click"})


async def test_the_pages_button_unsubscribes_too(app, client, sessions, clock):
    contact, relay = await run_campaign(app, client, sessions, clock, TWO_MAILS)
    response = await client.post(tracked(relay, "/u/"), data={"unsubscribe": "yes"})
    assert response.status_code == 200
    contact_now = (await client.get(f"/v1/contacts/{contact}")).json()
    assert contact_now["consent"]["email"] == "opted_out"


@pytest.mark.parametrize(
    ("template", "field"),
    [
        ({"subject": "ご案内\r\nBcc: all@example.jp", "text": "x"}, "subject"),
        ({"subject": "ご案内\n", "text": "x"}, "subject"),
        ({"subject": "Hi", "from": "a@x.jp\r\nBcc: b@x.jp", "text": "x"}, "from"),
        ({"subject": "Hi", "from": "a@x.jp, b@x.jp", "text": "x"}, "from"),
        ({"subject": "Hi", "html": '<a href="javascript:alert(1)">x</a>'}, "html"),
        ({"subject": "Hi", "html": "<a href='JaVa\tScRiPt:alert(1)'>x</a>"}, "html"),
        ({"subject": "Hi", "text": "x", "track_links": "sometimes"}, "track_links"),
    ],
)
async def test_header_line_breaks_and_links_that_are_not_web_addresses_are_refused(
    client, template, field
):
    definition = {"name": "Bad", "steps": [
        {"id": "m", "type": "send", "channel": "email", "template": template}]}  # fmt: skip
    body = assert_problem(await client.post("/v1/campaigns", json=definition), 422)
    assert ["body", "steps", 0, "template", field] in [e["loc"] for e in body["errors"]]


async def test_a_transactional_step_may_ask_for_its_links_tracked(client):
    definition = {"name": "Receipts", "category": "transactional", "steps": [
        {"id": "m", "type": "send", "channel": "email",
         "template": {"subject": "領収書", "text": "https://shop.example.jp/r",
                      "track_links": True}}]}  # fmt: skip
    created = await define(client, definition)
    assert created["definition"]["steps"][0]["template"]["track_links"] == "true"
