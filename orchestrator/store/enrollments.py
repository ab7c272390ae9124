"""All SQL about enrollments: the dispatcher's claim, positions, wakes, new enrollments."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Any, NamedTuple, TypedDict

from sqlalchemy import func, text, update
from sqlalchemy import select as select_columns
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from orchestrator.models import Contact, Enrollment
from orchestrator.store.dialect import insert, is_postgresql, one_of, update_by_id

__all__ = ["DueEnrollment", "EnrollmentPosition", "EnrollmentStore"]

_enrollment = Enrollment.__table__  # type: ignore[attr-defined]
_contact = Contact.__table__  # type: ignore[attr-defined]


class DueEnrollment(NamedTuple):
    """An enrollment as the dispatcher reads it: the columns of a claim, as a plain tuple
    (a batch reads hundreds; ORM objects would cost more than the pass itself)."""

    id: int
    campaign_id: int
    campaign_version: int
    contact_id: int
    step_id: str
    step_entered_at: datetime
    step_seq: int
    attempt: int
    awaiting_event: bool
    next_action_at: datetime
    created_at: datetime


_DUE_COLUMNS = [_enrollment.c[name] for name in DueEnrollment._fields]


class EnrollmentPosition(TypedDict):
    """Where an enrollment is after a dispatcher's pass: the columns the pass changes."""

    id: int
    state: str
    step_id: str | None
    step_entered_at: datetime
    step_seq: int
    attempt: int
    awaiting_event: bool
    next_action_at: datetime | None
    exit_reason: str | None
    finished_at: datetime | None
    updated_at: datetime


