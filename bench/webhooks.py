"""Email provider webhooks on PostgreSQL: SendGrid event batches over HTTP, 30% redelivered.

`kizuna serve` is configured with the public half of an ECDSA P-256 key made for the run,
and each batch of 100 events is signed with the private half, as SendGrid signs it. The
events concern 10,000 contacts, each sent one mail: deliveries, opens and clicks mostly,
and some bounces, complaints and unsubscribes. 30% of each batch are events an earlier
batch carried (a provider's retries). Every request is checked, deduplicated, matched to
its touches by Message-ID and recorded, several in flight, as SendGrid posts them. The
limit, measured in the same run: asyncpg `executemany` of the same rows, batch by batch,
into a plain table with no index, as many in flight.

    python -m bench.webhooks [--events 50000] [--batch 100] [--duplicates 0.3] [--in-flight 4]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import random
import time
from datetime import UTC, datetime
from typing import Any, NamedTuple

import asyncpg
import httpx
import orjson
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from bench.harness import (
    Server,
    analyze,
    asyncpg_dsn,
    copy_contacts,
    cpu_seconds,
    scratch_postgres,
    served,
)

CONTACTS = 10_000
START = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
DOMAIN = "bench.example.jp"
#: Of every 100 events, how many are of each kind (SendGrid's names).
MIX = [
    ("delivered", 40), ("open", 30), ("click", 24), ("bounce", 2), ("blocked", 2),
    ("spamreport", 1), ("unsubscribe", 1),
]  # fmt: skip
KINDS = [kind for kind, share in MIX for _ in range(share)]

BARE_TABLE = """
    CREATE TABLE bare_event (
        provider text, event_id text, type text, email text, message_id text,
        occurred_at timestamptz, data jsonb
    )
