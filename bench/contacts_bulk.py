"""Bulk contact upsert through `POST /v1/contacts/bulk` on PostgreSQL.

Prints rows per second over HTTP (parsing, validation and normalisation, the upsert, one
transaction a request) with two requests in flight, as a CRM sync pipelines them, and one
at a time; the server's memory (with its bulk validation processes) after each request
and at its peak; and, measured in the same run, the same rows written straight into the
table by asyncpg: `executemany` of the same upsert, and `COPY`. Ratios are HTTP / direct.

    python -m bench.contacts_bulk [--rows 100000] [--batch 10000] [--in-flight 2]
"""

from __future__ import annotations

import argparse
import asyncio
import time
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx
import orjson

from bench.harness import Server, asyncpg_dsn, scratch_postgres, served

COLUMNS = (
    "external_id", "email", "phone", "timezone", "locale", "attributes",
    "social", "consent", "created_at", "updated_at",
)  # fmt: skip

UPSERT = f"""
    INSERT INTO contact ({", ".join(COLUMNS)})
    VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7::jsonb, $8::jsonb, $9, $10)
    ON CONFLICT (external_id) DO UPDATE SET
        email = excluded.email, phone = excluded.phone, locale = excluded.locale,
        attributes = excluded.attributes, updated_at = excluded.updated_at
"""


def rows(count: int, first: int = 0) -> list[dict[str, Any]]:
    """Contacts as a CRM export sends them: national phone numbers, mixed-case emails."""
    return [
        {
            "external_id": f"crm-{n:07d}",
            "email": f"Customer.{n}@Example.JP",
            "phone": f"090-{1000 + n // 10000:04d}-{n % 10000:04d}",
            "locale": "ja-JP",
            "attributes": {"name": f"顧客 {n}", "plan": "basic", "score": n % 100},
        }
        for n in range(first, first + count)
    ]


async def send(server: Server, batches: list[bytes], in_flight: int) -> tuple[float, list[float]]:
    """Post every batch, `in_flight` at a time; seconds taken and server RSS after each."""
    queue = list(reversed(batches))
    rss: list[float] = []
    headers = server.headers | {"content-type": "application/json"}
    async with httpx.AsyncClient(base_url=server.base_url, headers=headers, timeout=300) as http:

        async def sender() -> None:
            while queue:
                response = await http.post("/v1/contacts/bulk", content=queue.pop())
                response.raise_for_status()
                assert response.json()["failed"] == 0, response.json()["errors"][:3]
                rss.append(server.rss_mib())

        started = time.perf_counter()
        await asyncio.gather(*(sender() for _ in range(in_flight)))
        return time.perf_counter() - started, rss


def direct_records(data: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """The rows as the table stores them (normalised as Kizuna would), for asyncpg."""
    now = datetime.now(UTC)
    return [
        (
            row["external_id"],
            row["email"].split("@")[0] + "@example.jp",
            "+8190" + row["phone"].replace("-", "")[3:],
            "Asia/Tokyo",
            row["locale"],
            orjson.dumps(row["attributes"]).decode(),
            "{}",
            "{}",
            now,
            now,
        )
        for row in data
    ]


async def direct(dsn: str, records: list[tuple[Any, ...]], batch: int) -> dict[str, float]:
    """Seconds for executemany of the upsert (new rows, then existing ones) and for COPY."""
    connection = await asyncpg.connect(dsn)
    timings: dict[str, float] = {}
    try:
        await connection.execute("TRUNCATE contact RESTART IDENTITY CASCADE")
        for label in ("executemany, new", "executemany, existing"):
            started = time.perf_counter()
            for start in range(0, len(records), batch):
                async with connection.transaction():
                    await connection.executemany(UPSERT, records[start : start + batch])
            timings[label] = time.perf_counter() - started
        await connection.execute("TRUNCATE contact RESTART IDENTITY CASCADE")
        started = time.perf_counter()
        await connection.copy_records_to_table("contact", records=records, columns=COLUMNS)
        timings["COPY"] = time.perf_counter() - started
    finally:
        await connection.close()
    return timings


async def measure(args: argparse.Namespace) -> None:
    data = rows(args.rows)
    batches = [
        orjson.dumps(data[start : start + args.batch]) for start in range(0, len(data), args.batch)
    ]
    async with scratch_postgres() as database_url:
        with served(database_url) as server:
            idle = server.rss_mib()
            # Warm up (the validation processes start on first use), on other contacts.
            await send(server, [orjson.dumps(rows(2_000, first=args.rows))], 1)
            new_s, new_rss = await send(server, batches, args.in_flight)
            existing_s, existing_rss = await send(server, batches, args.in_flight)
            serial_s, _ = await send(server, batches, 1)
            peak = server.peak_rss_mib()
            limits = await direct(asyncpg_dsn(database_url), direct_records(data), args.batch)

    n = args.rows
    print(f"contacts_bulk: {n:,} contacts in {len(batches)} requests of {args.batch:,}")
    lines = [
        (f"HTTP, new contacts, {args.in_flight} in flight", new_s),
        (f"HTTP, existing contacts, {args.in_flight} in flight", existing_s),
        ("HTTP, existing contacts, one at a time", serial_s),
        *((f"direct {label}", seconds) for label, seconds in limits.items()),
    ]
    for label, seconds in lines:
        print(f"  {label:<42} {n / seconds:>9,.0f} rows/s  ({seconds:.2f} s)")
    print(
        f"  ratio HTTP/executemany: new {limits['executemany, new'] / new_s:.2f}, "
        f"existing {limits['executemany, existing'] / existing_s:.2f};  "
        f"HTTP/COPY: {limits['COPY'] / new_s:.2f}"
    )
    after = ", ".join(f"{value:.0f}" for value in new_rss + existing_rss)
    print(f"  server memory (MiB): idle {idle:.0f}; after each request {after}; peak {peak:.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=10_000)
    parser.add_argument("--in-flight", type=int, default=2)
    asyncio.run(measure(parser.parse_args()))


if __name__ == "__main__":
    main()