class EnrollmentStore:
    """Reads and writes enrollments in the session's transaction; never commits."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def claim_due(self, now: datetime, limit: int) -> list[DueEnrollment]:
        """Lock the contacts of the earliest due enrollments and take *all* their due ones.

        The unit of a claim is the contact: touches that compete for one person are judged
        together, whichever process claims them. On PostgreSQL the contact rows stay locked
        (`SKIP LOCKED` lets other dispatchers pass them by) until the transaction ends; a
        crashed dispatcher's locks go with its connection. SQLite's single writer needs none.

        Enrollments that waited for an event come first: the event (a click, a call's
        outcome) made them due now, and a reaction must not queue behind thousands of
        enrollments due by time before it.
        """
        contact_ids = await self._due_contacts(now, limit, waiting_first=True)
        if len(contact_ids) < limit:
            contact_ids |= await self._due_contacts(now, limit - len(contact_ids))
        if not contact_ids:
            return []
        query = select_columns(*_DUE_COLUMNS).where(
            one_of(self._session, _enrollment.c.contact_id, contact_ids),
            _enrollment.c.state == "active",
            _enrollment.c.next_action_at <= now,
        )
        if is_postgresql(self._session):
            # Lock the enrollments too: a pause or archive committed meanwhile is seen here
            # (the row is read again), and one arriving later waits for this batch to end
            # instead of being overwritten by it.
            query = query.with_for_update(of=_enrollment, key_share=True)
        # sqlmodel's `exec` is typed for up to four columns; this reads eleven.
        result = await self._session.exec(query)  # type: ignore[call-overload]
        return [DueEnrollment(*row) for row in result.all()]

    async def _due_contacts(
        self, now: datetime, limit: int, *, waiting_first: bool = False
    ) -> set[int]:
        """The contacts of up to `limit` due enrollments, earliest due first (of those
        waiting for an event only, with `waiting_first`), locked on PostgreSQL."""
        where = [_enrollment.c.state == "active", _enrollment.c.next_action_at <= now]
        if waiting_first:
            where.append(_enrollment.c.awaiting_event.is_(True))
        due = (
            select(_enrollment.c.contact_id)
            .where(*where)
            .order_by(_enrollment.c.next_action_at)
            .limit(limit)
        )
        if is_postgresql(self._session):
            due = due.join(_contact, _contact.c.id == _enrollment.c.contact_id).with_for_update(
                of=_contact, skip_locked=True
            )
        return set((await self._session.exec(due)).all())

    async def save_positions(self, rows: Sequence[EnrollmentPosition]) -> None:
        """Store where each enrollment now is."""
        await update_by_id(self._session, _enrollment, rows)

    async def wake(self, contact_ids: Collection[int], now: datetime) -> int:
        """Make the contacts' enrollments that wait for an event due now; how many."""
        if not contact_ids:
            return 0
        result = await self._session.exec(
            update(_enrollment)
            .where(
                one_of(self._session, _enrollment.c.contact_id, contact_ids),
                _enrollment.c.state == "active",
                _enrollment.c.awaiting_event.is_(True),
            )
            .values(next_action_at=now, updated_at=now)
        )
        return int(result.rowcount)

    async def running_for_contacts(self, contact_ids: Collection[int]) -> list[Enrollment]:
        """The contacts' running enrollments (active or paused with their campaign)."""
        if not contact_ids:
            return []
        result = await self._session.exec(
            select(Enrollment).where(
                one_of(self._session, col(Enrollment.contact_id), contact_ids),
                col(Enrollment.state).in_(("active", "paused")),
            )
        )
        return list(result)

    async def finish(self, ids: Collection[int], state: str, reason: str, now: datetime) -> None:
        """End these enrollments (a goal reached, the campaign archived)."""
        if ids:
            await self._session.exec(
                update(_enrollment)
                .where(_enrollment.c.id.in_(list(ids)))
                .values(
                    state=state,
                    exit_reason=reason,
                    next_action_at=None,
                    awaiting_event=False,
                    updated_at=now,
                    finished_at=now,
                )
            )

    async def set_campaign_state(
        self, campaign_id: int, from_state: str, to_state: str, now: datetime
    ) -> None:
        """Pause or resume every running enrollment of a campaign."""
        await self._session.exec(
            update(_enrollment)
            .where(_enrollment.c.campaign_id == campaign_id, _enrollment.c.state == from_state)
            .values(state=to_state, updated_at=now)
        )

    async def finish_campaign(self, campaign_id: int, reason: str, now: datetime) -> None:
        """End every running enrollment of a campaign."""
        await self._session.exec(
            update(_enrollment)
            .where(
                _enrollment.c.campaign_id == campaign_id,
                _enrollment.c.state.in_(("active", "paused")),
            )
            .values(
                state="exited",
                exit_reason=reason,
                next_action_at=None,
                awaiting_event=False,
                updated_at=now,
                finished_at=now,
            )
        )

    async def any_for_campaign(self, campaign_id: int) -> bool:
        """Whether the campaign has enrolled anyone, ever."""
        result = await self._session.exec(
            select(_enrollment.c.id).where(_enrollment.c.campaign_id == campaign_id).limit(1)
        )
        return result.first() is not None

    async def history_for_reentry(
        self, campaign_id: int, contact_ids: Collection[int]
    ) -> dict[int, tuple[bool, datetime | None]]:
        """For each contact enrolled before: (running now?, when its last enrollment ended)."""
        if not contact_ids:
            return {}
        running = func.max(
            _enrollment.c.state.in_(("active", "paused")).cast(_enrollment.c.step_seq.type)
        )
        result = await self._session.exec(
            select(_enrollment.c.contact_id, running, func.max(_enrollment.c.finished_at))
            .where(
                _enrollment.c.campaign_id == campaign_id,
                one_of(self._session, _enrollment.c.contact_id, contact_ids),
            )
            .group_by(_enrollment.c.contact_id)
        )
        return {contact_id: (bool(active), ended) for contact_id, active, ended in result}

    async def start(self, rows: Sequence[Mapping[str, Any]]) -> set[int]:
        """Start enrollments (all rows with the same columns); a contact already running the
        campaign is left alone. The contacts whose enrollment began."""
        if not rows:
            return set()
        statement = (
            insert(self._session, _enrollment)
            .on_conflict_do_nothing(
                index_elements=[_enrollment.c.campaign_id, _enrollment.c.contact_id],
                index_where=text("state IN ('active', 'paused')"),
            )
            .returning(_enrollment.c.contact_id)
        )
        result = await self._session.exec(statement, params=list(rows))
        return {int(contact_id) for (contact_id,) in result.all()}

    async def counts_by_state(self, campaign_id: int) -> dict[str, int]:
        """How many enrollments of the campaign are in each state."""
        result = await self._session.exec(
            select(_enrollment.c.state, func.count())
            .where(_enrollment.c.campaign_id == campaign_id)
            .group_by(_enrollment.c.state)
        )
        return {str(state): int(count) for state, count in result.all()}

    async def counts_by_step(self, campaign_id: int) -> dict[str, int]:
        """How many running enrollments of the campaign stand on each step."""
        result = await self._session.exec(
            select(_enrollment.c.step_id, func.count())
            .where(
                _enrollment.c.campaign_id == campaign_id,
                _enrollment.c.state.in_(("active", "paused")),
            )
            .group_by(_enrollment.c.step_id)
        )
        return {str(step): int(count) for step, count in result.all()}
