"""The contact-frequency policy: the cost of one decision, and admission on PostgreSQL.

1. `evaluate` under a six-rule policy for contacts with 10, 100, 1,000 and 10,000 touches
   of history (the most recent few inside the windows, the rest older): time per decision
   and its growth from 10 to 10,000.
2. Dispatcher passes on PostgreSQL, batches of 500, each contact with ten touches in the
   last month: under the six-rule policy, and under it with every contact's own
   preferences (a cap on email a month), against the same passes under a policy with no
   rules (the engine's claim loop without policy), measured in the same run.

    python -m bench.policy [--contacts 20000]
"""

from __future__ import annotations

import argparse
import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import orjson

from app.database import create_engine, create_sessionmaker
from bench.dispatch import CHANNELS, reset
from bench.harness import activate, asyncpg_dsn, scratch_postgres
from orchestrator.catalog import CampaignCatalog
from orchestrator.clock import FakeClock
from orchestrator.dispatcher import Dispatcher
from orchestrator.services.enrollments import EnrollmentRequest, EnrollmentService
from orchestrator.services.policies import PolicyService, parse_policy
from policies import Candidate, ContactFacts, CountedTouch, History, Policy, evaluate

NOW = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)  # Tuesday 10:00 in Tokyo
SIX_RULES: dict[str, Any] = {
    "weights": {"email": 1, "sns": 1, "dm": 2, "phone": 3},
    "rules": [
        {"type": "cap", "name": "weekly", "max": 12, "window": "P7D", "unit": "weight"},
        {"type": "cap", "name": "monthly", "max": 30, "window": "P30D"},
        {"type": "cap", "name": "one-call-a-fortnight", "max": 1, "window": "P14D",
         "channels": ["phone"]},
        {"type": "min_gap", "name": "an-hour-apart", "gap": "PT1H"},
        {"type": "quiet_hours", "name": "office-hours-calls", "channels": ["phone"],
         "allow": [{"days": ["mon", "tue", "wed", "thu", "fri"], "from": "09:00",
                    "to": "19:00"}], "holidays": "JP"},
        {"type": "quiet_hours", "name": "no-night-mail", "channels": ["email", "sns"],
         "allow": [{"days": ["*"], "from": "08:00", "to": "21:00"}]},
    ],
    "consent": {"email": "opt_in", "sns": "opt_in", "phone": "opt_out", "dm": "opt_out"},
}  # fmt: skip
CHANNEL_ROTATION = ("email", "sns", "dm", "phone")
#: Every contact's own say in the third run: at most 20 emails a month, which the ten of
#: its history leave room for, so the touches are judged by the rule and still admitted.
PREFERENCES = {"channels": {"email": {"allowed": True, "max": 20, "per": "month"}}}


def history_of(size: int) -> History:
    """`size` touches: three in the last week, the rest a day apart from 31 days back."""
    recent = [CountedTouch("email", NOW - timedelta(days=d), 1) for d in (1, 3, 5)][:size]
    older = [
        CountedTouch(CHANNEL_ROTATION[n % 4], NOW - timedelta(days=31 + n), 1)
        for n in range(size - len(recent))
    ]
    return History(recent + older)


def decision_cost(size: int, rounds: int = 20_000) -> float:
    """Microseconds per decision for a contact with `size` touches of history."""
    policy = Policy.model_validate(SIX_RULES)
    history = history_of(size)
    contact = ContactFacts("Asia/Tokyo", consent={"email": "opted_in", "sns": "opted_in"})
    candidates = [Candidate(channel, "marketing", "address") for channel in CHANNEL_ROTATION]
    started = time.perf_counter()
    for n in range(rounds):
        evaluate(candidates[n % 4], history, policy, contact, NOW)
    return (time.perf_counter() - started) / rounds * 1e6


