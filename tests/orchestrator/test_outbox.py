"""Email touches go out over real SMTP (aiosmtpd): once, intact, retried or failed as told."""

from __future__ import annotations

from datetime import timedelta

import pytest

from channels.email import EmailChannel, SmtpConfig
from channels.email.message import SenderIdentity
from orchestrator.catalog import CampaignCatalog
from orchestrator.housekeeping import reap_leases
from orchestrator.models import Contact
from orchestrator.outbox import Outbox
from orchestrator.store.leases import LeaseStore
from tests.engine import CHANNELS, add_contacts, enroll, launch, touches
from tests.smtp_sink import smtp_sink

WELCOME = {
    "name": "ようこそ",
    "steps": [
        {"id": "welcome", "type": "send", "channel": "email",
         "template": {"subject": "{{ contact.attributes.name }}様、ようこそ",
                      "text": "ご登録ありがとうございます。",
                      "html": "<p>ご登録ありがとうございます</p>"}},
        {"id": "wait", "type": "wait_for_event", "timeout": "P1D",
         "cases": [{"when": {"event": "bounce", "step": "welcome"}, "next": "call"}]},
        {"id": "call", "type": "send", "channel": "phone", "template": {"script": "..."}},
    ],
}  # fmt: skip

SENDER = SenderIdentity("news@shop.example.jp", "絆ショップ", "東京都渋谷区神宮前1-2-3")


@pytest.fixture
def sink():
    with smtp_sink() as running:
        yield running


@pytest.fixture
def channels(sink):
    email = EmailChannel(SmtpConfig(port=sink.port, pool_size=2), SENDER)
    return {**CHANNELS, "email": email}


def outbox(sessions, clock, channels) -> Outbox:
    return Outbox(sessions, clock, channels, CampaignCatalog(), quick_retries=0)


async def dispatch_welcome(sessions, clock, channels, count: int = 2) -> list[int]:
    from orchestrator.dispatcher import Dispatcher

    contacts = await add_contacts(sessions, clock, count, attributes={"name": "佐藤"})
    campaign_id = await launch(sessions, clock, WELCOME)
    await enroll(sessions, clock, campaign_id, contacts)
    await Dispatcher(sessions, clock, channels, CampaignCatalog()).run_until_idle()
    return contacts


async def test_queued_mail_is_sent_once_intact_with_the_senders_details(
    sessions, clock, channels, sink
):
    await dispatch_welcome(sessions, clock, channels)
    assert await outbox(sessions, clock, channels).run_once() == 2
    assert await outbox(sessions, clock, channels).run_once() == 0
    assert len(sink.messages) == 2
    message = sink.to("person0@example.jp")[0]
    assert message["Subject"] == "佐藤様、ようこそ"
    assert "絆ショップ" in message["From"]
    text = message.get_body(("plain",)).get_content()
    assert "ご登録ありがとうございます。" in text
    assert "東京都渋谷区神宮前1-2-3" in text
    sent = await touches(sessions, channel="email")
    assert {t.status for t in sent} == {"sent"}
    assert message["Message-ID"] in {t.message_id for t in sent}
    assert (sent[0].message_id or "").startswith(f"<{sent[0].idempotency_key.replace(':', '.')}@")


async def test_a_4xx_reply_retries_later_and_a_recovered_relay_sends(
    sessions, clock, channels, sink
):
    sink.refuse["person0@example.jp"] = "451 4.3.0 try again later"
    await dispatch_welcome(sessions, clock, channels, count=1)
    await outbox(sessions, clock, channels).run_once()
    (touch,) = await touches(sessions, channel="email")
    assert (touch.status, touch.attempts) == ("queued", 1)
    assert touch.retry_at == clock.now() + timedelta(minutes=1)
    assert await outbox(sessions, clock, channels).run_once() == 0  # not before retry_at

    del sink.refuse["person0@example.jp"]
    clock.advance(timedelta(minutes=1))
    assert await outbox(sessions, clock, channels).run_once() == 1
    (touch,) = await touches(sessions, channel="email")
    assert (touch.status, touch.attempts) == ("sent", 2)
    assert len(sink.messages) == 1


async def test_a_hard_bounce_fails_the_touch_suppresses_the_address_and_tells_the_enrollment(
    sessions, clock, channels, sink
):
    from orchestrator.dispatcher import Dispatcher

    sink.refuse["person0@example.jp"] = "550 5.1.1 no such user"
    (contact,) = await dispatch_welcome(sessions, clock, channels, count=1)
    await outbox(sessions, clock, channels).run_once()
    (touch,) = await touches(sessions, channel="email")
    assert touch.status == "failed"
    assert "550" in (touch.error or "")

    await Dispatcher(sessions, clock, channels, CampaignCatalog()).run_until_idle()
    assert [t.contact_id for t in await touches(sessions, channel="phone")] == [contact]

    campaign_id = await launch(sessions, clock, {**WELCOME, "name": "Second"})
    await enroll(sessions, clock, campaign_id, [contact])
    await Dispatcher(sessions, clock, channels, CampaignCatalog()).run_until_idle()
    blocked = [t for t in await touches(sessions, channel="email") if t.status == "blocked"]
    assert [(t.rule, t.contact_id) for t in blocked] == [("suppression", contact)]


