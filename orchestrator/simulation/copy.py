"""The slice of the live tables a simulation needs, read in one transaction and written
into a scratch database: the audience's contacts (their consent is on the row), the
suppressions that guard them, their touches within the policy's longest window, their
running enrollments in every campaign with those enrollments' touches and events, and every
campaign and policy version (few, and referred to)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Table
from sqlmodel.ext.asyncio.session import AsyncSession

from orchestrator.models import (
    Campaign,
    CampaignVersion,
    Contact,
    Enrollment,
    Event,
    PolicyVersion,
    Suppression,
    Touch,
)
from orchestrator.policy_in_force import policy_in_force
from orchestrator.snapshots import address_hashes
from orchestrator.store.contacts import ContactStore
from orchestrator.store.simulation import Row, SimulationStore
from orchestrator.store.suppressions import SuppressionStore

__all__ = ["Snapshot", "read_snapshot", "write_snapshot"]


@dataclass
class Snapshot:
    """Rows by table, as read from the live database at `taken_at`."""

    taken_at: datetime
    campaigns: list[Row]
    versions: list[Row]
    policies: list[Row]
    contacts: list[Row]
    suppressions: list[Row]
    enrollments: list[Row]
    touches: list[Row]
    events: list[Row]
    policy_version: int = 0
    #: Policy versions the copy gets besides the live ones (a what-if's proposal).
    extra_policies: list[Row] = field(default_factory=list)


def _table(model: Any) -> Table:
    table: Table = model.__table__
    return table


async def read_snapshot(session: AsyncSession, contact_ids: set[int], now: datetime) -> Snapshot:
    """The slice for these contacts, consistent as of one transaction."""
    store = SimulationStore(session)
    in_force = await policy_in_force(session)
    window = in_force.policy.longest_window
    enrollments = await store.running_enrollments(contact_ids)
    enrollment_ids = {row["id"] for row in enrollments}
    touches = await store.touches(contact_ids, now - window if window else now, enrollment_ids)
    touch_ids = {row["id"] for row in touches}
    for row in touches:
        row["claimed_by_key_id"] = None  # keys stay behind
        if row["enrollment_id"] not in enrollment_ids:
            row["enrollment_id"] = None
    since = min((row["created_at"] for row in enrollments), default=None)
    events = [] if since is None else await store.events(contact_ids, since)
    for row in events:
        if row["touch_id"] not in touch_ids:
            row["touch_id"] = None
    records = await ContactStore(session).records(contact_ids)
    hashes = {h for r in records for found in address_hashes(r).values() for h in found}
    suppressions = []
    for suppression in await SuppressionStore(session).matching(contact_ids, hashes):
        row = suppression.model_dump()
        if row["contact_id"] not in contact_ids:
            row["contact_id"] = None  # another contact's, kept for its address
        suppressions.append(row)
    return Snapshot(
        taken_at=now,
        campaigns=await store.campaigns(),
        versions=await store.campaign_versions(),
        policies=await store.policy_versions(),
        contacts=await store.contacts(contact_ids),
        suppressions=suppressions,
        enrollments=enrollments,
        touches=touches,
        events=events,
        policy_version=in_force.version,
    )


async def write_snapshot(
    session: AsyncSession, snapshot: Snapshot, *, leave_out_campaign: int | None = None
) -> None:
    """Fill an empty scratch database with the slice; `leave_out_campaign`'s enrollments
    (and their touches' link to them) stay out."""
    store = SimulationStore(session)
    enrollments = [r for r in snapshot.enrollments if r["campaign_id"] != leave_out_campaign]
    kept = {row["id"] for row in enrollments}
    touches = [
        row if row["enrollment_id"] in kept else {**row, "enrollment_id": None}
        for row in snapshot.touches
    ]
    for model, rows in (
        (Campaign, snapshot.campaigns),
        (CampaignVersion, snapshot.versions),
        (PolicyVersion, snapshot.policies + snapshot.extra_policies),
        (Contact, snapshot.contacts),
        (Suppression, snapshot.suppressions),
        (Enrollment, enrollments),
        (Touch, touches),
        (Event, snapshot.events),
    ):
        await store.insert(_table(model), rows)
