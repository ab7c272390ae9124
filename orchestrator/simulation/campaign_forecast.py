"""`POST /v1/campaigns/{id}/simulate`: a campaign's forecast before (or while) it runs.

The audience's slice of the live tables is read in one short transaction and copied into
a scratch database (see `scratch`); there the real engine runs the campaign beside the
other active campaigns on a virtual clock, once with and once without it, and the two runs
are compared for collisions. The runs happen in a worker thread (`off_loop`)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from datetime import datetime, timedelta
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlmodel.ext.asyncio.session import AsyncSession

from channels.base import Channel
from orchestrator.catalog import CampaignCatalog
from orchestrator.clock import Clock, FakeClock
from orchestrator.conditions import Facts, holds
from orchestrator.definitions import CampaignDefinition, Condition
from orchestrator.errors import Conflict, InvalidInput
from orchestrator.models.checks import storable
from orchestrator.policy_in_force import policy_in_force
from orchestrator.services.campaigns import CampaignService
from orchestrator.services.enrollments import EnrollmentRequest, EnrollmentService
from orchestrator.simulation.assumptions import Assumptions, check_assumptions
from orchestrator.simulation.copy import Snapshot, read_snapshot
from orchestrator.simulation.limits import MAX_AUDIENCE, MAX_DAYS
from orchestrator.simulation.report import (
    CampaignLoss,
    Collisions,
    DayChannel,
    Decisions,
    Forecast,
    TaskLoad,
    cap_held_contacts,
    day_of,
    journeys,
    tally,
)
from orchestrator.simulation.run import RunResult, off_loop, release, run_copy
from orchestrator.simulation.scratch import Scratch
from orchestrator.snapshots import contact_fields
from orchestrator.store.contacts import ContactStore
from orchestrator.store.simulation import Row, SimulationStore

__all__ = ["ForecastRequest", "forecast"]

_PAGE = 2_000


class ForecastRequest(BaseModel):
    """What to forecast: `days` from now, for `audience` (null: the campaign's schedule
    audience, else its running enrollments), under the assumed engagement."""

    model_config = ConfigDict(extra="forbid")

    days: int = Field(default=30, ge=1, le=MAX_DAYS)
    audience: Condition | None = None
    assume: Assumptions = Field(default_factory=Assumptions)

    @model_validator(mode="before")
    @classmethod
    def _storable(cls, data: Any) -> Any:
        return storable(data)


async def forecast(
    session: AsyncSession,
    clock: Clock,
    channels: Mapping[str, Channel],
    scratch: Scratch,
    campaign_id: int,
    request: ForecastRequest,
) -> Forecast:
    """Forecast the campaign (a draft or active) over a copy of its audience.

    The request's unit of work ends (`release`) once the slice is read: the live database
    must hold no transaction, and no lock, for the seconds the engine runs in the copy."""
    check_assumptions(request.assume, channels)
    start = clock.now()
    view = await CampaignService(session, clock).get(campaign_id)
    if view.campaign.status not in ("draft", "active"):
        raise Conflict(f"a {view.campaign.status} campaign cannot be forecast")
    definition = CampaignDefinition.model_validate(view.definition)
    audience = request.audience
    if audience is None and definition.schedule is not None:
        audience = definition.schedule.audience
    contact_ids = await _audience(session, campaign_id, view.campaign.status, audience)
    snapshot = await read_snapshot(session, contact_ids, start)
    rules = (await policy_in_force(session)).policy.rules
    caps = {rule.name for rule in rules if rule.type == "cap"}
    await release(session)
    return await off_loop(
        _forecast(scratch, snapshot, channels, campaign_id, definition, audience, request, caps)
    )


async def _audience(
    session: AsyncSession, campaign_id: int, status: str, audience: Condition | None
) -> set[int]:
    """The contacts simulated: those `audience` matches (the same evaluator enrollment
    uses), else the campaign's running enrollments; at most MAX_AUDIENCE."""
    if audience is None:
        if status != "active":
            raise InvalidInput(
                "a draft without a schedule needs an audience to forecast",
                errors=[{"loc": ["body", "audience"], "msg": "give a filter", "type": "missing"}],
            )
        found = await SimulationStore(session).running_contact_ids([campaign_id])
    else:
        found = set()
        after: int | None = None
        contacts = ContactStore(session)
        while page := await contacts.page(external_id=None, after=after, limit=_PAGE):
            after = page[-1].id
            facts = (Facts(contact=contact_fields(c), consent=c.consent) for c in page)
            found.update(
                c.id for c, f in zip(page, facts, strict=True) if c.id and holds(audience, f)
            )
            if len(found) > MAX_AUDIENCE:
                break
    if len(found) > MAX_AUDIENCE:
        raise InvalidInput(
            f"the audience has more than {MAX_AUDIENCE:,} contacts, the most a forecast takes",
            errors=[
                {
                    "loc": ["body", "audience"],
                    "msg": f"at most {MAX_AUDIENCE} contacts",
                    "type": "too_many",
                }
            ],
        )
    return found


