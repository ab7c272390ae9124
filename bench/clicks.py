"""Tracked-link clicks on PostgreSQL: `GET /t/c/{token}` against a bare FastAPI redirect.

10,000 contacts were each sent one mail with a tracked link an hour ago; each link is
clicked once, several clicks in flight, as the people reading their mail click. Every
click checks its token, finds the touch and its link, records a `click` event (waking any
journey waiting for it) and answers 302. The limit, measured in the same run with the same
client: a FastAPI app whose one route answers the same 302 and does nothing else, served
by uvicorn with the options `kizuna serve` uses. Prints redirects per second and the
latency of one click (median and 99th percentile) for both.

    python -m bench.clicks [--clicks 10000] [--in-flight 4]
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

import httpx
import orjson

from bench.harness import analyze, copy_contacts, cpu_seconds, scratch_postgres, served
from orchestrator.tracking import CLICK_PATH, TokenSigner

TARGET = "https://shop.example.jp/sale?from=news"
CONTENT = orjson.dumps(
    {"subject": "今週のおすすめ", "text": f"新商品のご案内です。詳しくはこちら: {TARGET}"}
).decode()

#: The bare app, run by `python -c` with its port and target: one route, the same redirect.
BARE = """
import sys
import uvicorn
from fastapi import FastAPI
from fastapi.responses import RedirectResponse

app = FastAPI()

@app.get("/t/c/{token}")
async def click(token: str) -> RedirectResponse:
    return RedirectResponse(sys.argv[2], status_code=302)

uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning",
            access_log=False, http="h11")
"""


async def load(url: str, count: int) -> None:
    """Contacts (COPY), each sent one mail with a tracked link an hour ago; not measured."""
    sent = datetime.now(UTC) - timedelta(hours=1)
    await copy_contacts(
        url,
        ("external_id", "email", "timezone", "attributes", "social", "consent",
         "created_at", "updated_at"),
        [
            (f"k-{n}", f"person{n}@example.jp", "Asia/Tokyo", "{}", "{}",
             '{"email": "opted_in"}', sent, sent)
            for n in range(count)
        ],
        ("INSERT INTO touch (contact_id, channel, category, status, weight, idempotency_key,"
         " content, attempts, created_at, updated_at, sent_at)"
         " SELECT id, 'email', 'marketing', 'sent', 1, 'bench:' || id, $1::jsonb, 1,"
         " created_at, created_at, created_at FROM contact", CONTENT),
    )  # fmt: skip
    await analyze(url)


@contextmanager
def bare_server() -> Iterator[tuple[str, int]]:
    """The bare redirect app on a free port; its base URL and process id."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen([sys.executable, "-c", BARE, str(port), TARGET])
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{base_url}/t/c/ready")
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise RuntimeError("the bare redirect app did not start") from None
                time.sleep(0.1)
        yield base_url, process.pid
    finally:
        process.terminate()
        process.wait(timeout=30)


class Run(NamedTuple):
    """A run of clicks: seconds taken, the server's CPU seconds, each click's latency."""

    seconds: float
    cpu: float
    latencies: list[float]


async def click_all(base_url: str, pid: int, paths: list[str], in_flight: int) -> Run:
    """Get every path, `in_flight` at a time, from the server with process id `pid`."""
    queue = list(reversed(paths))
    latencies: list[float] = []
    limits = httpx.Limits(max_connections=in_flight)
    async with httpx.AsyncClient(base_url=base_url, timeout=60, limits=limits) as http:

        async def clicker() -> None:
            while queue:
                path = queue.pop()
                started = time.perf_counter()
                response = await http.get(path)
                latencies.append(time.perf_counter() - started)
                assert response.status_code == 302, response.text
                assert response.headers["location"] == TARGET

        cpu, started = cpu_seconds(pid), time.perf_counter()
        await asyncio.gather(*(clicker() for _ in range(in_flight)))
        return Run(time.perf_counter() - started, cpu_seconds(pid) - cpu, latencies)


def percentile(values: list[float], share: float) -> float:
    """The value below which `share` of `values` lie (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


async def measure(args: argparse.Namespace) -> None:
    n = args.clicks
    secret = secrets.token_urlsafe(32)
    signer = TokenSigner(secret)
    # The touches' ids are 1, 2, ...: the table is new. The first 200 warm the servers up.
    paths = [f"{CLICK_PATH}{signer.make('click', touch, 0)}" for touch in range(1, n + 201)]
    warm_up, paths = paths[:200], paths[200:]
    async with scratch_postgres() as database_url:
        await load(database_url, n + 200)
        with served(database_url, {"KIZUNA_SECRET_KEY": secret}) as server:
            pid = server.process.pid
            await click_all(server.base_url, pid, warm_up, args.in_flight)
            kizuna = await click_all(server.base_url, pid, paths, args.in_flight)
        with bare_server() as (base_url, pid):
            await click_all(base_url, pid, warm_up, args.in_flight)
            bare = await click_all(base_url, pid, paths, args.in_flight)

    print(f"clicks: {n:,} tracked-link clicks, {args.in_flight} in flight, PostgreSQL")
    for label, run in [("kizuna /t/c: token, touch, click event", kizuna),
                       ("bare FastAPI redirect", bare)]:  # fmt: skip
        print(
            f"  {label:<40} {n / run.seconds:>7,.0f} redirects/s  "
            f"p50 {statistics.median(run.latencies) * 1000:5.1f} ms  "
            f"p99 {percentile(run.latencies, 0.99) * 1000:5.1f} ms  "
            f"server CPU {run.cpu / n * 1000:.2f} ms a click"
        )
    print(
        f"  ratio kizuna/bare: {bare.seconds / kizuna.seconds:.2f} in redirects/s, "
        f"{bare.cpu / kizuna.cpu:.2f} in server CPU"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--clicks", type=int, default=10_000)
    parser.add_argument("--in-flight", type=int, default=4)
    asyncio.run(measure(parser.parse_args()))


if __name__ == "__main__":
    main()
