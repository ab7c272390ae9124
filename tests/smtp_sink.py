"""A real SMTP server (aiosmtpd) that keeps what it receives and fails on request."""

from __future__ import annotations

import asyncio
import email
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.policy import default
from typing import Any

from aiosmtpd.controller import Controller


@dataclass
class SmtpSink:
    """The messages received, and replies to give instead of accepting."""

    port: int = 0
    messages: list[EmailMessage] = field(default_factory=list)
    #: each message as its bytes arrived (a DKIM signature is checked over them)
    raw: list[bytes] = field(default_factory=list)
    #: recipient -> SMTP reply for RCPT TO ("550 5.1.1 no such user", "451 4.3.0 try later")
    refuse: dict[str, str] = field(default_factory=dict)
    #: a reply for MAIL FROM instead of accepting the sender
    refuse_sender: str | None = None
    #: seconds the server keeps a message it took before it answers (a slow relay)
    answer_delay: float = 0.0

    async def handle_MAIL(self, server, session, envelope, address, mail_options) -> str:
        if self.refuse_sender:
            return self.refuse_sender
        envelope.mail_from = address
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options) -> str:
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope) -> str:
        message = email.message_from_bytes(envelope.content, policy=default)
        self.messages.append(message)
        self.raw.append(envelope.original_content or envelope.content)
        await asyncio.sleep(self.answer_delay)
        return "250 Message accepted"

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages if m["To"] == address]


def free_port() -> int:
    """A port of 127.0.0.1 nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def smtp_sink(**options: Any) -> Iterator[SmtpSink]:
    """An SMTP server on a free port of 127.0.0.1 for the duration."""
    sink = SmtpSink(port=free_port(), **options)
    controller = Controller(sink, hostname="127.0.0.1", port=sink.port)
    controller.start()
    try:
        yield sink
    finally:
        controller.stop()
