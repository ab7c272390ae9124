"""Enrolling contacts into a campaign: by ids, by external ids, or by an audience filter."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlmodel.ext.asyncio.session import AsyncSession

from orchestrator.catalog import CampaignCatalog
from orchestrator.clock import Clock
from orchestrator.conditions import Facts, holds
from orchestrator.definitions import CampaignDefinition, Condition, Cooldown
from orchestrator.errors import Conflict, NotFound
from orchestrator.models import Campaign, Contact
from orchestrator.models.checks import storable
from orchestrator.snapshots import contact_fields
from orchestrator.store.campaigns import CampaignStore
from orchestrator.store.contacts import ContactStore
from orchestrator.store.enrollments import EnrollmentStore
from orchestrator.store.signals import notify_dispatchers

__all__ = ["EnrollmentRequest", "EnrollmentResult", "EnrollmentService", "Skipped"]

#: Contacts read and enrolled per round trip when working through a long list or a filter.
_CHUNK = 2_000
MAX_LISTED = 10_000


class EnrollmentRequest(BaseModel):
    """Whom to enroll: exactly one of the three ways."""

    model_config = ConfigDict(extra="forbid")

    contact_ids: list[Annotated[int, Field(ge=1, le=2**63 - 1)]] | None = Field(
        default=None, min_length=1, max_length=MAX_LISTED
    )
    external_ids: list[Annotated[str, Field(min_length=1, max_length=255)]] | None = Field(
        default=None, min_length=1, max_length=MAX_LISTED
    )
    filter: Condition | None = None

    @model_validator(mode="before")
    @classmethod
    def _storable(cls, data: Any) -> Any:
        return storable(data)

    @model_validator(mode="after")
    def _one_way(self) -> EnrollmentRequest:
        given = [self.contact_ids, self.external_ids, self.filter]
        if sum(way is not None for way in given) != 1:
            raise ValueError("give exactly one of `contact_ids`, `external_ids` and `filter`")
        return self


@dataclass(frozen=True)
class Skipped:
    """A contact that was not enrolled, and why."""

    reason: str
    contact_id: int | None = None
    external_id: str | None = None


@dataclass
class EnrollmentResult:
    """How many enrollments began, and every contact left out with the reason."""

    enrolled: int = 0
    skipped: list[Skipped] = field(default_factory=list)


class EnrollmentService:
    """Enrollments in one unit of work: the caller commits or rolls back."""

    def __init__(self, session: AsyncSession, clock: Clock, catalog: CampaignCatalog) -> None:
        self._session = session
        self._campaigns = CampaignStore(session)
        self._contacts = ContactStore(session)
        self._enrollments = EnrollmentStore(session)
        self._catalog = catalog
        self._clock = clock

    async def enroll(self, campaign_id: int, request: EnrollmentRequest) -> EnrollmentResult:
        """Start the campaign's current version for these contacts, following its re-entry
        rule. A filter is worked through in chunks, however many contacts match."""
        campaign = await self._campaigns.get(campaign_id)
        if campaign is None:
            raise NotFound(f"campaign {campaign_id} does not exist")
        if campaign.status not in ("active", "paused"):
            raise Conflict(f"a {campaign.status} campaign takes no enrollments; activate it first")
        assert campaign.id is not None
        key = (campaign.id, campaign.current_version)
        definition = (await self._catalog.get_many(self._session, [key]))[key]
        result = EnrollmentResult()
        # A campaign's first enrollments (the big wave) have no history to check: the
        # contacts of one request are distinct, and the running-enrollment index catches races.
        known = await self._enrollments.any_for_campaign(campaign.id)
        async for chunk, skipped in self._chunks(request):
            result.skipped += skipped
            await self._enroll_chunk(campaign, definition, chunk, result, check_history=known)
        if result.enrolled:
            await notify_dispatchers(self._session)
        return result

    async def enroll_audience(self, campaign_id: int, audience: Condition) -> int:
        """Enroll everyone matching `audience` (a schedule firing); how many began."""
        return (await self.enroll(campaign_id, EnrollmentRequest(filter=audience))).enrolled

    async def _chunks(
        self, request: EnrollmentRequest
    ) -> AsyncIterator[tuple[list[Contact], list[Skipped]]]:
        if request.contact_ids is not None:
            wanted = list(dict.fromkeys(request.contact_ids))
            for start in range(0, len(wanted), _CHUNK):
                part = wanted[start : start + _CHUNK]
                found = {c.id: c for c in await self._contacts.many(part) if c.erased_at is None}
                missing = [Skipped("not_found", contact_id=i) for i in part if i not in found]
                yield [found[i] for i in part if i in found], missing
        elif request.external_ids is not None:
            wanted_keys = list(dict.fromkeys(request.external_ids))
            for start in range(0, len(wanted_keys), _CHUNK):
                keys = wanted_keys[start : start + _CHUNK]
                ids = await self._contacts.ids_by_external_id(keys)
                contacts = {c.external_id: c for c in await self._contacts.many(ids.values())}
                missing = [Skipped("not_found", external_id=k) for k in keys if k not in contacts]
                yield [contacts[k] for k in keys if k in contacts], missing
        else:
            assert request.filter is not None
            after: int | None = None
            while page := await self._contacts.page(external_id=None, after=after, limit=_CHUNK):
                after = page[-1].id
                matching = [c for c in page if holds(request.filter, _facts(c))]
                yield matching, []

    async def _enroll_chunk(
        self,
        campaign: Campaign,
        definition: CampaignDefinition,
        contacts: Sequence[Contact],
        result: EnrollmentResult,
        *,
        check_history: bool,
    ) -> None:
        if not contacts:
            return
        assert campaign.id is not None
        now = self._clock.now()
        ids = [contact.id for contact in contacts if contact.id is not None]
        before = (
            await self._enrollments.history_for_reentry(campaign.id, ids) if check_history else {}
        )
        starting: list[Contact] = []
        for contact in contacts:
            assert contact.id is not None
            reason = _reentry_refusal(definition, before.get(contact.id), now)
            if reason is None:
                starting.append(contact)
            else:
                result.skipped.append(Skipped(reason, contact.id, contact.external_id))
        first_step = definition.steps[0].id
        state = "active" if campaign.status == "active" else "paused"
        inserted = await self._enrollments.start(
            [
                {
                    "campaign_id": campaign.id,
                    "campaign_version": campaign.current_version,
                    "contact_id": contact.id,
                    "state": state,
                    "step_id": first_step,
                    "step_entered_at": now,
                    "step_seq": 1,
                    "attempt": 0,
                    "awaiting_event": False,
                    "next_action_at": now,
                    "created_at": now,
                    "updated_at": now,
                }
                for contact in starting
            ]
        )
        result.enrolled += len(inserted)
        if inserted:
            await self._campaigns.count_entries({(campaign.id, first_step): len(inserted)})
        result.skipped += [
            Skipped("already_enrolled", c.id, c.external_id)
            for c in starting
            if c.id not in inserted
        ]


def _reentry_refusal(
    definition: CampaignDefinition, before: tuple[bool, datetime | None] | None, now: datetime
) -> str | None:
    """Why the campaign's re-entry rule keeps the contact out, or None."""
    if before is None:
        return None
    running, ended = before
    if running or definition.reentry == "never":
        return "already_enrolled"
    if (
        isinstance(definition.reentry, Cooldown)
        and ended
        and now < ended + definition.reentry.cooldown
    ):
        return "cooldown"
    return None


def _facts(contact: Contact) -> Facts:
    return Facts(contact=contact_fields(contact), consent=contact.consent)