async def test_a_claim_no_sender_started_goes_back_to_the_queue_and_is_sent(
    sessions, clock, channels, sink
):
    await dispatch_welcome(sessions, clock, channels, count=1)
    async with sessions.begin() as session:  # a sender claims, then dies before sending
        claimed = await LeaseStore(session).claim_outbox(
            ["email"], 10, clock.now() + timedelta(minutes=5), clock.now()
        )
    assert [t.status for t in claimed] == ["claimed"]
    clock.advance(timedelta(minutes=6))
    assert await reap_leases(sessions, clock) == (1, 0)
    assert await outbox(sessions, clock, channels).run_once() == 1
    (touch,) = await touches(sessions, channel="email")
    assert touch.status == "sent"
    assert len(sink.messages) == 1


async def test_a_send_cut_off_by_a_crash_is_in_doubt_and_not_sent_again(
    sessions, clock, channels, sink
):
    await dispatch_welcome(sessions, clock, channels, count=1)
    async with sessions.begin() as session:  # a sender starts the send, then dies
        store = LeaseStore(session)
        (claimed,) = await store.claim_outbox(
            ["email"], 10, clock.now() + timedelta(minutes=5), clock.now()
        )
        started = await store.settle_and_start(
            [], [claimed], clock.now() + timedelta(minutes=30), clock.now()
        )
    assert started == {claimed.id}
    clock.advance(timedelta(minutes=31))
    assert await reap_leases(sessions, clock) == (0, 1)
    assert await outbox(sessions, clock, channels).run_once() == 0
    (touch,) = await touches(sessions, channel="email")
    assert touch.status == "in_doubt"
    assert sink.messages == []


async def test_a_claim_that_expired_and_went_to_another_sender_is_not_started(
    sessions, clock, channels, sink
):
    await dispatch_welcome(sessions, clock, channels, count=1)
    async with sessions.begin() as session:
        (stale,) = await LeaseStore(session).claim_outbox(
            ["email"], 10, clock.now() + timedelta(minutes=5), clock.now()
        )
    clock.advance(timedelta(minutes=6))
    await reap_leases(sessions, clock)
    assert await outbox(sessions, clock, channels).run_once() == 1
    async with sessions.begin() as session:
        started = await LeaseStore(session).settle_and_start(
            [], [stale], clock.now() + timedelta(minutes=30), clock.now()
        )
    assert started == set()
    assert len(sink.messages) == 1


async def test_erasure_stops_mail_that_was_queued(sessions, clock, channels, sink):
    from orchestrator.services.contacts import ContactService

    (contact,) = await dispatch_welcome(sessions, clock, channels, count=1)
    async with sessions.begin() as session:
        await ContactService(session, clock, default_timezone="UTC").erase(contact)
    await outbox(sessions, clock, channels).run_once()
    (touch,) = await touches(sessions, channel="email")
    assert (touch.status, touch.reason) == ("canceled", "contact erased")
    assert sink.messages == []


async def test_an_opt_out_after_the_touch_was_queued_withdraws_it(sessions, clock, channels, sink):
    from orchestrator.services.contacts import ConsentChange, ContactService

    (contact,) = await dispatch_welcome(sessions, clock, channels, count=1)
    async with sessions.begin() as session:
        change = ConsentChange(status="opted_out", source="unsubscribe page")
        await ContactService(session, clock, default_timezone="UTC").record_consent(
            contact, "email", change
        )
    assert await outbox(sessions, clock, channels).run_once() == 1
    (touch,) = await touches(sessions, channel="email")
    assert (touch.status, touch.rule) == ("canceled", "consent")
    assert touch.reason.startswith("Withdrawn before it went out")
    assert sink.messages == []


async def test_a_bounce_reported_as_an_event_about_the_mail_moves_the_enrollment_on(
    sessions, clock, channels
):
    from orchestrator.dispatcher import Dispatcher
    from orchestrator.services.events import EventService

    (contact,) = await dispatch_welcome(sessions, clock, channels, count=1)
    (mail,) = await touches(sessions, channel="email")
    async with sessions.begin() as session:
        await EventService(session, clock, CampaignCatalog()).record(
            contact_id=contact, type="bounce", data={"bounce_type": "soft"},
            dedupe_key="provider:b1", source="provider", touch_id=mail.id,
        )  # fmt: skip
    await Dispatcher(sessions, clock, channels, CampaignCatalog()).run_until_idle()
    assert [t.contact_id for t in await touches(sessions, channel="phone")] == [contact]


async def test_a_message_whose_answer_is_lost_is_in_doubt_and_never_sent_twice(
    sessions, clock, sink
):
    sink.answer_delay = 1.5  # the relay takes the message, then answers too late
    email = EmailChannel(SmtpConfig(port=sink.port, pool_size=1, timeout=0.5), SENDER)
    channels = {**CHANNELS, "email": email}
    try:
        await dispatch_welcome(sessions, clock, channels, count=1)
        assert await outbox(sessions, clock, channels).run_once() == 1
        clock.advance(timedelta(hours=2))
        await reap_leases(sessions, clock)
        assert await outbox(sessions, clock, channels).run_once() == 0
    finally:
        await email.close()
    (touch,) = await touches(sessions, channel="email")
    assert touch.status == "in_doubt"
    assert "the relay may have it" in (touch.error or "")
    assert len(sink.messages) == 1


async def test_mail_queued_before_the_contact_switched_email_off_is_withdrawn_not_sent(
    sessions, clock, channels, sink
):
    (contact_id,) = await dispatch_welcome(sessions, clock, channels, count=1)
    async with sessions.begin() as session:  # set as the preference center stores it
        contact = await session.get(Contact, contact_id)
        assert contact is not None
        contact.preferences = {"channels": {"email": {"allowed": False}}}
        session.add(contact)
    assert await outbox(sessions, clock, channels).run_once() == 1
    (touch,) = await touches(sessions, channel="email")
    assert touch.status == "canceled"
    assert sink.messages == []
