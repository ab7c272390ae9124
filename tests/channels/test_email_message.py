"""What a real SMTP server receives: tracked links, the pixel, RFC 8058 headers, the sender's
details, Japanese intact, DKIM signatures that verify; and messages that must not go out."""

from __future__ import annotations

import base64
import re

import dkim
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from channels.base import Delivery, PermanentError, TrackedLinks
from channels.email import EmailChannel, SmtpConfig
from channels.email.links import link_targets, rewrite_links
from channels.email.message import SenderIdentity
from channels.email.signing import DkimKey
from tests.channels.test_contract import CONTACT
from tests.smtp_sink import smtp_sink

SENDER = SenderIdentity("news@shop.example.jp", "絆ショップ", "東京都渋谷区神宮前1-2-3")
LINKS = TrackedLinks(
    click=lambda n: f"https://k.example/t/c/tok{n}",
    open="https://k.example/t/o/open-tok",
    unsubscribe="https://k.example/u/unsub-tok",
)
CONTENT = {
    "subject": "佐藤様、秋のご案内",
    "text": "新商品はこちら https://shop.example.jp/new?a=1&b=2 をご覧ください。\n"
    "詳細: https://shop.example.jp/detail.",
    "html": '<p>新商品は<a href="https://shop.example.jp/new?a=1&amp;b=2">こちら</a></p>'
    "<p><a href='https://shop.example.jp/detail'>詳細</a></p>",
}


async def received(content, category="marketing", *, links=LINKS, dkim_key=None, contact=CONTACT):
    """Deliver one message to a real SMTP server; the parsed message and its raw bytes."""
    with smtp_sink() as sink:
        channel = EmailChannel(SmtpConfig(port=sink.port), SENDER, dkim=dkim_key)
        try:
            await channel.deliver(
                Delivery(7, "7:1:0", "email", category, contact, content, links=links)
            )
        finally:
            await channel.close()
    (message,) = sink.messages
    (raw,) = sink.raw
    return message, raw


def bodies(message):
    """The plain and the HTML body."""
    return tuple(message.get_body((kind,)).get_content() for kind in ("plain", "html"))


async def test_marketing_mail_has_its_links_tracked_and_carries_pixel_footer_and_one_click():
    message, _ = await received(CONTENT)
    assert message["Subject"] == "佐藤様、秋のご案内"
    assert message["From"] == "絆ショップ <news@shop.example.jp>"
    assert message["To"] == CONTACT.email
    assert message["Message-ID"] == "<7.1.0@shop.example.jp>"
    assert message["List-Unsubscribe"] == "<https://k.example/u/unsub-tok>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    text, html = bodies(message)
    assert "新商品はこちら https://k.example/t/c/tok0 をご覧ください。" in text
    assert "詳細: https://k.example/t/c/tok1." in text
    assert 'href="https://k.example/t/c/tok2"' in html
    assert "href='https://k.example/t/c/tok3'" in html
    assert "shop.example.jp/new" not in text + html  # targets stay on the server
    for body in (text, html):
        assert "絆ショップ" in body
        assert "東京都渋谷区神宮前1-2-3" in body
        assert "https://k.example/u/unsub-tok" in body
    assert '<img src="https://k.example/t/o/open-tok" width="1" height="1"' in html
    assert "open-tok" not in text


async def test_transactional_mail_has_no_pixel_footer_or_tracking_unless_the_step_asks():
    message, _ = await received(CONTENT, "transactional")
    text, html = bodies(message)
    assert "https://shop.example.jp/new?a=1&b=2" in text
    assert "open-tok" not in html
    assert "k.example" not in text + html
    assert "東京都渋谷区神宮前1-2-3" not in text + html
    assert message["List-Unsubscribe"] is None

    tracked, _ = await received({**CONTENT, "track_links": "true"}, "transactional")
    text, html = bodies(tracked)
    assert "https://k.example/t/c/tok0" in text
    assert "https://k.example/t/c/tok3" in html
    assert "open-tok" not in html
    assert "東京都" not in text + html


def test_the_link_numbers_of_the_rewrite_read_back_the_targets():
    rewritten = rewrite_links(CONTENT, lambda n: f"https://k.example/{n}")
    both = rewritten["text"] + rewritten["html"]
    numbers = [int(n) for n in re.findall(r"https://k\.example/(\d+)", both)]
    assert numbers == [0, 1, 2, 3]
    assert link_targets(CONTENT) == [
        "https://shop.example.jp/new?a=1&b=2",
        "https://shop.example.jp/detail",
        "https://shop.example.jp/new?a=1&b=2",
        "https://shop.example.jp/detail",
    ]


async def test_a_signed_message_verifies_against_the_published_key():
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    record = b"v=DKIM1; k=rsa; p=" + base64.b64encode(public)
    asked = []

    def dns(name, timeout=5):
        asked.append(name)
        return record

    message, raw = await received(CONTENT, dkim_key=DkimKey("shop.example.jp", "k2026", pem))
    assert "d=shop.example.jp" in message["DKIM-Signature"]
    assert dkim.verify(raw, dnsfunc=dns)
    assert asked == [b"k2026._domainkey.shop.example.jp."]
    tampered = raw.replace(b"To: sato@example.jp", b"To: kato@example.jp")
    assert tampered != raw
    assert not dkim.verify(tampered, dnsfunc=dns)


@pytest.mark.parametrize(
    ("content", "email", "reason"),
    [
        ({"subject": "Hi\r\nBcc: all@example.jp", "text": "x"}, None, "subject"),
        ({"subject": "Hi\u2028there", "text": "x"}, None, "subject"),
        ({"subject": "Hi", "from": "a@x.jp, b@x.jp", "text": "x"}, None, "from"),
        ({"subject": "Hi", "text": "x"}, "sato@example.jp\r\nBcc: all@example.jp", "address"),
        ({"subject": "Hi", "text": "x"}, "sato@example.jp,all@example.jp", "address"),
        ({"subject": "Hi", "html": '<a href="javascript:alert(1)">x</a>'}, None, "HTML"),
    ],
)
async def test_a_message_that_must_not_go_out_fails_alone_and_nothing_is_sent(
    content, email, reason
):
    contact = CONTACT if email is None else type(CONTACT)(**{**CONTACT.__dict__, "email": email})
    with smtp_sink() as sink:
        channel = EmailChannel(SmtpConfig(port=sink.port), SENDER)
        with pytest.raises(PermanentError) as refused:
            await channel.deliver(
                Delivery(7, "7:1:0", "email", "marketing", contact, content, links=LINKS)
            )
        await channel.close()
    assert reason in str(refused.value)
    assert not refused.value.address_rejected
    assert sink.messages == []
