"""All SQL of provider webhooks: receipts, and finding the touches and contacts they name."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import func, or_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from orchestrator.models import Contact, Event, Touch, WebhookReceipt
from orchestrator.store.dialect import insert, one_of

__all__ = ["WebhookStore"]

_receipt = WebhookReceipt.__table__  # type: ignore[attr-defined]


class WebhookStore:
    """Reads and writes in the session's transaction; never commits."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def take_receipts(self, provider: str, keys: Collection[str], now: datetime) -> set[str]:
        """Record the keys; those not recorded before (the others are redeliveries)."""
        if not keys:
            return set()
        statement = (
            insert(self._session, _receipt)
            .values([{"provider": provider, "key": key, "received_at": now} for key in keys])
            .on_conflict_do_nothing(index_elements=[_receipt.c.provider, _receipt.c.key])
            .returning(_receipt.c.key)
        )
        return set((await self._session.exec(statement)).scalars())

    async def touches_by_message_id(
        self, channel: str, message_ids: Collection[str], idempotency_keys: Collection[str]
    ) -> list[Touch]:
        """The channel's touches sent with one of these Message-IDs, or whose keys they are
        derived from (a touch whose send is not recorded yet)."""
        if not message_ids and not idempotency_keys:
            return []
        result = await self._session.exec(
            select(Touch).where(
                col(Touch.channel) == channel,
                or_(
                    one_of(self._session, col(Touch.message_id), message_ids),
                    one_of(self._session, col(Touch.idempotency_key), idempotency_keys),
                ),
            )
        )
        return list(result)

    async def contacts_by_email(self, emails: Collection[str]) -> list[Contact]:
        """The live contacts with one of these addresses."""
        if not emails:
            return []
        result = await self._session.exec(
            select(Contact).where(
                one_of(self._session, col(Contact.email), emails),
                col(Contact.erased_at).is_(None),
            )
        )
        return list(result)

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
