"""`POST /v1/policy/simulate`: every active campaign under the policy in force and under a
proposed one, side by side. Both runs start from the same copy of the live tables (see
`copy` and `scratch`), on the same virtual clock and seed; the proposed policy exists only
in its run's scratch database."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from tempfile import TemporaryDirectory

from pydantic import BaseModel, ConfigDict, Field
from sqlmodel.ext.asyncio.session import AsyncSession

from channels.base import Channel
from orchestrator.clock import Clock
from orchestrator.errors import InvalidInput
from orchestrator.policy_in_force import policy_document
from orchestrator.simulation.assumptions import Assumptions, check_assumptions
from orchestrator.simulation.copy import Snapshot, read_snapshot
from orchestrator.simulation.limits import MAX_AUDIENCE, MAX_DAYS
from orchestrator.simulation.report import (
    Decisions,
    PressureChange,
    SideBySide,
    WhatIf,
    tally,
)
from orchestrator.simulation.run import RunResult, off_loop, release, run_copy
from orchestrator.simulation.scratch import Scratch
from orchestrator.store.simulation import Row, SimulationStore
from policies import Policy

__all__ = ["WhatIfOptions", "what_if"]

_EXAMPLES = 10


class WhatIfOptions(BaseModel):
    """How long to look ahead, and the assumed engagement (the same for both policies)."""

    model_config = ConfigDict(extra="forbid")

    days: int = Field(default=14, ge=1, le=MAX_DAYS)
    assume: Assumptions = Field(default_factory=Assumptions)


async def what_if(
    session: AsyncSession,
    clock: Clock,
    channels: Mapping[str, Channel],
    scratch: Scratch,
    proposed: Policy,
    options: WhatIfOptions,
) -> WhatIf:
    """Run the active campaigns under both policies; `proposed` is never stored live. The
    request's unit of work ends once the slice is read (see `forecast`)."""
    check_assumptions(options.assume, channels)
    start = clock.now()
    store = SimulationStore(session)
    active = [row["id"] for row in await store.campaigns() if row["status"] == "active"]
    contact_ids = await store.running_contact_ids(active)
    if len(contact_ids) > MAX_AUDIENCE:
        raise InvalidInput(
            f"{len(contact_ids):,} contacts have running enrollments; a what-if takes at "
            f"most {MAX_AUDIENCE:,}",
            errors=[{"loc": ["body"], "msg": f"at most {MAX_AUDIENCE}", "type": "too_many"}],
        )
    snapshot = await read_snapshot(session, contact_ids, start)
    external = await store.external_ids(contact_ids)
    await release(session)
    return await off_loop(_what_if(scratch, snapshot, channels, proposed, options, external))


async def _what_if(
    scratch: Scratch,
    snapshot: Snapshot,
    channels: Mapping[str, Channel],
    proposed: Policy,
    options: WhatIfOptions,
    external: dict[int, str | None],
) -> WhatIf:
    until = snapshot.taken_at + timedelta(days=options.days)
    stored = {
        "version": max((row["version"] for row in snapshot.policies), default=0) + 1,
        "document": policy_document(proposed),
        "created_by": "what-if",
        "created_at": snapshot.taken_at,
    }
    trial = Snapshot(**{**snapshot.__dict__, "extra_policies": [stored]})
    with TemporaryDirectory(prefix="kizuna-what-if-") as directory:
        where = Path(directory)
        current = await run_copy(scratch, where, snapshot, channels, options.assume, until)
        changed = await run_copy(scratch, where, trial, channels, options.assume, until)
    return compare(snapshot, options, current, changed, external)


def compare(
    snapshot: Snapshot,
    options: WhatIfOptions,
    current: RunResult,
    proposed: RunResult,
    external: dict[int, str | None],
) -> WhatIf:
    """The two runs side by side, and the contacts whose pressure differs."""
    start = snapshot.taken_at
    names = {row["id"]: row["name"] for row in snapshot.campaigns}
    before, after = tally(current.touches, start), tally(proposed.touches, start)
    rows = [
        SideBySide(
            day=day,
            date=(start + timedelta(days=day)).date(),
            channel=channel,
            campaign_id=campaign,
            campaign_name=names.get(campaign) if campaign is not None else None,
            current=before.get((day, channel, campaign), Decisions()),
            proposed=after.get((day, channel, campaign), Decisions()),
        )
        for day, channel, campaign in sorted(
            before.keys() | after.keys(), key=lambda key: (key[0], key[1], key[2] or 0)
        )
    ]
    was, now = _pressure(current.touches), _pressure(proposed.touches)
    differing = sorted(
        (contact for contact in was.keys() | now.keys() if was.get(contact) != now.get(contact)),
        key=lambda contact: (-abs(_points(now, contact) - _points(was, contact)), contact),
    )
    return WhatIf(
        start=start,
        end=start + timedelta(days=options.days),
        seed=options.assume.seed,
        current_version=snapshot.policy_version,
        contacts=len(snapshot.contacts),
        rows=rows,
        pressure_changed=len(differing),
        examples=[
            PressureChange(
                contact_id=contact,
                external_id=external.get(contact),
                current_touches=was.get(contact, (0, 0.0))[0],
                proposed_touches=now.get(contact, (0, 0.0))[0],
                current_points=was.get(contact, (0, 0.0))[1],
                proposed_points=now.get(contact, (0, 0.0))[1],
            )
            for contact in differing[:_EXAMPLES]
        ],
    )


def _pressure(touches: list[Row]) -> dict[int, tuple[int, float]]:
    """Each contact's admitted touches and their points."""
    found: dict[int, tuple[int, float]] = {}
    for row in touches:
        if row["status"] in ("deferred", "blocked") or row["policy_version"] is None:
            continue
        count, points = found.get(row["contact_id"], (0, 0.0))
        found[row["contact_id"]] = (count + 1, points + row["weight"])
    return found


def _points(found: dict[int, tuple[int, float]], contact: int) -> float:
    return found.get(contact, (0, 0.0))[1]
