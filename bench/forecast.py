"""The forecast: 10,000 contacts, 30 virtual days, a 6-step campaign beside 2 other active
campaigns, under the policy of PRODUCT.md, answered by `POST /v1/campaigns/{id}/simulate`'s
service on a SQLite live database.

The limit it is measured against is the same engine's plain run of the same enrollments on
the same SQLite tables: the campaign activated and enrolled for real, then the dispatcher
pass after pass with the clock jumping to the next due time, with no copy, no assumed
engagement and no second run. The forecast does two runs (with and without the
campaign, for collisions) on copies, with engagement, so about 2x is its floor.

    python -m bench.forecast [--contacts 10000] [--days 30]
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from app.database import create_engine, create_sessionmaker
from app.migrations import migrate
from bench.harness import activate
from channels.dm import DmChannel
from channels.email import EmailChannel
from channels.phone import PhoneChannel
from channels.sns import SnsChannel
from orchestrator.campaign_checks import parse_campaign
from orchestrator.catalog import CampaignCatalog
from orchestrator.clock import FakeClock
from orchestrator.dispatcher import Dispatcher
from orchestrator.models import Contact
from orchestrator.services.campaigns import CampaignService
from orchestrator.services.enrollments import EnrollmentRequest, EnrollmentService
from orchestrator.services.policies import PolicyService, parse_policy
from orchestrator.simulation import ForecastRequest, Scratch, forecast, in_memory_channels
from orchestrator.store.simulation import SimulationStore

START = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)  # Monday 10:00 in Tokyo
CHANNELS = {
    "email": EmailChannel(),
    "phone": PhoneChannel(),
    "dm": DmChannel(),
    "sns": SnsChannel(),
}
POLICY = {
    "weights": {"email": 1, "sns": 1, "dm": 2, "phone": 3},
    "rules": [
        {"type": "cap", "name": "weekly", "max": 4, "window": "P7D", "channels": ["*"],
         "unit": "weight"},
        {"type": "cap", "name": "one-call-a-fortnight", "max": 1, "window": "P14D",
         "channels": ["phone"]},
        {"type": "min_gap", "name": "a-day-apart", "gap": "PT24H", "channels": ["*"]},
        {"type": "quiet_hours", "name": "office-hours-calls", "channels": ["phone"],
         "allow": [{"days": ["mon", "tue", "wed", "thu", "fri"], "from": "09:00", "to": "19:00"}],
         "holidays": "JP"},
        {"type": "quiet_hours", "name": "no-night-mail", "channels": ["email", "sns"],
         "allow": [{"days": ["*"], "from": "08:00", "to": "21:00"}]},
    ],
    "consent": {"email": "opt_in", "sns": "opt_in", "phone": "opt_out", "dm": "opt_out"},
}  # fmt: skip
#: The campaign forecast: six steps, mail, a click decides a call, a second mail.
LAUNCH = {
    "name": "Mail, call the clickers, mail again",
    "priority": 60,
    "throttle": {"phone": {"max": 300, "per": "P1D"}},
    "steps": [
        {"id": "mail1", "type": "send", "channel": "email",
         "template": {"subject": "{{ contact.attributes.name }}様へ", "text": "https://example.com/g"}},
        {"id": "wait_click", "type": "wait_for_event", "timeout": "P3D",
         "cases": [{"when": {"event": "click", "step": "mail1"}, "next": "call"}],
         "on_timeout": "mail2"},
        {"id": "call", "type": "send", "channel": "phone", "template": {"script": "お電話です"}},
        {"id": "pause", "type": "wait", "duration": "P2D"},
        {"id": "mail2", "type": "send", "channel": "email",
         "template": {"subject": "ご案内", "text": "..."}},
        {"id": "end", "type": "exit"},
    ],
}  # fmt: skip
NEWSLETTER = {
    "name": "Newsletter",
    "priority": 70,
    "steps": [
        {"id": f"{kind}{n}", "type": "send", "channel": "email",
         "template": {"subject": f"News {n}", "text": "..."}}
        if kind == "issue" else {"id": f"{kind}{n}", "type": "wait", "duration": "P7D"}
        for n in range(4) for kind in ("issue", "week")
    ],
}  # fmt: skip
DM_DROP = {
    "name": "Monthly letter",
    "priority": 30,
    "steps": [
        {"id": "letter", "type": "send", "channel": "dm", "template": {"letter": "拝啓 ..."}},
        {"id": "month", "type": "wait", "duration": "P30D"},
        {"id": "letter2", "type": "send", "channel": "dm", "template": {"letter": "拝啓 ..."}},
    ],
}  # fmt: skip
ASSUME = {
    "open_rate": 0.3,
    "click_rate": 0.1,
    "outcomes": {"phone": {"interested": 0.2, "no_answer": 0.5, "not_interested": 0.3}},
    "seed": 1,
}
AUDIENCE = {"attribute": "segment", "op": "eq", "value": "trial"}


def _contact(n: int) -> dict[str, Any]:
    return {
        "id": n + 1, "external_id": f"f-{n}", "email": f"p{n}@example.jp", "locale": "ja-JP",
        "phone": f"+8190{n:08d}", "timezone": "Asia/Tokyo", "paused_until": None,
        "address": {"postal_code": "150-0001", "country": "JP", "locality": "渋谷区",
                    "line1": "神宮前1-2-3"},
        "social": {}, "attributes": {"name": f"顧客{n}", "segment": "trial"},
        "consent": {"email": "opted_in"}, "created_at": START, "updated_at": START,
        "erased_at": None,
    }  # fmt: skip


async def load(sessions: async_sessionmaker[AsyncSession], clock: FakeClock, count: int) -> int:
    """The policy, the contacts, the two running campaigns; the draft's id."""
    async with sessions.begin() as session:
        await PolicyService(session, clock).replace(parse_policy(POLICY), "bench")
        await SimulationStore(session).insert(
            Contact.__table__,  # type: ignore[attr-defined]
            [_contact(n) for n in range(count)],
        )
        catalog = CampaignCatalog()
        for definition, wanted in ((NEWSLETTER, AUDIENCE), (DM_DROP, AUDIENCE)):
            campaign_id = await activate(session, clock, definition)
            request = EnrollmentRequest.model_validate({"filter": wanted})
            await EnrollmentService(session, clock, catalog).enroll(campaign_id, request)
        draft = await CampaignService(session, clock).create(parse_campaign(LAUNCH))
        assert draft.campaign.id is not None
        return draft.campaign.id


