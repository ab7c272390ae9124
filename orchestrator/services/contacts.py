"""Use cases on contacts: upsert one or many, read, erase, record consent."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlmodel.ext.asyncio.session import AsyncSession

from channels.registry import channel_names
from orchestrator.clock import Clock
from orchestrator.contact_fields import PHONE_REGION
from orchestrator.contact_validation import RowError, ValidatedRows, validate_rows
from orchestrator.errors import NotFound
from orchestrator.models import ConsentLog, Contact, ContactUpsert, Suppression
from orchestrator.models.checks import storable
from orchestrator.models.contact import ConsentStatus
from orchestrator.snapshots import address_hashes
from orchestrator.store.contacts import WRITABLE_COLUMNS, ContactStore
from orchestrator.store.suppressions import SuppressionStore
from orchestrator.store.touches import TouchStore

__all__ = [
    "MAX_BULK_ROWS",
    "BulkResult",
    "ConsentChange",
    "ContactService",
    "RowError",
]

#: The most rows one bulk request may carry.
MAX_BULK_ROWS = 10_000

#: Below this many rows a bulk request is validated in-process: a pool round trip costs more.
POOL_MIN_ROWS = 1_000

#: Columns that may not hold NULL: an explicit `null` from a client means "the default".
_EMPTY_OBJECT_COLUMNS = ("social", "attributes")


@dataclass(frozen=True)
class BulkResult:
    """What a bulk upsert did: counts, and every rejected row with its reasons."""

    received: int
    created: int
    updated: int
    errors: list[RowError]


class ConsentChange(BaseModel):
    """One entry for a contact's consent log: the new status and its proof."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    status: ConsentStatus
    source: str = Field(min_length=1, max_length=255, description="who or what recorded it")
    evidence: dict[str, Any] = Field(
        default_factory=dict, description="how: form, call recording, IP, wording shown"
    )

    @field_validator("*", mode="before")
    @classmethod
    def _storable(cls, value: Any) -> Any:
        return storable(value)


class ContactService:
    """Contacts in one unit of work: the caller commits or rolls back."""

    def __init__(
        self,
        session: AsyncSession,
        clock: Clock,
        *,
        default_timezone: str,
        pool: Executor | None = None,
        pool_size: int = 1,
    ) -> None:
        self._session = session
        self._contacts = ContactStore(session)
        self._suppressions = SuppressionStore(session)
        self._clock = clock
        self._default_timezone = default_timezone
        self._pool = pool
        self._pool_size = pool_size

    async def get(self, contact_id: int, *, lock: bool = False) -> Contact:
        """The contact, or NotFound."""
        contact = await self._contacts.get(contact_id, lock=lock)
        if contact is None:
            raise NotFound(f"contact {contact_id} does not exist")
        return contact

    async def page(
        self, *, external_id: str | None, after: int | None, limit: int
    ) -> list[Contact]:
        """Up to `limit` contacts in id order after `after` (a page of the list)."""
        return await self._contacts.page(external_id=external_id, after=after, limit=limit)

    async def upsert(self, payload: ContactUpsert) -> tuple[Contact, bool]:
        """Create or update the contact by `external_id`; True if it was created."""
        created = await self._write([payload.model_dump(exclude_unset=True)])
        contact = await self._contacts.get_by_external_id(payload.external_id)
        assert contact is not None
        return contact, created == 1

    async def bulk_upsert(self, rows: Sequence[object]) -> BulkResult:
        """Validate every row; store the good ones and report the bad ones by index.

        A row repeated in one request is merged field by field, later rows winning.
        """
        validated = await self._validate(rows)
        contacts = [contact for part in validated for contact in part.contacts]
        created = await self._write(contacts)
        unique = len({contact["external_id"] for contact in contacts})
        return BulkResult(
            received=len(rows),
            created=created,
            updated=unique - created,
            errors=[error for part in validated for error in part.errors],
        )

    async def _validate(self, rows: Sequence[object]) -> list[ValidatedRows]:
        region = PHONE_REGION.get()
        if self._pool is None or len(rows) < POOL_MIN_ROWS:
            return [validate_rows(rows, 0, region)]
        # Validation is CPU work (libphonenumber most of it): large batches are split over
        # the pool's processes, which keeps the event loop free and uses every core.
        size = -(-len(rows) // self._pool_size)
        loop = asyncio.get_running_loop()
        return await asyncio.gather(
            *(
                loop.run_in_executor(
                    self._pool, validate_rows, rows[start : start + size], start, region
                )
                for start in range(0, len(rows), size)
            )
        )

    async def _write(self, contacts: Sequence[dict[str, Any]]) -> int:
        """Upsert validated contacts (the fields each sets); the number created."""
        now = self._clock.now()
        merged: dict[str, dict[str, Any]] = {}
        for given in contacts:
            merged.setdefault(given["external_id"], {}).update(given)
        # Rows that set the same columns share one statement (a CRM export: all of them),
        # sorted by key; the statements of concurrent requests run one request at a time.
        await self._contacts.lock_upserts()
        by_shape: dict[frozenset[str], list[dict[str, Any]]] = {}
        for _, given in sorted(merged.items()):
            by_shape.setdefault(frozenset(given), []).append(self._full_row(given, now))
        created = 0
        for columns, rows in by_shape.items():
            created += await self._contacts.upsert(
                rows, update_columns=[*sorted(columns), "updated_at"]
            )
        return created

    def _full_row(self, given: dict[str, Any], now: datetime) -> dict[str, Any]:
        row: dict[str, Any] = dict.fromkeys(WRITABLE_COLUMNS)
        row.update(given)
        for column in _EMPTY_OBJECT_COLUMNS:
            if row[column] is None:
                row[column] = {}
        if row["timezone"] is None:
            row["timezone"] = self._default_timezone
        row.update(consent={}, created_at=now, updated_at=now, erased_at=None)
        return row

    async def erase(self, contact_id: int) -> None:
        """Erase a contact's personal data; what suppressed them stays, as address hashes.
        Its open touches, tasks in a worker's hands too, are withdrawn."""
        contact = await self.get(contact_id, lock=True)  # no pass queues more meanwhile
        now = self._clock.now()
        kept = [
            Suppression(
                channel=channel,
                address_hash=hashed,
                reason=suppression.reason,
                source="erasure",
                created_at=now,
            )
            for suppression in await self._contacts.contact_suppressions(contact_id)
            for channel, hashes in address_hashes(contact).items()
            if suppression.channel in ("*", channel)
            for hashed in hashes
        ]
        await self._suppressions.add_many(kept)
        await TouchStore(self._session).cancel_open(
            "contact_id", [contact_id], "contact erased", now, claimed_too=True
        )
        await self._contacts.erase(contact_id, now)

    async def record_consent(
        self, contact_id: int, channel: str, change: ConsentChange
    ) -> ConsentLog:
        """Append to the consent log and make it the contact's current consent for `channel`."""
        if channel not in channel_names():
            known = ", ".join(sorted(channel_names()))
            raise NotFound(f"no channel {channel!r}; known: {known}")
        contact = await self.get(contact_id)
        now = self._clock.now()
        entry = ConsentLog(
            contact_id=contact_id,
            channel=channel,
            status=change.status,
            source=change.source,
            evidence=change.evidence,
            recorded_at=now,
        )
        self._contacts.append_consent(entry)
        self._contacts.set_consent(contact, channel, change.status, now)
        return entry
