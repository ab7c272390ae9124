"""Who a message says it is from: one address, of an allowed domain; the envelope sender
is always the configured one."""

from __future__ import annotations

import pytest

from channels.base import Delivery, PermanentError, TemplateProblem
from channels.email import EmailChannel, MemorySmtp
from channels.email.message import SenderIdentity
from tests.channels.test_contract import CONTACT

SENDER = SenderIdentity("news@shop.example.jp", "絆ショップ")


class RecordingRelay(MemorySmtp):
    """An in-memory relay that also keeps each envelope sender."""

    def __init__(self) -> None:
        super().__init__()
        self.envelope_senders: list[str] = []

    async def send(self, sender: str, recipient: str, data: bytes) -> None:
        self.envelope_senders.append(sender)
        await super().send(sender, recipient, data)


def mail(sender: str) -> Delivery:
    content = {"subject": "ご案内", "text": "こんにちは", "from": sender}
    return Delivery(7, "7:1:0", "email", "transactional", CONTACT, content)


async def test_the_envelope_sender_is_the_configured_address_whatever_the_step_says():
    relay = RecordingRelay()
    channel = EmailChannel(sender=SENDER, transport=relay)
    await channel.deliver(mail("営業部 <sales@partner.example>"))
    assert relay.envelope_senders == ["news@shop.example.jp"]
    (message,) = relay.sent
    assert message["From"] == "営業部 <sales@partner.example>"


@pytest.mark.parametrize(
    "sender", ["a@ok.example, second@evil.example", "a@ok.example second@evil.example"]
)
def test_a_from_of_more_than_one_address_is_refused_at_the_step(sender):
    assert EmailChannel.check_template({"subject": "x", "text": "x", "from": sender}) == [
        TemplateProblem("`from` must be one email address", "from")
    ]


async def test_a_rendered_from_of_a_domain_not_allowed_fails_the_touch_and_sends_nothing():
    relay = RecordingRelay()
    channel = EmailChannel(sender=SENDER, transport=relay, allowed_from_domains={"Shop.Example.JP"})
    with pytest.raises(PermanentError) as refused:
        await channel.deliver(mail("Support <help@evil.example>"))
    assert "'evil.example'" in str(refused.value)
    assert not refused.value.address_rejected
    assert relay.sent == []
    await channel.deliver(mail("Support <help@SHOP.example.jp>"))
    assert [m["From"] for m in relay.sent] == ["Support <help@SHOP.example.jp>"]


def test_a_literal_from_of_a_domain_not_allowed_is_a_problem_of_the_configured_channel():
    limited = EmailChannel(allowed_from_domains={"shop.example.jp"})
    template = {"subject": "x", "text": "x", "from": "help@evil.example"}
    (problem,) = limited.check_configured(template)
    assert (problem.field, "shop.example.jp" in problem.message) == ("from", True)
    assert limited.check_configured({**template, "from": "help@shop.example.jp"}) == []
    # markup is judged once rendered; without the setting any domain goes
    assert limited.check_configured({**template, "from": "{{ contact.attributes.rep }}"}) == []
    assert EmailChannel().check_configured(template) == []
