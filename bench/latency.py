"""Click to call on PostgreSQL: how soon a click on a tracked link puts the next step's call
in the queue, idle and while a newsletter blast goes out.

`kizuna serve` (API and engine) and one `kizuna dispatch` run over a scratch database and
send mail to an aiosmtpd sink in its own process. Contacts of the "Interest" campaign get a
mail with a link, then wait for a click on it; their next step is a call. Clicks arrive
through `GET /t/c/{token}` at a steady rate, and a click's latency is the call touch's
`created_at` minus the moment the click was sent. Measured idle, then while a newsletter
goes to `--messages` other contacts; the blast's own rate is measured with the clicks and,
as its limit, without them (a blast of the same size just before).

    python -m bench.latency [--messages 20000] [--clicks 150] [--rate 20]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from bench.email import SmtpSink, start_sink, stop_sink
from bench.harness import (
    ADMIN_KEY,
    Server,
    asyncpg_dsn,
    copy_contacts,
    scratch_postgres,
    served,
)
from orchestrator.tracking import LinkMaker, TokenSigner

INTEREST = {
    "name": "Interest",
    "priority": 80,
    "steps": [
        {"id": "mail", "type": "send", "channel": "email",
         "template": {"subject": "ご案内", "text": "詳しくはこちら https://shop.example.jp/guide"}},
        {"id": "wait_click", "type": "wait_for_event", "timeout": "P7D",
         "cases": [{"when": {"event": "click", "step": "mail"}, "next": "call"}],
         "on_timeout": "end"},
        {"id": "call", "type": "send", "channel": "phone", "template": {"script": "お電話です"}},
        {"id": "end", "type": "exit"},
    ],
}  # fmt: skip
NEWSLETTER = {
    "name": "Newsletter",
    "priority": 20,
    "steps": [{"id": "news", "type": "send", "channel": "email",
               "template": {"subject": "今週のおすすめ", "text": "新商品のご案内です。"}}],
}  # fmt: skip
#: The engine files a click within a second of its mail's delivery as a link scanner's.
SCANNER_WINDOW_S = 1.5


async def load(url: str, clickers: int, readers: int) -> None:
    """Clickers (email and phone) and two groups of newsletter readers, opted in to email."""
    now = datetime.now(UTC)
    groups = [("clicker", clickers), ("blast_alone", readers), ("blast_clicked", readers)]
    await copy_contacts(
        url,
        ("external_id", "email", "phone", "timezone", "attributes", "social", "consent",
         "created_at", "updated_at"),
        [
            (f"{group}-{n}", f"{group}{n}@example.jp", f"+8190{n:08d}", "Asia/Tokyo",
             f'{{"group": "{group}"}}', "{}", '{"email": "opted_in"}', now, now)
            for group, count in groups
            for n in range(count)
        ],
        ("INSERT INTO consent_log (contact_id, channel, status, source, evidence, recorded_at)"
         " SELECT id, 'email', 'opted_in', 'bench', '{}', $1 FROM contact", now),
    )  # fmt: skip


@contextmanager
def started_dispatcher(database_url: str, settings: Mapping[str, str]) -> Iterator[None]:
    """A `kizuna dispatch` process beside the server, stopped afterwards."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KIZUNA_")}
    env |= {"KIZUNA_DATABASE_URL": database_url, "KIZUNA_LOG_LEVEL": "WARNING", **settings}
    kizuna = str(Path(sys.executable).with_name("kizuna"))
    process = subprocess.Popen([kizuna, "dispatch"], env=env, stdout=subprocess.DEVNULL)
    try:
        yield
    finally:
        process.terminate()
        process.wait(timeout=30)


async def start_campaign(api: httpx.AsyncClient, definition: dict[str, Any]) -> int:
    created = (await api.post("/v1/campaigns", json=definition)).raise_for_status().json()
    (await api.post(f"/v1/campaigns/{created['id']}/activate")).raise_for_status()
    return int(created["id"])


async def enroll(api: httpx.AsyncClient, campaign_id: int, group: str) -> None:
    audience = {"filter": {"attribute": "group", "op": "eq", "value": group}}
    answer = await api.post(f"/v1/campaigns/{campaign_id}/enrollments", json=audience)
    answer.raise_for_status()


async def wait_until(check: Any, what: str, within: float = 600) -> None:
    deadline = time.monotonic() + within
    while not await check():
        if time.monotonic() > deadline:
            raise RuntimeError(f"gave up waiting for {what}")
        await asyncio.sleep(0.1)


async def click_all(server: Server, links: dict[int, str], rate: float) -> dict[int, float]:
    """GET each contact's tracked link, `rate` a second; when each click was sent."""
    sent: dict[int, float] = {}
    async with httpx.AsyncClient(base_url=server.base_url) as client:
        started = time.monotonic()
        for number, (contact_id, link) in enumerate(links.items()):
            pause = started + number / rate - time.monotonic()
            if pause > 0:
                await asyncio.sleep(pause)
            sent[contact_id] = time.time()
            answer = await client.get(link.removeprefix(server.base_url))
            if answer.status_code != 302:
                raise RuntimeError(f"a click answered {answer.status_code}")
    return sent


