"""The channel adapters as the settings configure them: sender details, DKIM."""

from __future__ import annotations

import logging

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from pydantic import ValidationError

from app.channels import build_channels
from app.settings import Settings
from channels.base import Delivery
from tests.channels.test_contract import CONTACT
from tests.smtp_sink import smtp_sink

SENDER = {
    "mail_from": "news@shop.example.jp",
    "sender_name": "絆ショップ",
    "sender_postal_address": "東京都渋谷区神宮前1-2-3",
}


def settings(**values) -> Settings:
    return Settings(_env_file=None, **values)


def test_start_up_warns_in_one_line_of_missing_sender_details(caplog):
    with caplog.at_level(logging.WARNING, logger="kizuna.channels"):
        build_channels(settings(mail_from="news@shop.example.jp"))
    (line,) = [r.getMessage() for r in caplog.records if r.name == "kizuna.channels"]
    assert "KIZUNA_SENDER_NAME, KIZUNA_SENDER_POSTAL_ADDRESS" in line
    assert "KIZUNA_MAIL_FROM" not in line
    assert "\n" not in line

    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="kizuna.channels"):
        build_channels(settings(**SENDER))
    assert [r for r in caplog.records if r.name == "kizuna.channels"] == []


@pytest.mark.parametrize(
    "values",
    [
        {"dkim_domain": "shop.example.jp"},
        {"dkim_domain": "shop.example.jp", "dkim_selector": "k1"},
        {"sender_name": "絆\r\nBcc: all@example.jp"},
        {"mail_from": "news@shop.example.jp\n"},
    ],
)
def test_settings_refuse_half_a_dkim_key_and_header_values_with_line_breaks(values):
    with pytest.raises(ValidationError):
        settings(**values)


async def test_the_dkim_settings_sign_every_message(tmp_path):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = tmp_path / "dkim.pem"
    pem.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    with smtp_sink() as sink:
        configured = settings(**SENDER, smtp_port=sink.port, dkim_domain="shop.example.jp",
                              dkim_selector="k1", dkim_private_key=str(pem))  # fmt: skip
        email = build_channels(configured)["email"]
        content = {"subject": "件名", "text": "本文"}
        await email.deliver(Delivery(7, "7:1:0", "email", "marketing", CONTACT, content))
        await email.close()
    (message,) = sink.messages
    signature = message["DKIM-Signature"]
    assert "s=k1" in signature
    assert "d=shop.example.jp" in signature


def test_a_dkim_key_that_cannot_sign_is_refused_at_start(tmp_path):
    pem = tmp_path / "dkim.pem"
    pem.write_text("-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n")
    configured = settings(dkim_domain="shop.example.jp", dkim_selector="k1", dkim_private_key=pem)
    with pytest.raises(ValueError, match="cannot sign"):
        build_channels(configured)