async def _forecast(
    scratch: Scratch,
    snapshot: Snapshot,
    channels: Mapping[str, Channel],
    campaign_id: int,
    definition: CampaignDefinition,
    audience: Condition | None,
    request: ForecastRequest,
    caps: set[str],
) -> Forecast:
    until = snapshot.taken_at + timedelta(days=request.days)

    async def launch(session: AsyncSession, clock: FakeClock) -> None:
        await SimulationStore(session).set_campaign_status(campaign_id, "active")
        if audience is not None:
            enrolling = EnrollmentService(session, clock, CampaignCatalog())
            await enrolling.enroll(campaign_id, EnrollmentRequest(filter=audience))

    with TemporaryDirectory(prefix="kizuna-forecast-") as directory:
        where = Path(directory)
        with_it = await run_copy(
            scratch, where, snapshot, channels, request.assume, until,
            prepare=launch, watch=campaign_id,
        )  # fmt: skip
        without = RunResult([], [])  # with no other journey running, nothing would move
        if any(row["campaign_id"] != campaign_id for row in snapshot.enrollments):
            without = await run_copy(
                scratch, where, snapshot, channels, request.assume, until,
                leave_out_campaign=campaign_id,
            )  # fmt: skip
    tasks = {name for name, channel in channels.items() if channel.mode == "task"}
    return build_forecast(snapshot, campaign_id, definition, request, with_it, without, caps, tasks)


def build_forecast(
    snapshot: Snapshot,
    campaign_id: int,
    definition: CampaignDefinition,
    request: ForecastRequest,
    with_it: RunResult,
    without: RunResult,
    caps: set[str],
    task_channels: set[str],
) -> Forecast:
    """The answer, from the run with the campaign and the run without it."""
    start = snapshot.taken_at
    ours = [row for row in with_it.touches if row["campaign_id"] == campaign_id]
    paths, states = journeys(ours, with_it.enrollments)
    return Forecast(
        campaign_id=campaign_id,
        start=start,
        end=start + timedelta(days=request.days),
        seed=request.assume.seed,
        policy_version=snapshot.policy_version,
        audience=len(snapshot.contacts),
        daily=daily(ours, start),
        tasks=_tasks(ours, start, definition, task_channels),
        collisions=_collisions(snapshot, campaign_id, with_it, without, caps),
        paths=paths,
        end_states=states,
    )


def daily(touches: list[Row], start: datetime) -> list[DayChannel]:
    """Decisions per day and channel (one campaign's touches)."""
    return [
        DayChannel(day=day, date=(start + timedelta(days=day)).date(), channel=channel,
                   **counts.model_dump())
        for (day, channel, _), counts in sorted(tally(touches, start).items(),
                                                 key=lambda kv: (kv[0][0], kv[0][1]))
    ]  # fmt: skip


def _tasks(
    touches: list[Row], start: datetime, definition: CampaignDefinition, task_channels: set[str]
) -> list[TaskLoad]:
    counted: Counter[tuple[int, str]] = Counter(
        (day_of(row["created_at"], start), row["channel"])
        for row in touches
        if row["channel"] in task_channels and row["policy_version"] is not None
        and row["status"] not in ("deferred", "blocked")
    )  # fmt: skip
    throttle = definition.throttle or {}
    loads = []
    for (day, channel), created in sorted(counted.items()):
        rule = throttle.get(channel)
        loads.append(
            TaskLoad(
                day=day,
                date=(start + timedelta(days=day)).date(),
                channel=channel,
                created=created,
                throttle_max=None if rule is None else rule.max,
                throttle_per=None if rule is None else _iso(rule.per),
            )
        )
    return loads


def _iso(span: timedelta) -> str:
    seconds = int(span.total_seconds())
    days, rest = divmod(seconds, 86_400)
    return f"P{days}D" if not rest else f"P{days}DT{rest}S" if days else f"PT{rest}S"


def _collisions(
    snapshot: Snapshot, campaign_id: int, with_it: RunResult, without: RunResult, caps: set[str]
) -> Collisions:
    pushed = cap_held_contacts(with_it.touches, caps) - cap_held_contacts(without.touches, caps)
    before = _per_campaign(without.touches)
    after = _per_campaign(with_it.touches)
    losses = []
    for campaign in snapshot.campaigns:
        other = campaign["id"]
        if other == campaign_id or (other not in before and other not in after):
            continue
        was, now = before.get(other, Decisions()), after.get(other, Decisions())
        if was == now:
            continue
        losses.append(
            CampaignLoss(
                campaign_id=other,
                name=campaign["name"],
                priority=campaign["priority"],
                admitted_without=was.admitted,
                admitted_with=now.admitted,
                lost=was.admitted - now.admitted,
                deferred_more=now.deferred - was.deferred,
                blocked_more=now.blocked - was.blocked,
            )
        )
    losses.sort(key=lambda loss: (-loss.lost, -loss.priority, loss.campaign_id))
    return Collisions(contacts_pushed_into_cap=len(pushed), campaigns=losses)


def _per_campaign(touches: list[Row]) -> dict[int, Decisions]:
    found: dict[int, Decisions] = {}
    for row in touches:
        if row["campaign_id"] is not None:
            found.setdefault(row["campaign_id"], Decisions()).add(row)
    return found
