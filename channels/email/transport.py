"""How the email adapter hands a message to a relay: a pool of SMTP connections, or an
in-memory twin that keeps the messages and answers as it is told."""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from dataclasses import dataclass
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from typing import Literal

import aiosmtplib

__all__ = [
    "MemorySmtp",
    "SmtpAnswerLost",
    "SmtpConfig",
    "SmtpPool",
    "SmtpRefusal",
    "SmtpTransport",
    "SmtpUnreachable",
]


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


class SmtpRefusal(Exception):
    """The relay answered with an error reply; `at_recipient` when it refused RCPT TO."""

    def __init__(self, code: int, text: str, *, at_recipient: bool = False) -> None:
        super().__init__(f"SMTP {code}: {text}")
        self.code = code
        self.text = text
        self.at_recipient = at_recipient


class SmtpUnreachable(Exception):
    """No conversation with the relay: refused or dropped connection, timeout, before the
    message was handed over."""


class SmtpAnswerLost(Exception):
    """The message was handed over (DATA) but the relay's answer never came: a timeout or a
    dropped connection. The relay may have taken it."""


class SmtpTransport(ABC):
    """Hands one message, as the bytes to send, from `sender` to `recipient` to a relay;
    raises SmtpRefusal or SmtpUnreachable."""

    @abstractmethod
    async def send(self, sender: str, recipient: str, data: bytes) -> None: ...

    async def close(self) -> None:
        """Release the connections held."""
        return None


class SmtpPool(SmtpTransport):
    """At most `pool_size` connections to the relay at once, kept open between messages."""

    def __init__(self, config: SmtpConfig) -> None:
        self._config = config
        self._idle: asyncio.LifoQueue[aiosmtplib.SMTP] = asyncio.LifoQueue()
        self._slots = asyncio.Semaphore(config.pool_size)

    async def send(self, sender: str, recipient: str, data: bytes) -> None:
        """MAIL, RCPT and DATA. A refusal or a lost connection before the message is handed
        over is safe to try again; once it is (DATA), only the relay's answer says whether
        it was taken, and without one the message may have been delivered."""
        async with self._slots:
            connection = await self._connection()
            try:
                await connection.mail(sender)
                await connection.rcpt(recipient)
            except aiosmtplib.SMTPRecipientRefused as exc:
                await self._reset_or_close(connection)
                raise SmtpRefusal(exc.code, exc.message, at_recipient=True) from exc
            except aiosmtplib.SMTPResponseException as exc:
                await self._reset_or_close(connection)
                raise SmtpRefusal(exc.code, exc.message) from exc
            except (aiosmtplib.SMTPException, OSError) as exc:
                connection.close()
                raise SmtpUnreachable(f"SMTP connection failed: {type(exc).__name__}") from exc
            try:
                await connection.data(data)
            except aiosmtplib.SMTPResponseException as exc:
                await self._reset_or_close(connection)
                raise SmtpRefusal(exc.code, exc.message) from exc
            except (aiosmtplib.SMTPException, OSError) as exc:
                connection.close()
                raise SmtpAnswerLost(
                    f"no answer to the message ({type(exc).__name__}): the relay may have it"
                ) from exc
            self._idle.put_nowait(connection)

    async def close(self) -> None:
        while not self._idle.empty():
            connection = self._idle.get_nowait()
            if connection.is_connected:
                try:
                    await connection.quit()
                except (aiosmtplib.SMTPException, OSError):
                    connection.close()

    async def _connection(self) -> aiosmtplib.SMTP:
        while not self._idle.empty():
            connection = self._idle.get_nowait()
            if connection.is_connected:
                return connection
        config = self._config
        connection = aiosmtplib.SMTP(
            hostname=config.host,
            port=config.port,
            username=config.username,
            password=config.password,
            use_tls=config.tls == "tls",
            start_tls=True if config.tls == "starttls" else False,
            timeout=config.timeout,
        )
        try:
            await connection.connect()
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise SmtpUnreachable(f"cannot reach the SMTP relay: {type(exc).__name__}") from exc
        return connection

    async def _reset_or_close(self, connection: aiosmtplib.SMTP) -> None:
        """After a refused transaction the connection may be reused once it is reset."""
        try:
            await connection.rset()
        except (aiosmtplib.SMTPException, OSError):
            connection.close()
            return
        self._idle.put_nowait(connection)


class MemorySmtp(SmtpTransport):
    """A relay in memory: keeps what it accepts in `sent`, or answers every message with
    `reply` (`(451, "4.3.0 try again later")`), at RCPT TO when `at_recipient`, or is
    unreachable. Its settings may change between sends."""

    def __init__(
        self,
        reply: tuple[int, str] | None = None,
        *,
        at_recipient: bool = False,
        unreachable: bool = False,
    ) -> None:
        self.reply = reply
        self.at_recipient = at_recipient
        self.unreachable = unreachable
        self.sent: list[EmailMessage] = []

    async def send(self, sender: str, recipient: str, data: bytes) -> None:
        if self.unreachable:
            raise SmtpUnreachable("cannot reach the SMTP relay: in-memory relay is down")
        if self.reply is not None:
            code, text = self.reply
            raise SmtpRefusal(code, text, at_recipient=self.at_recipient)
        self.sent.append(message_from_bytes(data, policy=default))