async def load(url: str, count: int, clock: FakeClock) -> int:
    """Contacts opted in to email, ten touches each in the last month, a one-mail campaign
    with everyone enrolled; its id."""
    connection = await asyncpg.connect(asyncpg_dsn(url))
    consent = orjson.dumps({"email": "opted_in"}).decode()
    try:
        await connection.copy_records_to_table(
            "contact",
            columns=("external_id", "email", "timezone", "attributes", "social", "consent",
                     "created_at", "updated_at"),
            records=[(f"p-{n}", f"p{n}@example.jp", "Asia/Tokyo", "{}", "{}", consent, NOW, NOW)
                     for n in range(count)],
        )  # fmt: skip
        await add_history(connection)
    finally:
        await connection.close()
    engine = create_engine(url)
    sessions = create_sessionmaker(engine)
    try:
        async with sessions.begin() as session:
            campaign_id = await activate(session, clock, {"name": "News", "steps": [
                {"id": "call", "type": "send", "channel": "email",
                 "template": {"subject": "News", "text": "..."}}]})  # fmt: skip
            everyone = EnrollmentRequest.model_validate({"filter": {"field": "email",
                                                                    "op": "exists"}})  # fmt: skip
            await EnrollmentService(session, clock, CampaignCatalog()).enroll(campaign_id, everyone)
        return campaign_id
    finally:
        await engine.dispose()


async def add_history(connection: asyncpg.Connection) -> None:
    """Ten sent mails for every contact, one every three days in the last month."""
    ids = [row["id"] for row in await connection.fetch("SELECT id FROM contact")]
    await connection.copy_records_to_table(
        "touch",
        columns=("contact_id", "channel", "category", "status", "weight", "idempotency_key",
                 "content", "attempts", "created_at", "updated_at"),
        records=[(cid, "email", "marketing", "sent", 1.0, f"old:{cid}:{k}", "{}", 1,
                  NOW - timedelta(days=2 + 3 * k), NOW) for cid in ids for k in range(10)],
    )  # fmt: skip
    await connection.execute("VACUUM ANALYZE")


async def admission(url: str, count: int) -> dict[str, float]:
    """Seconds for a full dispatch pass under each policy."""
    clock = FakeClock(NOW)
    await load(url, count, clock)
    engine = create_engine(url)
    sessions = create_sessionmaker(engine)
    seconds: dict[str, float] = {}
    try:
        runs: tuple[tuple[str, dict[str, Any], dict[str, Any] | None], ...] = (
            ("no rules", {"rules": []}, None),
            ("six rules", SIX_RULES, None),
            ("six rules and preferences", SIX_RULES, PREFERENCES),
        )
        for label, document, preferences in runs:
            async with sessions.begin() as session:
                await PolicyService(session, clock).replace(parse_policy(document), "bench")
            await reset_touches(url, preferences)
            dispatcher = Dispatcher(sessions, clock, CHANNELS, CampaignCatalog(), batch_size=500)
            started = time.perf_counter()
            processed = await dispatcher.run_until_idle()
            seconds[label] = time.perf_counter() - started
            assert processed == count, processed
    finally:
        await engine.dispose()
    return seconds


async def reset_touches(url: str, preferences: dict[str, Any] | None) -> None:
    """Back to the loaded state: the campaign's touches gone, every enrollment due, and
    each contact with these `preferences`."""
    await reset(url)  # also deletes every touch: put the history back
    connection = await asyncpg.connect(asyncpg_dsn(url))
    try:
        await connection.execute("UPDATE enrollment SET step_id = 'call'")
        await connection.execute(
            "UPDATE contact SET preferences = $1::jsonb",
            None if preferences is None else orjson.dumps(preferences).decode(),
        )
        await add_history(connection)
    finally:
        await connection.close()


async def measure(args: argparse.Namespace) -> None:
    print("policy: one decision under six rules, by the size of the contact's history")
    costs = {size: decision_cost(size) for size in (10, 100, 1_000, 10_000)}
    for size, micros in costs.items():
        print(f"  {size:>6,} touches   {micros:6.1f} µs per decision ({1e6 / micros:>9,.0f}/s)")
    print(f"  growth from 10 to 10,000 touches: {costs[10_000] / costs[10]:.2f}x")
    print(f"policy: admission on PostgreSQL, {args.contacts:,} contacts, batches of 500")
    async with scratch_postgres() as url:
        seconds = await admission(url, args.contacts)
    for label, taken in seconds.items():
        print(f"  {label:<26} {args.contacts / taken:>9,.0f} enrollments/s ({taken:.2f} s)")
    for label in ("six rules", "six rules and preferences"):
        print(f"  ratio {label} / no rules: {seconds['no rules'] / seconds[label]:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--contacts", type=int, default=20_000)
    asyncio.run(measure(parser.parse_args()))


if __name__ == "__main__":
    main()
