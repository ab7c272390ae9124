"""All SQL about contacts, their consent log and suppressions."""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any, Protocol, cast

from sqlalchemy import func, literal_column, update
from sqlalchemy import select as select_columns
from sqlmodel import col
from sqlmodel import select as select_model
from sqlmodel.ext.asyncio.session import AsyncSession

from orchestrator.models import (
    ConsentLog,
    Contact,
    Enrollment,
    Event,
    PreferenceLog,
    Suppression,
    Touch,
)
from orchestrator.models.contact import ContactBase
from orchestrator.store.dialect import insert, insert_unnested, is_postgresql, one_of

__all__ = ["ContactRecord", "ContactStore"]

#: Columns a client may set; the rest belong to Kizuna.
WRITABLE_COLUMNS = tuple(ContactBase.model_fields)

#: What erasure leaves of the client's columns: each back to its default. The time zone,
#: which has none (the column takes no NULL), stays.
_ERASED = {
    name: field.get_default(call_default_factory=True)
    for name, field in ContactBase.model_fields.items()
    if not field.is_required()
}

_contact = Contact.__table__  # type: ignore[attr-defined]


class ContactRecord(Protocol):
    """A contact as the engine reads it, by the hundred: a tuple, not an ORM object.

    It has every column but the timestamps; these are the ones read by name, the profile
    is read by `ContactProfile`'s field names.
    """

    @property
    def id(self) -> int: ...
    @property
    def timezone(self) -> str: ...
    @property
    def paused_until(self) -> datetime | None: ...
    @property
    def consent(self) -> dict[str, str]: ...
    @property
    def erased_at(self) -> datetime | None: ...
    @property
    def preferences(self) -> dict[str, Any] | None: ...


_RECORD_FIELDS = ("id", *ContactBase.model_fields, "consent", "preferences", "erased_at")
_RECORD_COLUMNS = [_contact.c[name] for name in _RECORD_FIELDS]
# The record's tuple is made from the model family, so a new contact field reaches the
# engine without an edit here. mypy cannot follow a computed list of fields (the ignore):
# `ContactRecord` types the columns the engine reads by name.
_Record = namedtuple("ContactRecord", _RECORD_FIELDS)  # type: ignore[misc]

#: The advisory lock key of contact upserts.
_UPSERT_LOCK = 0x4B5A4354


