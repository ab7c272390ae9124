"""Email on PostgreSQL: 20,000 marketing mails through the whole engine to a local SMTP sink.

Contacts with email consent are enrolled in a campaign whose one step sends a mail with a
link. The dispatcher claims, admits and renders each touch; the outbox tracks its links,
builds the message and sends it over 4 SMTP connections, then records the outcome. The
limits, against the same sink in the same run: a bare aiosmtplib client on 4 connections
that builds an `EmailMessage` per message, and the same client sending one pre-encoded
message again and again. The sink is aiosmtpd in a process of its own: it accepts every
message, counts it and throws it away.

    python -m bench.email [--messages 20000]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import secrets
import socket
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, formataddr
from pathlib import Path

import aiosmtpd
import aiosmtplib
import asyncpg

from app.database import create_engine, create_sessionmaker
from bench.harness import activate, asyncpg_dsn, copy_contacts, scratch_postgres
from channels.base import Channel
from channels.dm import DmChannel
from channels.email import EmailChannel, SmtpConfig
from channels.email.message import SenderIdentity
from channels.phone import PhoneChannel
from channels.sns import SnsChannel
from orchestrator.catalog import CampaignCatalog
from orchestrator.clock import FakeClock
from orchestrator.dispatcher import Dispatcher
from orchestrator.outbox import Outbox
from orchestrator.services.enrollments import EnrollmentRequest, EnrollmentService
from orchestrator.tracking import LinkMaker, TokenSigner

CONNECTIONS = 4
SENDER = SenderIdentity("news@shop.example.jp", "絆ショップ", "東京都渋谷区神宮前1-2-3")
SUBJECT = "今週のおすすめ"
BODY = "新商品のご案内です。詳しくはこちら: https://shop.example.jp/sale?from=news"
CAMPAIGN = {
    "name": "Newsletter",
    "steps": [
        {"id": "news", "type": "send", "channel": "email",
         "template": {"subject": "{{ contact.attributes.name }}様、" + SUBJECT,
                      "text": "{{ contact.attributes.name }}様\n\n" + BODY}},
    ],
}  # fmt: skip
START = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)  # 10:00 in Tokyo
#: Where `bench` is imported from, for the sink's process.
ROOT = Path(__file__).resolve().parents[1]

#: The sink, run by `python -c` in its own process: it prints "ready", then answers each
#: line on stdin with the number of messages received so far, and stops at end of input.
SINK = """
import sys
from aiosmtpd.controller import Controller

class Sink:
    received = 0

    async def handle_DATA(self, server, session, envelope):
        Sink.received += 1
        return "250 OK"

controller = Controller(Sink(), hostname="127.0.0.1", port=int(sys.argv[1]))
controller.start()
print("ready", flush=True)
for _ in sys.stdin:
    print(Sink.received, flush=True)
controller.stop()
"""


class SmtpSink:
    """The aiosmtpd sink process: its port and how many messages it has received."""

    def __init__(self, process: asyncio.subprocess.Process, port: int) -> None:
        self.process = process
        self.port = port

    async def received(self) -> int:
        """Messages received so far."""
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        self.process.stdin.write(b"count\n")
        await self.process.stdin.drain()
        return int(await asyncio.wait_for(self.process.stdout.readline(), timeout=30))


async def start_sink() -> SmtpSink:
    """The sink on a free port of 127.0.0.1, ready to accept."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", SINK, str(port),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        cwd=ROOT,
    )  # fmt: skip
    assert process.stdout is not None
    try:
        line = await asyncio.wait_for(process.stdout.readline(), timeout=30)
    except BaseException:
        await stop_sink(SmtpSink(process, port))
        raise
    if line.strip() != b"ready":
        await stop_sink(SmtpSink(process, port))
        raise RuntimeError("the SMTP sink did not start")
    return SmtpSink(process, port)


async def stop_sink(sink: SmtpSink) -> None:
    """End the sink's input, so it stops; kill it if it does not within 30 s."""
    if sink.process.stdin is not None:
        sink.process.stdin.close()
    try:
        await asyncio.wait_for(sink.process.wait(), timeout=30)
    except TimeoutError:
        sink.process.kill()
        await sink.process.wait()


async def load(url: str, count: int, clock: FakeClock) -> None:
    """Contacts opted in to email (COPY), the campaign, and the enrollments; not measured."""
    await copy_contacts(
        url,
        ("external_id", "email", "timezone", "attributes", "social", "consent",
         "created_at", "updated_at"),
        [
            (f"m-{n}", f"person{n}@example.jp", "Asia/Tokyo", f'{{"name": "顧客{n}"}}', "{}",
             '{"email": "opted_in"}', START, START)
            for n in range(count)
        ],
        ("INSERT INTO consent_log (contact_id, channel, status, source, evidence, recorded_at)"
         " SELECT id, 'email', 'opted_in', 'bench', '{}', $1 FROM contact", START),
    )  # fmt: skip
    engine = create_engine(url)
    sessions = create_sessionmaker(engine)
    try:
        async with sessions.begin() as session:
            campaign_id = await activate(session, clock, CAMPAIGN)
        async with sessions.begin() as session:
            audience = EnrollmentRequest.model_validate(
                {"filter": {"attribute": "name", "op": "exists"}}
            )
            result = await EnrollmentService(session, clock, CampaignCatalog()).enroll(
                campaign_id, audience
            )
        assert result.enrolled == count, result
    finally:
        await engine.dispose()


