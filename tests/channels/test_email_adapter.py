"""The email adapter against a real SMTP server: which failures mean a dead address."""

from __future__ import annotations

import pytest

from channels.base import Delivery, PermanentError, TrackedLinks, TransientError
from channels.email import EmailChannel, SmtpConfig
from channels.email.message import SenderIdentity
from tests.channels.test_contract import CONTACT
from tests.smtp_sink import smtp_sink

SENDER = SenderIdentity("news@shop.example.jp", "絆ショップ", "東京都渋谷区神宮前1-2-3")


LINKS = TrackedLinks(
    click=lambda n: f"https://k.example/t/c/{n}",
    open="https://k.example/t/o/t",
    unsubscribe="https://k.example/u/t",
)


def delivery() -> Delivery:
    content = {"subject": "ご案内", "text": "本文"}
    return Delivery(7, "7:1:0", "email", "marketing", CONTACT, content, links=LINKS)


async def send(sink) -> None:
    channel = EmailChannel(SmtpConfig(port=sink.port), SENDER)
    try:
        await channel.deliver(delivery())
    finally:
        await channel.close()


async def test_a_refused_recipient_is_a_dead_address():
    with smtp_sink(refuse={CONTACT.email: "550 5.1.1 no such user"}) as sink:
        with pytest.raises(PermanentError) as refused:
            await send(sink)
    assert refused.value.address_rejected


async def test_a_refused_sender_says_nothing_of_the_recipient():
    with smtp_sink(refuse_sender="550 5.7.1 sender rejected") as sink:
        with pytest.raises(PermanentError) as refused:
            await send(sink)
    assert not refused.value.address_rejected


async def test_a_busy_relay_is_transient():
    with smtp_sink(refuse={CONTACT.email: "451 4.3.0 try again later"}) as sink:
        with pytest.raises(TransientError):
            await send(sink)


async def test_marketing_mail_carries_one_click_unsubscribe_and_the_senders_details():
    with smtp_sink() as sink:
        await send(sink)
    (message,) = sink.messages
    assert message["List-Unsubscribe"] == "<https://k.example/u/t>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message["Message-ID"] == "<7.1.0@shop.example.jp>"
    assert "東京都渋谷区神宮前1-2-3" in message.get_body(("plain",)).get_content()


@pytest.mark.parametrize(
    ("reply", "dead"),
    [
        ("550 5.1.1 no such user", True),
        ("550 5.2.1 mailbox disabled", True),
        ("553 mailbox name not allowed", True),
        ("554 5.7.1 relay access denied", False),
        ("550 5.7.1 message blocked by policy", False),
        ("554 transaction failed", False),
    ],
)
async def test_only_a_refusal_that_names_the_mailbox_kills_the_address(reply, dead):
    with smtp_sink(refuse={CONTACT.email: reply}) as sink:
        with pytest.raises(PermanentError) as refused:
            await send(sink)
    assert refused.value.address_rejected is dead
    assert reply.split(" ", 1)[1] in str(refused.value)