"""
BARE_INSERT = "INSERT INTO bare_event VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb)"


def sendgrid_event(n: int) -> dict[str, Any]:
    """The `n`th event, about the mail of contact `n % CONTACTS`."""
    contact = n % CONTACTS
    kind = KINDS[(n * 37) % len(KINDS)]
    event: dict[str, Any] = {
        "email": f"person{contact}@example.jp",
        "timestamp": int(START.timestamp()) + n,
        "smtp-id": f"<bench.{contact}@{DOMAIN}>",
        "event": "bounce" if kind == "blocked" else kind,
        "sg_event_id": f"sg-{n:08d}",
        "sg_message_id": f"m{contact}.filter0001",
    }
    if kind in ("bounce", "blocked"):
        event |= {"type": kind, "reason": "550 5.1.1 no such user"}
    if kind == "click":
        event["url"] = "https://shop.example.jp/sale?from=news"
    return event


def batches(count: int, size: int, duplicates: float, seed: int = 7) -> list[list[dict[str, Any]]]:
    """`count` events in batches of `size`: in each, `duplicates` of them redelivered from
    earlier batches (the first batch, with no earlier one, is all new)."""
    rng = random.Random(seed)
    sent: list[dict[str, Any]] = []
    made: list[list[dict[str, Any]]] = []
    n = 0
    while sum(map(len, made)) < count:
        again = rng.sample(sent, min(len(sent), round(size * duplicates)))
        fresh = [sendgrid_event(n + i) for i in range(size - len(again))]
        n += len(fresh)
        sent += fresh
        batch = fresh + again
        rng.shuffle(batch)
        made.append(batch)
    return made


class Signer:
    """SendGrid's side: an ECDSA P-256 key, the public half given to Kizuna."""

    def __init__(self) -> None:
        self._key = ec.generate_private_key(ec.SECP256R1())
        der = self._key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        self.public_key = base64.b64encode(der).decode()

    def request(self, batch: list[dict[str, Any]]) -> tuple[bytes, dict[str, str]]:
        """The body and headers of a signed post of `batch`."""
        body = orjson.dumps(batch)
        timestamp = str(int(time.time()))
        signature = self._key.sign(timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
        return body, {
            "content-type": "application/json",
            "x-twilio-email-event-webhook-signature": base64.b64encode(signature).decode(),
            "x-twilio-email-event-webhook-timestamp": timestamp,
        }


async def load(url: str) -> None:
    """Contacts (COPY) and one sent mail each, with its Message-ID; not measured."""
    await copy_contacts(
        url,
        ("external_id", "email", "timezone", "attributes", "social", "consent",
         "created_at", "updated_at"),
        [
            (f"w-{n}", f"person{n}@example.jp", "Asia/Tokyo", "{}", "{}",
             '{"email": "opted_in"}', START, START)
            for n in range(CONTACTS)
        ],
        ("INSERT INTO touch (contact_id, channel, category, status, weight, idempotency_key,"
         " content, message_id, attempts, created_at, updated_at, sent_at)"
         " SELECT id, 'email', 'marketing', 'sent', 1, 'bench:' || id, '{}',"
         f" '<bench.' || split_part(external_id, '-', 2) || '@{DOMAIN}>', 1, $1, $1, $1"
         " FROM contact", START),
    )  # fmt: skip
    await analyze(url)


class Run(NamedTuple):
    """Requests posted: seconds taken, the server's CPU seconds, events accepted, duplicates."""

    seconds: float
    cpu: float
    accepted: int
    duplicates: int


async def post_all(
    server: Server, requests: list[tuple[bytes, dict[str, str]]], in_flight: int
) -> Run:
    """Post every request, `in_flight` at a time."""
    queue = list(reversed(requests))
    accepted, duplicates = 0, 0
    limits = httpx.Limits(max_connections=in_flight)
    async with httpx.AsyncClient(base_url=server.base_url, timeout=60, limits=limits) as http:

        async def poster() -> None:
            nonlocal accepted, duplicates
            while queue:
                body, headers = queue.pop()
                response = await http.post(
                    "/v1/webhooks/email/sendgrid", content=body, headers=headers
                )
                response.raise_for_status()
                answer = response.json()
                accepted += answer["accepted"]
                duplicates += answer["duplicates"]

        cpu, started = cpu_seconds(server.process.pid), time.perf_counter()
        await asyncio.gather(*(poster() for _ in range(in_flight)))
        seconds = time.perf_counter() - started
        return Run(seconds, cpu_seconds(server.process.pid) - cpu, accepted, duplicates)


def bare_rows(batch: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """A batch as plain rows: what a receiver that checks and matches nothing would keep."""
    return [
        (
            "sendgrid",
            event["sg_event_id"],
            event["event"],
            event["email"],
            event["smtp-id"],
            datetime.fromtimestamp(event["timestamp"], UTC),
            orjson.dumps(
                {k: v for k, v in event.items() if k in ("url", "reason", "type")}
            ).decode(),
        )
        for event in batch
    ]


async def bare(dsn: str, made: list[list[dict[str, Any]]], in_flight: int) -> float:
    """Seconds for `executemany` of every batch, one transaction each, `in_flight` at once."""
    rows = [bare_rows(batch) for batch in made]
    queue = list(reversed(rows))
    connections = [await asyncpg.connect(dsn) for _ in range(in_flight)]
    try:
        await connections[0].execute(BARE_TABLE)

        async def writer(connection: asyncpg.Connection) -> None:
            while queue:
                batch = queue.pop()
                async with connection.transaction():
                    await connection.executemany(BARE_INSERT, batch)

        started = time.perf_counter()
        await asyncio.gather(*(writer(connection) for connection in connections))
        return time.perf_counter() - started
    finally:
        for connection in connections:
            await connection.close()


async def measure(args: argparse.Namespace) -> None:
    made = batches(args.events, args.batch, args.duplicates)
    warm_up, measured = made[:1], made[1:]
    n = sum(map(len, measured))
    signer = Signer()
    requests = [signer.request(batch) for batch in measured]
    settings = {"KIZUNA_SENDGRID_PUBLIC_KEY": signer.public_key}
    async with scratch_postgres() as database_url:
        await load(database_url)
        with served(database_url, settings) as server:
            await post_all(server, [signer.request(batch) for batch in warm_up], 1)
            run = await post_all(server, requests, args.in_flight)
        bare_s = await bare(asyncpg_dsn(database_url), measured, args.in_flight)
    assert run.accepted + run.duplicates == n, (run, n)

    print(
        f"webhooks: {n:,} SendGrid events in {len(measured)} signed batches of {args.batch} "
        f"({run.duplicates / n:.0%} redelivered), {args.in_flight} in flight, PostgreSQL"
    )
    lines = [
        ("HTTP: verify, dedupe, match, record", run.seconds),
        ("direct executemany into a plain table", bare_s),
    ]
    for label, seconds in lines:
        print(f"  {label:<40} {n / seconds:>9,.0f} events/s ({seconds:.2f} s)")
    print(f"  ratio HTTP/executemany: {bare_s / run.seconds:.2f}")
    print(
        f"  server CPU: {run.cpu / len(measured) * 1000:.1f} ms a batch, "
        f"{n / run.cpu:,.0f} events per CPU second"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--duplicates", type=float, default=0.3)
    parser.add_argument("--in-flight", type=int, default=4)
    asyncio.run(measure(parser.parse_args()))


if __name__ == "__main__":
    main()