async def plain_run(url: str, campaign_id: int, days: int) -> tuple[float, int]:
    """The limit: the campaign launched for real and the engine run, nothing else."""
    engine = create_engine(url)
    sessions = create_sessionmaker(engine)
    clock = FakeClock(START)
    channels = in_memory_channels(CHANNELS)
    catalog = CampaignCatalog()
    try:
        started = time.perf_counter()
        async with sessions.begin() as session:
            await CampaignService(session, clock).transition(campaign_id, "activate")
            request = EnrollmentRequest.model_validate({"filter": AUDIENCE})
            await EnrollmentService(session, clock, catalog).enroll(campaign_id, request)
        dispatcher = Dispatcher(sessions, clock, channels, catalog)
        until = START + timedelta(days=days)
        while True:
            await dispatcher.run_until_idle(clock.now())
            async with sessions() as session:
                due = await SimulationStore(session).next_due()
            if due is None or due >= until:
                break
            clock.set(max(due, clock.now() + timedelta(seconds=1)))
        seconds = time.perf_counter() - started
        async with sessions() as session:
            made = len(await SimulationStore(session).decisions_since(START))
        return seconds, made
    finally:
        await engine.dispose()


async def measure(args: argparse.Namespace) -> None:
    print(f"forecast: {args.contacts:,} contacts, {args.days} days, a 6-step campaign beside 2")
    with tempfile.TemporaryDirectory(prefix="kizuna-bench-forecast-") as directory:
        where = Path(directory)
        template = where / "template.db"
        await asyncio.to_thread(migrate, f"sqlite+aiosqlite:///{template}")
        live = where / "live.db"
        shutil.copy(template, live)
        url = f"sqlite+aiosqlite:///{live}"
        clock = FakeClock(START)
        engine = create_engine(url)
        try:
            campaign_id = await load(create_sessionmaker(engine), clock, args.contacts)
        finally:
            await engine.dispose()
        shutil.copy(live, where / "plain.db")

        engine = create_engine(url)
        request = ForecastRequest.model_validate(
            {"days": args.days, "audience": AUDIENCE, "assume": ASSUME}
        )
        try:
            started = time.perf_counter()
            async with create_sessionmaker(engine)() as session:
                answer = await forecast(
                    session, clock, CHANNELS, Scratch(template, create_engine), campaign_id, request
                )
            forecast_s = time.perf_counter() - started
        finally:
            await engine.dispose()
        plain_s, made = await plain_run(f"sqlite+aiosqlite:///{where / 'plain.db'}", campaign_id,
                                        args.days)  # fmt: skip
    admitted = sum(row.admitted for row in answer.daily)
    held = sum(row.deferred + row.blocked for row in answer.daily)
    print(f"  {'plain engine run (the limit)':<36} {plain_s:>7.2f} s ({made:,} touches)")
    print(f"  {'forecast (copy, 2 runs, engagement)':<36} {forecast_s:>7.2f} s "
          f"({admitted:,} admitted, {held:,} held; aim < 10 s)")  # fmt: skip
    print(f"  ratio forecast/plain: {forecast_s / plain_s:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--contacts", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=30)
    asyncio.run(measure(parser.parse_args()))


if __name__ == "__main__":
    main()
