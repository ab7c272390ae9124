"""The email channel: messages sent over a pool of SMTP connections."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar, Literal

import aiosmtplib

from channels.base import (
    BaseChannel,
    ContactSnapshot,
    Delivery,
    DeliveryResult,
    PermanentError,
    TemplateFields,
    TransientError,
)
from channels.email.message import SenderIdentity, build_message, message_id_for

__all__ = ["EmailChannel", "SmtpConfig"]


@dataclass(frozen=True)
class SmtpConfig:
    """Where the relay is and how to talk to it."""

    host: str = "127.0.0.1"
    port: int = 1025
    username: str | None = None
    password: str | None = None
    tls: Literal["none", "starttls", "tls"] = "none"
    pool_size: int = 4
    timeout: float = 30.0


class EmailChannel(BaseChannel):
    """Sends each touch as one message; 4xx replies are transient, 5xx permanent."""

    name: ClassVar[str] = "email"
    #: Japan's 特定電子メール法 asks prior consent for marketing mail.
    default_consent: ClassVar[Literal["opt_in", "opt_out"]] = "opt_in"
    default_weight: ClassVar[float] = 1.0
    template_fields: ClassVar[TemplateFields] = TemplateFields(
        required=frozenset({"subject"}),
        optional=frozenset({"from"}),
        one_of=frozenset({"text", "html"}),
    )
    outcomes: ClassVar[frozenset[str]] = frozenset()

    def __init__(
        self, smtp: SmtpConfig | None = None, sender: SenderIdentity | None = None
    ) -> None:
        self._smtp = smtp or SmtpConfig()
        self._sender = sender or SenderIdentity(address="kizuna@localhost")
        self._idle: asyncio.LifoQueue[aiosmtplib.SMTP] = asyncio.LifoQueue()
        self._slots = asyncio.Semaphore(self._smtp.pool_size)

    @property
    def mode(self) -> Literal["send", "task"]:
        return "send"

    def address(self, contact: ContactSnapshot, content: Mapping[str, str]) -> str | None:
        return contact.email

    async def deliver(self, delivery: Delivery) -> DeliveryResult:
        """Send the message over a pooled connection; its Message-ID comes from the touch."""
        recipient = delivery.contact.email
        if not recipient:
            raise PermanentError("the contact has no email address")
        message_id = message_id_for(delivery.idempotency_key, self._sender.domain)
        message = build_message(
            sender=self._sender,
            recipient=recipient,
            content=delivery.content,
            message_id=message_id,
            marketing=delivery.category == "marketing",
        )
        async with self._slots:
            connection = await self._connection()
            try:
                await connection.send_message(message)
            except aiosmtplib.SMTPRecipientsRefused as exc:
                await _reset_or_close(connection, self._idle)
                (refusal, *_) = exc.recipients  # one recipient a message
                raise _refused_recipient(refusal.code, refusal.message) from exc
            except aiosmtplib.SMTPResponseException as exc:
                await _reset_or_close(connection, self._idle)
                raise _by_code(exc.code, exc.message) from exc
            except (aiosmtplib.SMTPException, OSError) as exc:
                connection.close()
                raise TransientError(f"SMTP connection failed: {type(exc).__name__}") from exc
            self._idle.put_nowait(connection)
        return DeliveryResult(message_id=message_id)

    async def _connection(self) -> aiosmtplib.SMTP:
        while not self._idle.empty():
            connection = self._idle.get_nowait()
            if connection.is_connected:
                return connection
        smtp = self._smtp
        connection = aiosmtplib.SMTP(
            hostname=smtp.host,
            port=smtp.port,
            username=smtp.username,
            password=smtp.password,
            use_tls=smtp.tls == "tls",
            start_tls=True if smtp.tls == "starttls" else False,
            timeout=smtp.timeout,
        )
        try:
            await connection.connect()
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise TransientError(f"cannot reach the SMTP relay: {type(exc).__name__}") from exc
        return connection

    async def close(self) -> None:
        while not self._idle.empty():
            connection = self._idle.get_nowait()
            if connection.is_connected:
                try:
                    await connection.quit()
                except (aiosmtplib.SMTPException, OSError):
                    connection.close()


def _by_code(code: int, text: str) -> TransientError | PermanentError:
    """4xx: try again later. 5xx: give up; a refused sender or message says nothing of the
    recipient's address."""
    if 400 <= code < 500:
        return TransientError(f"SMTP {code}: {text}")
    return PermanentError(f"SMTP {code}: {text}")


#: RFC 3463 status codes that say the mailbox itself is bad: 5.1.x (bad address or
#: domain) and 5.2.1 (mailbox disabled). 5.7.x (policy: relaying denied, blocked) does not.
_DEAD_MAILBOX = re.compile(r"5\.(?:1\.\d{1,3}|2\.1)\b")
_ENHANCED_CODE = re.compile(r"[245]\.\d{1,3}\.\d{1,3}\b")


def _refused_recipient(code: int, text: str) -> TransientError | PermanentError:
    """A refusal at RCPT TO: the address is dead only when the reply says the mailbox is;
    without an enhanced status code, 550, 551 and 553 say so by convention."""
    if 400 <= code < 500:
        return TransientError(f"SMTP {code}: {text}")
    text = text.strip()
    dead = (
        _DEAD_MAILBOX.match(text) is not None
        if _ENHANCED_CODE.match(text)
        else code in (550, 551, 553)
    )
    return PermanentError(f"SMTP {code}: {text}", address_rejected=dead)


async def _reset_or_close(
    connection: aiosmtplib.SMTP, idle: asyncio.LifoQueue[aiosmtplib.SMTP]
) -> None:
    """After a refused transaction the connection may be reused once it is reset."""
    try:
        await connection.rset()
    except (aiosmtplib.SMTPException, OSError):
        connection.close()
        return
    idle.put_nowait(connection)
