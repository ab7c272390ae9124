"""The SMTP server of the chaos run: the tests' recording sink (aiosmtpd), which also follows
a script of faults per recipient, one fault per attempt, then accepts."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

from aiosmtpd.controller import Controller

from tests.smtp_sink import SmtpSink, free_port

__all__ = ["Fault", "ScriptedSink", "scripted_sink"]


@dataclass(frozen=True)
class Fault:
    """What one attempt to deliver to a recipient meets: `reply` at RCPT TO or after DATA,
    `delay` seconds late, or (no `reply` after DATA) the connection dropped before any
    answer. A late 250 after DATA keeps the message first: a relay that queued it, then
    was slow to say so."""

    at: Literal["rcpt", "data"]
    reply: str | None = None
    delay: float = 0.0


@dataclass
class ScriptedSink(SmtpSink):
    """Keeps every accepted message; `script` maps a recipient to the faults its first
    attempts meet, in order."""

    script: dict[str, list[Fault]] = field(default_factory=dict)
    #: attempts seen per recipient (an attempt is counted at RCPT TO)
    attempts: Counter[str] = field(default_factory=Counter)

    def message_ids(self) -> Counter[str]:
        """How many times each Message-ID arrived."""
        return Counter(str(message["Message-ID"]) for message in list(self.messages))

    def _fault(self, recipient: str, at: str) -> Fault | None:
        faults = self.script.get(recipient, [])
        number = self.attempts[recipient] - 1
        if 0 <= number < len(faults) and faults[number].at == at:
            return faults[number]
        return None

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          rcpt_options: Any) -> str:  # fmt: skip
        self.attempts[address] += 1
        fault = self._fault(address, "rcpt")
        if fault is not None:
            await asyncio.sleep(fault.delay)
            if fault.reply is not None:
                return fault.reply
        return await super().handle_RCPT(server, session, envelope, address, rcpt_options)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        fault = self._fault(envelope.rcpt_tos[0], "data")
        if fault is None:
            return await super().handle_DATA(server, session, envelope)
        if fault.reply is not None and fault.reply.startswith("250"):
            reply = await super().handle_DATA(server, session, envelope)
            await asyncio.sleep(fault.delay)
            return reply
        await asyncio.sleep(fault.delay)
        if fault.reply is None:
            # The message arrived but was never acknowledged: not accepted.
            server.transport.close()
            return "421 4.4.2 connection dropped"
        return fault.reply


@contextmanager
def scripted_sink(script: dict[str, list[Fault]] | None = None) -> Iterator[ScriptedSink]:
    """The sink on a free port of 127.0.0.1 for the duration, in a thread of this process."""
    sink = ScriptedSink(port=free_port(), script=script or {})
    controller = Controller(sink, hostname="127.0.0.1", port=sink.port)
    controller.start()
    try:
        yield sink
    finally:
        controller.stop()