async def engine_run(url: str, count: int, clock: FakeClock, port: int) -> tuple[float, float]:
    """Seconds for the dispatcher until idle, then for the outbox until every touch is sent."""
    email = EmailChannel(SmtpConfig(port=port, pool_size=CONNECTIONS), SENDER)
    channels: dict[str, Channel] = {
        "email": email,
        "phone": PhoneChannel(),
        "dm": DmChannel(),
        "sns": SnsChannel(),
    }
    links = LinkMaker("https://kizuna.shop.example.jp", TokenSigner(secrets.token_hex(32)))
    engine = create_engine(url)
    sessions = create_sessionmaker(engine)
    try:
        dispatcher = Dispatcher(sessions, clock, channels, CampaignCatalog())
        started = time.perf_counter()
        dispatched = await dispatcher.run_until_idle()
        dispatch_s = time.perf_counter() - started
        assert dispatched == count, dispatched
        outbox = Outbox(
            sessions, clock, channels, CampaignCatalog(), concurrency=CONNECTIONS, links=links
        )
        taken, passes = 0, 0
        started = time.perf_counter()
        # Every touch is taken once unless a send fails; a failure shows in the count below.
        while passes < 2 * count // outbox.batch_size + 10 and (batch := await outbox.run_once()):
            taken += batch
            passes += 1
        outbox_s = time.perf_counter() - started
    finally:
        await email.close()
        await engine.dispose()
    connection = await asyncpg.connect(asyncpg_dsn(url))
    try:
        statuses = dict(await connection.fetch("SELECT status, count(*) FROM touch GROUP BY 1"))
    finally:
        await connection.close()
    assert statuses == {"sent": count}, statuses
    return dispatch_s, outbox_s


def built(n: int) -> EmailMessage:
    """The message a bare client builds for its `n`th recipient."""
    message = EmailMessage()
    message["From"] = formataddr((SENDER.name or "", SENDER.address))
    message["To"] = f"person{n}@example.jp"
    message["Subject"] = f"顧客{n}様、{SUBJECT}"
    message["Message-ID"] = f"<bare.{n}@{SENDER.domain}>"
    message["Date"] = format_datetime(datetime.now(UTC))
    message.set_content(f"顧客{n}様\n\n{BODY}", charset="utf-8")
    return message


async def bare_run(
    port: int, count: int, send: Callable[[aiosmtplib.SMTP, int], Awaitable[object]]
) -> float:
    """Seconds for `count` sends over `CONNECTIONS` connections, the messages shared out."""
    clients = [
        aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=False)
        for _ in range(CONNECTIONS)
    ]
    for client in clients:
        await client.connect()
    numbers = iter(range(count))

    async def work(client: aiosmtplib.SMTP) -> None:
        for n in numbers:
            await send(client, n)

    try:
        started = time.perf_counter()
        await asyncio.gather(*(work(client) for client in clients))
        return time.perf_counter() - started
    finally:
        for client in clients:
            await client.quit()


async def measure(args: argparse.Namespace) -> None:
    n = args.messages
    print(f"email: {n:,} messages, {CONNECTIONS} SMTP connections, PostgreSQL")
    print(
        f"  sink: aiosmtpd {aiosmtpd.__version__} in its own process on 127.0.0.1, "
        "accepting, counting and discarding every message"
    )
    encoded = built(0).as_bytes(policy=SMTP)

    async def build_and_send(client: aiosmtplib.SMTP, number: int) -> object:
        return await client.send_message(built(number))

    async def send_encoded(client: aiosmtplib.SMTP, number: int) -> object:
        return await client.sendmail(SENDER.address, [f"person{number}@example.jp"], encoded)

    sink = await start_sink()
    try:
        async with scratch_postgres() as url:
            clock = FakeClock(START)
            await load(url, n, clock)
            counts = [await sink.received()]
            message_s = await bare_run(sink.port, n, build_and_send)
            counts.append(await sink.received())
            encoded_s = await bare_run(sink.port, n, send_encoded)
            counts.append(await sink.received())
            dispatch_s, outbox_s = await engine_run(url, n, clock, sink.port)
            counts.append(await sink.received())
    finally:
        await stop_sink(sink)
    received = [after - before for before, after in itertools.pairwise(counts)]
    assert received == [n, n, n], received
    engine_s = dispatch_s + outbox_s
    lines = [
        ("bare client, EmailMessage each", message_s),
        ("bare client, pre-encoded bytes", encoded_s),
        ("engine: dispatcher (claim, policy, render)", dispatch_s),
        ("engine: outbox (links, MIME, SMTP, record)", outbox_s),
        ("engine, end to end", engine_s),
    ]
    for label, seconds in lines:
        print(f"  {label:<44} {n / seconds:>9,.0f} messages/s ({seconds:.2f} s)")
    print(f"  ratio engine/EmailMessage client: {message_s / engine_s:.2f}")
    print(f"  ratio engine/pre-encoded client: {encoded_s / engine_s:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--messages", type=int, default=20_000)
    asyncio.run(measure(parser.parse_args()))


if __name__ == "__main__":
    main()
