"""All SQL of provider webhooks: receipts, and finding the touches and contacts they name."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import func, union
from sqlalchemy import select as select_columns
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.dml import ReturningInsert
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from orchestrator.models import Contact, Event, Touch, WebhookReceipt
from orchestrator.store.dialect import is_postgresql, one_of, unnest_columns, unnest_params

__all__ = ["TouchRef", "WebhookStore"]

_receipt = WebhookReceipt.__table__  # type: ignore[attr-defined]
_touch = Touch.__table__  # type: ignore[attr-defined]
_contact = Contact.__table__  # type: ignore[attr-defined]


class TouchRef(NamedTuple):
    """What matching an event to its touch needs of the touch."""

    id: int
    contact_id: int
    message_id: str | None
    idempotency_key: str


def _take_receipts_postgresql() -> ReturningInsert[str]:
    """`INSERT ... SELECT FROM unnest(...)` of receipts, built once: one plan whatever the
    batch size, and no statement to build and key for each request."""
    names = ["provider", "key", "received_at"]
    batch = unnest_columns(_receipt, names, "receipts")
    return (
        postgresql.insert(_receipt)
        .from_select(names, select_columns(*(batch.c[name] for name in names)))
        .on_conflict_do_nothing(index_elements=[_receipt.c.provider, _receipt.c.key])
        .returning(_receipt.c.key)
    )


_TAKE_RECEIPTS_POSTGRESQL = _take_receipts_postgresql()


class WebhookStore:
    """Reads and writes in the session's transaction; never commits."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def take_receipts(self, provider: str, keys: Collection[str], now: datetime) -> set[str]:
        """Record the keys; those not recorded before (the others are redeliveries)."""
        if not keys:
            return set()
        # In one order, whoever inserts: two requests redelivering the same events in other
        # orders would otherwise each wait for a key the other holds.
        rows = [{"provider": provider, "key": key, "received_at": now} for key in sorted(keys)]
        if is_postgresql(self._session):
            result = await self._session.exec(
                _TAKE_RECEIPTS_POSTGRESQL, params=unnest_params(rows, "receipts")
            )
        else:
            result = await self._session.exec(
                sqlite.insert(_receipt)
                .values(rows)
                .on_conflict_do_nothing(index_elements=[_receipt.c.provider, _receipt.c.key])
                .returning(_receipt.c.key)
            )
        return set(result.scalars())

    async def touches_by_message_id(
        self, channel: str, message_ids: Collection[str], idempotency_keys: Collection[str]
    ) -> list[TouchRef]:
        """The channel's touches sent with one of these Message-IDs, or whose keys they are
        derived from (a touch whose send is not recorded yet)."""
        if not message_ids and not idempotency_keys:
            return []
        columns = (_touch.c.id, _touch.c.contact_id, _touch.c.message_id, _touch.c.idempotency_key)
        by_message_id = one_of(self._session, _touch.c.message_id, message_ids)
        by_key = one_of(self._session, _touch.c.idempotency_key, idempotency_keys)
        # Two lookups, each by its own index, whatever the planner guesses of an OR of them.
        found = union(
            select(*columns).where(_touch.c.channel == channel, by_message_id),
            select(*columns).where(_touch.c.channel == channel, by_key),
        ).subquery()
        result = await self._session.exec(select(*found.c))
        return [TouchRef(*row) for row in result.all()]

    async def contacts_by_id_or_email(
        self, contact_ids: Collection[int], emails: Collection[str]
    ) -> list[tuple[int, str | None]]:
        """(id, email) of the live contacts with one of these ids or addresses."""
        if not contact_ids and not emails:
            return []
        columns = (_contact.c.id, _contact.c.email)
        live = _contact.c.erased_at.is_(None)
        found = union(
            select(*columns).where(one_of(self._session, _contact.c.id, contact_ids), live),
            select(*columns).where(one_of(self._session, _contact.c.email, emails), live),
        ).subquery()
        result = await self._session.exec(select(found.c.id, found.c.email))
        return [(int(contact_id), email) for contact_id, email in result.all()]

    async def latest_outcomes(
        self, contact_ids: Collection[int], types: Collection[str], each: int
    ) -> dict[int, list[Event]]:
        """Each contact's `each` newest events of these types, newest first, in one query."""
        if not contact_ids:
            return {}
        newest_first = (col(Event.occurred_at).desc(), col(Event.id).desc())
        rank = func.row_number().over(partition_by=col(Event.contact_id), order_by=newest_first)
        ranked = (
            select(col(Event.id), rank.label("rank"))
            .where(
                one_of(self._session, col(Event.contact_id), contact_ids),
                one_of(self._session, col(Event.type), types),
            )
            .subquery()
        )
        result = await self._session.exec(
            select(Event)
            .join(ranked, ranked.c.id == col(Event.id))
            .where(ranked.c.rank <= each)
            .order_by(col(Event.contact_id), *newest_first)
        )
        latest: dict[int, list[Event]] = {}
        for event in result:
            latest.setdefault(event.contact_id, []).append(event)
        return latest
