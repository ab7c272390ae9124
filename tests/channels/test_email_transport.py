"""The email adapter against its in-memory relay: the same judgement of replies as over
real SMTP (test_email_adapter), without a server."""

from __future__ import annotations

import pytest

from channels.base import Delivery, PermanentError, TransientError
from channels.email import EmailChannel, MemorySmtp
from tests.channels.test_contract import CONTACT


def delivery() -> Delivery:
    return Delivery(7, "7:1:0", "email", "marketing", CONTACT, {"subject": "件名", "text": "本文"})


async def test_an_accepted_message_is_kept_with_the_message_id_of_the_touch():
    relay = MemorySmtp()
    result = await EmailChannel(transport=relay).deliver(delivery())
    (message,) = relay.sent
    assert message["To"] == CONTACT.email
    assert message["Message-ID"] == result.message_id == "<7.1.0@localhost>"


@pytest.mark.parametrize(
    ("reply", "at_recipient", "error", "dead"),
    [
        ((451, "4.3.0 try again later"), True, TransientError, None),
        ((421, "4.7.0 too many connections"), False, TransientError, None),
        ((550, "5.1.1 no such user"), True, PermanentError, True),
        ((550, "5.7.1 sender rejected"), False, PermanentError, False),
        ((554, "5.7.1 relay access denied"), True, PermanentError, False),
    ],
)
async def test_a_reply_is_judged_by_its_code_and_where_it_came(reply, at_recipient, error, dead):
    relay = MemorySmtp(reply, at_recipient=at_recipient)
    with pytest.raises(error) as raised:
        await EmailChannel(transport=relay).deliver(delivery())
    assert reply[1] in str(raised.value)
    if dead is not None:
        assert raised.value.address_rejected is dead
    assert relay.sent == []


async def test_an_unreachable_relay_is_transient_and_a_recovered_one_sends():
    relay = MemorySmtp(unreachable=True)
    channel = EmailChannel(transport=relay)
    with pytest.raises(TransientError):
        await channel.deliver(delivery())
    relay.unreachable = False
    await channel.deliver(delivery())
    assert len(relay.sent) == 1