class ContactStore:
    """Reads and writes contacts in the session's transaction; never commits."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, contact_id: int, *, lock: bool = False) -> Contact | None:
        """The contact with this id, unless it was erased; its row locked if asked (the lock
        a dispatcher's claim takes, so the two cannot interleave)."""
        contact = await self._session.get(
            Contact, contact_id, with_for_update=lock or None, populate_existing=lock
        )
        return None if contact is None or contact.erased_at is not None else contact

    async def many(self, contact_ids: Collection[int]) -> list[Contact]:
        """These contacts (erased ones too: the caller decides), in one query."""
        if not contact_ids:
            return []
        result = await self._session.exec(
            select_model(Contact).where(one_of(self._session, col(Contact.id), contact_ids))
        )
        return list(result)

    async def records(self, contact_ids: Collection[int]) -> list[ContactRecord]:
        """These contacts (erased ones too) as plain records, in one query."""
        if not contact_ids:
            return []
        query = select_columns(*_RECORD_COLUMNS).where(
            one_of(self._session, _contact.c.id, contact_ids)
        )
        # sqlmodel's `exec` is typed for up to four columns; this reads them all.
        result = await self._session.exec(query)  # type: ignore[call-overload]
        return cast("list[ContactRecord]", [_Record._make(row) for row in result.all()])

    async def get_by_external_id(self, external_id: str) -> Contact | None:
        """The contact the CRM knows by `external_id`."""
        result = await self._session.exec(
            select_model(Contact).where(col(Contact.external_id) == external_id)
        )
        return result.first()

    async def page(
        self, *, external_id: str | None, after: int | None, limit: int
    ) -> list[Contact]:
        """Live contacts in id order after `after`, optionally only the one with `external_id`."""
        query = select_model(Contact).where(col(Contact.erased_at).is_(None))
        if external_id is not None:
            query = query.where(col(Contact.external_id) == external_id)
        if after is not None:
            query = query.where(col(Contact.id) > after)
        result = await self._session.exec(query.order_by(col(Contact.id)).limit(limit))
        return list(result)

    async def ids_by_external_id(self, external_ids: Collection[str]) -> dict[str, int]:
        """Which of `external_ids` exist already, with their ids."""
        if not external_ids:
            return {}
        result = await self._session.exec(
            select_model(Contact.external_id, Contact.id).where(
                one_of(self._session, col(Contact.external_id), external_ids)
            )
        )
        return {
            external_id: contact_id
            for external_id, contact_id in result
            if external_id is not None and contact_id is not None
        }

    async def lock_upserts(self) -> None:
        """Let one transaction at a time write contacts by external id (PostgreSQL).

        A request writes in several statements (one per set of columns) and two requests
        may hold each other's rows in turn; one at a time, they cannot. Validation, the
        slow part, is done before this.
        """
        if is_postgresql(self._session):
            await self._session.exec(select_model(func.pg_advisory_xact_lock(_UPSERT_LOCK)))

    async def upsert(self, rows: Sequence[dict[str, Any]], update_columns: Collection[str]) -> int:
        """Insert `rows` (each with the same columns), or set `update_columns` where
        `external_id` exists; the number inserted.

        One statement for the batch; the database resolves races on `external_id`.
        """
        if not rows:
            return 0
        if is_postgresql(self._session):
            return await self._upsert_postgresql(rows, update_columns)
        statement = insert(self._session, _contact)
        statement = statement.on_conflict_do_update(
            index_elements=[_contact.c.external_id],
            set_={column: statement.excluded[column] for column in update_columns},
        )
        # The transaction holds SQLite's write lock since BEGIN IMMEDIATE, so what exists
        # now is what exists when the statement runs.
        existing = await self.ids_by_external_id([row["external_id"] for row in rows])
        await self._session.exec(statement, params=list(rows))
        return len(rows) - len(existing)

    async def _upsert_postgresql(
        self, rows: Sequence[dict[str, Any]], update_columns: Collection[str]
    ) -> int:
        # One statement for the batch, however large (see `insert_unnested`).
        statement = insert_unnested(_contact, rows)
        statement = statement.on_conflict_do_update(
            index_elements=[_contact.c.external_id],
            set_={column: statement.excluded[column] for column in update_columns},
        )
        # xmax is 0 on a row version this statement inserted, not on one it updated.
        result = await self._session.exec(statement.returning(literal_column("xmax = 0")))
        return sum(1 for (inserted,) in result if inserted)

    async def erase(self, contact_id: int, now: datetime) -> None:
        """Remove every personal field of the contact, and of what was sent to it or heard
        from it (rendered messages, call notes, event data); end its enrollments."""
        await self._session.exec(
            update(_contact)
            .where(_contact.c.id == contact_id)
            .values({**_ERASED, "preferences": None, "updated_at": now, "erased_at": now})
        )
        for log in (ConsentLog, PreferenceLog):
            await self._session.exec(
                update(log)
                .where(col(log.contact_id) == contact_id)
                .values(evidence={"erased": True})
            )
        await self._session.exec(
            update(Touch)
            .where(col(Touch.contact_id) == contact_id)
            .values(content={}, outcome_data=None, error=None)
        )
        await self._session.exec(
            update(Event).where(col(Event.contact_id) == contact_id).values(data={"erased": True})
        )
        await self._session.exec(
            update(Enrollment)
            .where(
                col(Enrollment.contact_id) == contact_id,
                col(Enrollment.state).in_(("active", "paused")),
            )
            .values(
                state="exited",
                exit_reason="erased",
                next_action_at=None,
                updated_at=now,
                finished_at=now,
            )
        )

    def set_consent(self, contact: Contact, channel: str, status: str, now: datetime) -> None:
        """Mirror the newest consent of `channel` on the contact row."""
        contact.consent = {**contact.consent, channel: status}
        contact.updated_at = now
        self._session.add(contact)

    def append_consent(self, entry: ConsentLog) -> None:
        """Add an entry to the append-only consent log."""
        self._session.add(entry)

    async def consent_log(self, contact_id: int) -> list[ConsentLog]:
        """The contact's consent log, oldest first."""
        result = await self._session.exec(
            select_model(ConsentLog)
            .where(col(ConsentLog.contact_id) == contact_id)
            .order_by(col(ConsentLog.recorded_at), col(ConsentLog.id))
        )
        return list(result)

    async def contact_suppressions(self, contact_id: int) -> list[Suppression]:
        """Suppressions recorded against the contact itself (not an address)."""
        result = await self._session.exec(
            select_model(Suppression).where(col(Suppression.contact_id) == contact_id)
        )
        return list(result)
