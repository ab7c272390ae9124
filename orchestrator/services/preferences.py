"""The contact's own preferences: checked against the installation (its channels, the
policy's topics), stored on the contact, and every change logged like consent.

A change is one unit of work with the contact's row locked first, the order a dispatcher
takes it in: a batch deciding for the contact ends before the change is written, and the
next batch reads the new preferences. Marketing touches queued on a channel the contact
switches off are withdrawn at once, as an unsubscribe withdraws them.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel.ext.asyncio.session import AsyncSession

from orchestrator.clock import Clock
from orchestrator.errors import InvalidInput, NotFound
from orchestrator.models import Contact, PreferenceLog
from orchestrator.models.contact import ContactPreferences, PreferenceSource
from orchestrator.policy_in_force import policy_in_force
from orchestrator.snapshots import preferences_of
from orchestrator.store.contacts import ContactStore
from orchestrator.store.preferences import PreferenceStore
from orchestrator.store.touches import TouchStore
from orchestrator.tracking import TokenSigner
from policies.local_time import first_at
from policies.preferences import Preferences
from policies.rules.preference import PREFERENCE

__all__ = [
    "PreferenceCenter",
    "PreferencePage",
    "PreferenceService",
    "current_preferences",
    "preference_problems",
]


def current_preferences(contact: Contact) -> ContactPreferences:
    """What the contact chose, its pause included."""
    chosen = preferences_of(contact) or Preferences()
    return ContactPreferences(
        channels=chosen.channels, topics=chosen.topics, paused_until=contact.paused_until
    )


def preference_problems(
    chosen: Preferences,
    channels: Collection[str],
    topics: Sequence[str],
    location: Sequence[str | int],
) -> list[dict[str, Any]]:
    """Each channel the installation does not have and each topic the policy does not
    list, at its place under `location`."""
    found: list[dict[str, Any]] = [
        {
            "loc": [*location, "channels", name],
            "msg": f"unknown channel; known: {', '.join(sorted(channels))}",
            "type": "channel",
        }
        for name in chosen.channels
        if name not in channels
    ]
    allowed = ", ".join(topics) if topics else "none (the policy lists no topics)"
    found += [
        {"loc": [*location, "topics", index], "msg": f"one of: {allowed}", "type": "topic"}
        for index, topic in enumerate(chosen.topics or [])
        if topic not in topics
    ]
    return found


def _stored(preferences: Preferences) -> dict[str, Any] | None:
    """The document kept on the contact row (None when it says nothing)."""
    if preferences.is_empty():
        return None
    return Preferences(channels=preferences.channels, topics=preferences.topics).model_dump(
        mode="json", exclude_none=True
    )


class PreferenceService:
    """Preference changes in one unit of work: the caller commits or rolls back."""

    def __init__(self, session: AsyncSession, clock: Clock, channels: Collection[str]) -> None:
        self._session = session
        self._contacts = ContactStore(session)
        self._preferences = PreferenceStore(session)
        self._clock = clock
        self._channels = channels

    async def get(self, contact_id: int) -> ContactPreferences:
        """The contact's current preferences, or NotFound."""
        return current_preferences(await self._contact(contact_id, lock=False))

    async def replace(
        self,
        contact_id: int,
        chosen: ContactPreferences,
        *,
        source: PreferenceSource,
        evidence: dict[str, Any],
        touch_id: int | None = None,
        location: Sequence[str | int] = ("body",),
    ) -> ContactPreferences:
        """Make `chosen` the contact's preferences, whole (what it leaves out, it clears)."""
        contact = await self._contact(contact_id, lock=True)
        await self._check(chosen, location)
        await self._write(contact, chosen, source, evidence, touch_id)
        return current_preferences(contact)

    async def amend(
        self,
        contact: Contact,
        given: ContactPreferences,
        *,
        source: PreferenceSource,
        evidence: dict[str, Any],
        touch_id: int | None = None,
        location: Sequence[str | int] = ("body",),
    ) -> ContactPreferences:
        """Change what `given` says and keep the rest: the channels it names, and `topics`
        and `paused_until` if it sets them (a caller records what was said on the call).
        `contact` is locked by the caller."""
        await self._check(given, location)
        before = current_preferences(contact)
        merged = ContactPreferences(
            channels={**before.channels, **given.channels},
            topics=given.topics if "topics" in given.model_fields_set else before.topics,
            paused_until=(
                given.paused_until
                if "paused_until" in given.model_fields_set
                else before.paused_until
            ),
        )
        await self._write(contact, merged, source, evidence, touch_id)
        return current_preferences(contact)

    async def _contact(self, contact_id: int, *, lock: bool) -> Contact:
        contact = await self._contacts.get(contact_id, lock=lock)
        if contact is None:
            raise NotFound(f"contact {contact_id} does not exist")
        return contact

    async def _check(self, chosen: Preferences, location: Sequence[str | int]) -> None:
        topics = (await policy_in_force(self._session)).policy.topics
        problems = preference_problems(chosen, self._channels, topics, location)
        if problems:
            count = len(problems)
            raise InvalidInput(
                f"the preferences have {count} problem{'s' if count != 1 else ''}",
                errors=problems,
            )

    async def _write(
        self,
        contact: Contact,
        chosen: ContactPreferences,
        source: PreferenceSource,
        evidence: dict[str, Any],
        touch_id: int | None,
    ) -> None:
        """Log each item that changes, store the new preferences, and withdraw the queued
        marketing touches of the channels just switched off."""
        assert contact.id is not None
        now = self._clock.now()
        before = current_preferences(contact)
        entries = [
            PreferenceLog(
                contact_id=contact.id,
                item=item,
                old=old,
                new=new,
                source=source,
                evidence=evidence,
                touch_id=touch_id,
                recorded_at=now,
            )
            for item, old, new in _changes(before, chosen)
        ]
        if not entries:
            return
        self._preferences.append(entries)
        self._preferences.set(contact, _stored(chosen), chosen.paused_until, now)
        # Written before the touches are read, as an unsubscribe does (see `withdrawals`).
        await self._session.flush()
        touches = TouchStore(self._session)
        for channel, choice in sorted(chosen.channels.items()):
            was = before.channels.get(channel)
            if not choice.allowed and (was is None or was.allowed):
                await touches.cancel_queued_marketing(
                    [contact.id],
                    channel,
                    PREFERENCE,
                    f"Withdrawn before it went out: the customer asked for nothing on {channel}.",
                    now,
                )