async def latencies_ms(
    connection: asyncpg.Connection, campaign_id: int, sent: dict[int, float]
) -> list[float]:
    """Each click's time to its call touch; waits until every call is there."""

    async def calls() -> dict[int, datetime]:
        rows = await connection.fetch(
            "SELECT contact_id, created_at FROM touch WHERE campaign_id = $1 AND step_id = 'call'"
            " AND contact_id = ANY($2::bigint[])",
            campaign_id,
            list(sent),
        )
        return {row[0]: row[1] for row in rows}

    await wait_until(lambda: _all_there(calls, len(sent)), "the calls")
    made = await calls()
    return [(made[contact].timestamp() - at) * 1000 for contact, at in sent.items()]


async def _all_there(read: Any, count: int) -> bool:
    return len(await read()) >= count


async def blast(
    connection: asyncpg.Connection, sink: SmtpSink, api: httpx.AsyncClient, campaign: int,
    group: str, count: int,
) -> float:  # fmt: skip
    """Enroll the group in the newsletter; messages a second until the sink has them all."""
    before = await sink.received()
    started = time.monotonic()
    await enroll(api, campaign, group)

    async def delivered() -> bool:
        return await sink.received() - before >= count

    await wait_until(delivered, f"the {group} blast", within=3600)
    return count / (time.monotonic() - started)


def summary(values: list[float]) -> str:
    ordered = sorted(values)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * len(ordered)) - 1)]
    return f"p50 {statistics.median(ordered):6.1f} ms  p99 {p99:6.1f} ms  max {ordered[-1]:6.1f} ms"


async def measure(args: argparse.Namespace) -> None:
    secret = secrets.token_hex(32)
    sink = await start_sink()
    try:
        async with scratch_postgres() as url:
            await load(url, 2 * args.clicks, args.messages)
            settings = {
                "KIZUNA_SMTP_PORT": str(sink.port),
                "KIZUNA_SECRET_KEY": secret,
                "KIZUNA_MAIL_FROM": "news@shop.example.jp",
                "KIZUNA_SENDER_NAME": "絆ショップ",
                "KIZUNA_SENDER_POSTAL_ADDRESS": "東京都渋谷区神宮前1-2-3",
            }
            with served(url, settings) as server, started_dispatcher(url, settings):
                await run(args, url, server, sink, secret)
    finally:
        await stop_sink(sink)


async def run(
    args: argparse.Namespace, url: str, server: Server, sink: SmtpSink, secret: str
) -> None:
    headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
    links = LinkMaker(server.base_url, TokenSigner(secret))
    connection = await asyncpg.connect(asyncpg_dsn(url))
    async with httpx.AsyncClient(base_url=server.base_url, headers=headers, timeout=60) as api:
        try:
            interest = await start_campaign(api, INTEREST)
            newsletter = await start_campaign(api, NEWSLETTER)
            await enroll(api, interest, "clicker")

            async def mailed() -> list[asyncpg.Record]:
                return await connection.fetch(
                    "SELECT id, contact_id FROM touch WHERE campaign_id = $1 AND step_id = 'mail'"
                    " AND status = 'sent'",
                    interest,
                )

            await wait_until(lambda: _all_there(mailed, 2 * args.clicks), "the clickers' mail")
            await asyncio.sleep(SCANNER_WINDOW_S)
            tracked = {row[1]: links.for_touch(row[0]).click(0) for row in await mailed()}
            contacts = sorted(tracked)
            idle_links = {c: tracked[c] for c in contacts[: args.clicks]}
            busy_links = {c: tracked[c] for c in contacts[args.clicks :]}

            idle = await latencies_ms(
                connection, interest, await click_all(server, idle_links, args.rate)
            )
            alone = await blast(connection, sink, api, newsletter, "blast_alone", args.messages)
            clicking = asyncio.create_task(click_all(server, busy_links, args.rate))
            clicked = await blast(connection, sink, api, newsletter, "blast_clicked", args.messages)
            busy = await latencies_ms(connection, interest, await clicking)
        finally:
            await connection.close()
    print(f"latency: click (GET /t/c) to the next call touch, {args.clicks} clicks at "
          f"{args.rate:g}/s each; PostgreSQL, kizuna serve + 1 kizuna dispatch")  # fmt: skip
    print(f"  idle                          {summary(idle)}")
    print(f"  during a {args.messages:,}-mail blast  {summary(busy)}")
    print(f"  blast alone          {alone:8,.0f} messages/s")
    print(f"  blast with clicks    {clicked:8,.0f} messages/s  (ratio {clicked / alone:.2f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--clicks", type=int, default=150)
    parser.add_argument("--rate", type=float, default=20.0)
    asyncio.run(measure(parser.parse_args()))


if __name__ == "__main__":
    main()
