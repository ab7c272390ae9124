"""Webhook flood: `POST /v1/webhooks/email/standard` as fast as `kizuna serve` answers, for a
bounded time, 30% of the requests redeliveries of earlier ones and 5% with a bad signature.

Checked: every request answered as it should (2xx, 401 for a bad signature, never 5xx),
each event stored once, nothing of a badly signed request stored; the rate and the p50
and p99 latency are reported.
"""

from __future__ import annotations

import asyncio
import base64
import secrets
import time
from collections import Counter
from dataclasses import dataclass

import httpx
import orjson

from bench.chaos.context import Context
from bench.chaos.facts import fetch
from bench.chaos.probes import percentile
from bench.chaos.processes import kizuna
from bench.chaos.report import Check
from bench.email import START
from bench.harness import copy_contacts
from channels.webhooks import sign_webhook

__all__ = ["run"]

NAME = "webhook flood"
CONTACTS = 1000
#: Requests in flight at once: enough to keep the server busy whatever its speed.
CONCURRENCY = 32
DUPLICATES, BAD_SIGNATURES = 0.30, 0.05
TYPES = ("email.delivered", "email.opened", "email.clicked")


@dataclass(frozen=True)
class Request:
    """One webhook delivery as sent: `kind` is new, duplicate or forged."""

    kind: str
    webhook_id: str
    headers: dict[str, str]
    body: bytes


@dataclass(frozen=True)
class Sent:
    """A request's answer: its status, or 0 and the client's error when none came."""

    kind: str
    webhook_id: str
    status: int
    seconds: float
    error: str = ""


class Deliveries:
    """Makes the requests: new events to the good contacts, redeliveries of those already
    sent, and forged ones (signed with another key) to the contacts kept apart for them."""

    def __init__(self, context: Context, secret: str) -> None:
        self._random = context.random
        self._secret = secret
        self._forger = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
        self._sent: list[Request] = []
        self._number = 0

    def next(self) -> Request:
        draw = self._random.random()
        if draw < BAD_SIGNATURES:
            return self._new("forged", f"bad{self._random.randrange(CONTACTS)}", self._forger)
        if draw < BAD_SIGNATURES + DUPLICATES and self._sent:
            original = self._random.choice(self._sent)
            return Request("duplicate", original.webhook_id, original.headers, original.body)
        request = self._new("new", f"person{self._random.randrange(CONTACTS)}", self._secret)
        self._sent.append(request)
        return request

    def _new(self, kind: str, person: str, secret: str) -> Request:
        self._number += 1
        webhook_id = f"msg_{kind}_{self._number}"
        body = orjson.dumps({
            "type": self._random.choice(TYPES),
            "timestamp": "2026-11-23T10:00:00Z",
            "data": {"email": f"{person}@example.jp", "message_id": None, "url": None},
        })  # fmt: skip
        stamp = int(time.time())
        headers = {
            "content-type": "application/json",
            "webhook-id": webhook_id,
            "webhook-timestamp": str(stamp),
            "webhook-signature": sign_webhook(secret, webhook_id, stamp, body),
        }
        return Request(kind, webhook_id, headers, body)


async def run(context: Context) -> list[Check]:
    seconds = 3.0 if context.short else 30.0
    secret = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
    async with context.cluster.database() as url:
        people = [(f"person{n}", f"person{n}@example.jp") for n in range(CONTACTS)]
        people += [(f"bad{n}", f"bad{n}@example.jp") for n in range(CONTACTS)]
        await copy_contacts(
            url, ("external_id", "email", "timezone", "attributes", "social", "consent",
                  "created_at", "updated_at"),
            [(key, email, "Asia/Tokyo", "{}", "{}", "{}", START, START) for key, email in people],
        )  # fmt: skip
        env = {"KIZUNA_DATABASE_URL": url, "KIZUNA_WEBHOOK_SECRET": secret}
        with kizuna("serve", env) as server:
            sent, elapsed = await _flood(
                f"{server.base_url}/v1/webhooks/email/standard", Deliveries(context, secret),
                seconds,
            )  # fmt: skip
        stored = await fetch(url, "SELECT c.external_id, count(*) FROM event e "
                                  "JOIN contact c ON c.id = e.contact_id GROUP BY 1")  # fmt: skip
    kinds = Counter(each.kind for each in sent)
    wrong = [each for each in sent if not _answered_right(each)]
    accepted = {each.webhook_id for each in sent if each.kind == "new" and each.status < 300}
    stored_good = sum(n for key, n in stored if key.startswith("person"))
    stored_forged = sum(n for key, n in stored if key.startswith("bad"))
    latencies = [each.seconds * 1000 for each in sent]
    return [
        Check(NAME, f"requests in {seconds:.0f} s, {CONCURRENCY} at once",
              f"{len(sent):,} ({len(sent) / elapsed:,.0f}/s): {kinds['new']:,} new, "
              f"{kinds['duplicate']:,} dup, {kinds['forged']:,} forged", len(sent) > 0),
        Check(NAME, "answers 2xx, 401 for bad signatures",
              f"{len(wrong)} wrong" + "".join(
                  f", {kind} got {status or error} x{n}"
                  for (kind, status, error), n
                  in Counter((w.kind, w.status, w.error) for w in wrong).items()),
              not wrong),
        Check(NAME, "events stored = distinct events sent",
              f"{stored_good:,} stored of {len(accepted):,}", stored_good == len(accepted)),
        Check(NAME, "events of bad signatures stored", str(stored_forged), stored_forged == 0),
        Check(NAME, "latency p50 / p99",
              f"{percentile(latencies, 0.5):.1f} / {percentile(latencies, 0.99):.1f} ms", True),
    ]  # fmt: skip


def _answered_right(sent: Sent) -> bool:
    return sent.status == 401 if sent.kind == "forged" else 200 <= sent.status < 300


async def _flood(url: str, deliveries: Deliveries, seconds: float) -> tuple[list[Sent], float]:
    """`CONCURRENCY` senders, each sending its next request as soon as the last is
    answered, until `seconds` have passed; what was sent, and the seconds it took."""
    sent: list[Sent] = []
    limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
    started = time.monotonic()
    end = started + seconds
    async with httpx.AsyncClient(timeout=30, limits=limits) as client:

        async def sender() -> None:
            while time.monotonic() < end:
                request = deliveries.next()
                before = time.monotonic()
                status, error = 0, ""
                try:
                    answer = await client.post(url, content=request.body, headers=request.headers)
                    status = answer.status_code
                except httpx.TransportError as exc:
                    error = type(exc).__name__
                sent.append(Sent(request.kind, request.webhook_id, status,
                                 time.monotonic() - before, error))  # fmt: skip

        await asyncio.gather(*(sender() for _ in range(CONCURRENCY)))
    return sent, time.monotonic() - started