def _changes(before: ContactPreferences, after: ContactPreferences) -> list[tuple[str, Any, Any]]:
    """Each item that differs, with its old and new value as JSON."""
    found: list[tuple[str, Any, Any]] = []
    for channel in sorted(before.channels.keys() | after.channels.keys()):
        old, new = before.channels.get(channel), after.channels.get(channel)
        if old != new:
            found.append(
                (
                    f"channels.{channel}",
                    None if old is None else old.model_dump(mode="json", exclude_none=True),
                    None if new is None else new.model_dump(mode="json", exclude_none=True),
                )
            )
    if before.topics != after.topics:
        found.append(("topics", before.topics, after.topics))
    if before.paused_until != after.paused_until:
        found.append(("paused_until", _instant(before.paused_until), _instant(after.paused_until)))
    return found


def _instant(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


@dataclass(frozen=True)
class PreferencePage:
    """What the contact's own page shows: the installation's channels, the policy's topics,
    the contact's choices and every change it made, oldest first."""

    timezone: str
    channels: list[str]
    topics: list[str]
    chosen: ContactPreferences
    history: list[PreferenceLog]


class PreferenceCenter:
    """The contact's own page (`/p/{token}`): the token, signed for a touch, names the
    contact; reading it changes nothing, saving is one unit of work."""

    def __init__(
        self, session: AsyncSession, clock: Clock, tokens: TokenSigner, channels: Collection[str]
    ) -> None:
        self._session = session
        self._tokens = tokens
        self._channels = channels
        self._service = PreferenceService(session, clock, channels)

    async def page(self, token: str) -> PreferencePage:
        """The page of the token's contact; NotFound for a token not made here, or a
        contact erased."""
        _, contact = await self._contact(token, lock=False)
        return await self._page(contact)

    async def save(
        self, token: str, chosen: Preferences, pause_day: date | None, evidence: dict[str, Any]
    ) -> PreferencePage:
        """Make `chosen` and a pause until the start of `pause_day` (on the contact's clock)
        the contact's preferences, logged with source `preference_center` and the touch whose
        link was used; the page afterwards."""
        touch_id, contact = await self._contact(token, lock=True)
        assert contact.id is not None
        zone = ZoneInfo(contact.timezone)
        until = None if pause_day is None else first_at(pause_day, time(0), zone)
        await self._service.replace(
            contact.id,
            ContactPreferences(channels=chosen.channels, topics=chosen.topics, paused_until=until),
            source="preference_center",
            evidence=evidence,
            touch_id=touch_id,
            location=("form",),
        )
        await self._session.flush()
        return await self._page(contact)

    async def _contact(self, token: str, *, lock: bool) -> tuple[int, Contact]:
        tracked = self._tokens.read("preferences", token)
        touch = None if tracked is None else await TouchStore(self._session).get(tracked.touch_id)
        contact = None
        if touch is not None:
            contact = await ContactStore(self._session).get(touch.contact_id, lock=lock)
        if touch is None or touch.id is None or contact is None:
            raise NotFound("no such link")
        return touch.id, contact

    async def _page(self, contact: Contact) -> PreferencePage:
        assert contact.id is not None
        return PreferencePage(
            timezone=contact.timezone,
            channels=sorted(self._channels),
            topics=list((await policy_in_force(self._session)).policy.topics),
            chosen=current_preferences(contact),
            history=await PreferenceStore(self._session).log(contact.id),
        )
