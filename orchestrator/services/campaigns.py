"""Use cases on campaigns: define, edit (a new version once active), lifecycle."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from sqlmodel.ext.asyncio.session import AsyncSession

from channels.base import Channel
from orchestrator.campaign_checks import check_topic
from orchestrator.clock import Clock
from orchestrator.definitions import CampaignDefinition, SendStep
from orchestrator.errors import Conflict, InvalidInput, NotFound
from orchestrator.models import Campaign, CampaignVersion
from orchestrator.policy_in_force import policy_in_force
from orchestrator.store.campaigns import CampaignStore
from orchestrator.store.enrollments import EnrollmentStore
from orchestrator.store.signals import notify_dispatchers
from orchestrator.store.touches import TouchStore

__all__ = ["Action", "CampaignService", "CampaignView", "stored_definition"]

Action = Literal["activate", "pause", "resume", "archive"]

#: For each action, the states it may start from and the state it leads to.
_TRANSITIONS: dict[str, tuple[frozenset[str], str]] = {
    "activate": (frozenset({"draft"}), "active"),
    "pause": (frozenset({"active"}), "paused"),
    "resume": (frozenset({"paused"}), "active"),
    "archive": (frozenset({"draft", "active", "paused"}), "archived"),
}


def stored_definition(definition: CampaignDefinition) -> dict[str, Any]:
    """A definition as JSON, the way it is stored and shown."""
    return definition.model_dump(mode="json", by_alias=True, exclude_none=True)


@dataclass(frozen=True)
class CampaignView:
    """A campaign with the definition of one of its versions."""

    campaign: Campaign
    version: int
    definition: dict[str, Any]


class CampaignService:
    """Campaigns in one unit of work: the caller commits or rolls back."""

    def __init__(
        self, session: AsyncSession, clock: Clock, channels: Mapping[str, Channel] | None = None
    ) -> None:
        """With `channels`, the configured adapters, a definition must also fit their
        configuration (a sender domain the mail channel may use)."""
        self._channels: Mapping[str, Channel] = channels or {}
        self._session = session
        self._campaigns = CampaignStore(session)
        self._enrollments = EnrollmentStore(session)
        self._touches = TouchStore(session)
        self._clock = clock

    async def create(self, definition: CampaignDefinition) -> CampaignView:
        """Store a new campaign as a draft, version 1."""
        self._check_configured(definition)
        await self._check_topic(definition)
        now = self._clock.now()
        campaign = Campaign(
            name=definition.name,
            status="draft",
            priority=definition.priority,
            category=definition.category,
            current_version=1,
            created_at=now,
            updated_at=now,
        )
        self._campaigns.add(campaign)
        await self._campaigns.flush()
        assert campaign.id is not None
        stored = stored_definition(definition)
        self._campaigns.add_version(
            CampaignVersion(campaign_id=campaign.id, version=1, definition=stored, created_at=now)
        )
        await self._campaigns.flush()
        return CampaignView(campaign, 1, stored)

    async def get(self, campaign_id: int, version: int | None = None) -> CampaignView:
        """The campaign with its current (or the given) version."""
        campaign = await self._existing(campaign_id)
        number = version or campaign.current_version
        stored = await self._campaigns.version(campaign_id, number)
        if stored is None:
            raise NotFound(f"campaign {campaign_id} has no version {number}")
        return CampaignView(campaign, number, stored.definition)

    async def page(self, *, status: str | None, after: int | None, limit: int) -> list[Campaign]:
        """Campaigns in id order, a page at a time."""
        return await self._campaigns.page(status=status, after=after, limit=limit)

    async def versions(self, campaign_id: int) -> list[tuple[int, Any]]:
        """Every version's number and creation time."""
        await self._existing(campaign_id)
        return await self._campaigns.version_numbers(campaign_id)

    async def update(self, campaign_id: int, definition: CampaignDefinition) -> CampaignView:
        """Replace the definition: in place while a draft, as a new version once it has run
        (running enrollments finish on the version they began on)."""
        self._check_configured(definition)
        await self._check_topic(definition)
        campaign = await self._existing(campaign_id, lock=True)
        if campaign.status == "archived":
            raise Conflict(f"campaign {campaign_id} is archived and cannot change")
        now = self._clock.now()
        stored = stored_definition(definition)
        if campaign.status == "draft":
            version = await self._campaigns.version(campaign_id, campaign.current_version)
            assert version is not None
            version.definition = stored
            self._campaigns.add_version(version)
        else:
            campaign.current_version += 1
            self._campaigns.add_version(
                CampaignVersion(
                    campaign_id=campaign_id,
                    version=campaign.current_version,
                    definition=stored,
                    created_at=now,
                )
            )
        campaign.name, campaign.priority = definition.name, definition.priority
        campaign.category, campaign.updated_at = definition.category, now
        self._campaigns.add(campaign)
        await self._campaigns.flush()
        return CampaignView(campaign, campaign.current_version, stored)

    def _check_configured(self, definition: CampaignDefinition) -> None:
        """422 listing each template field the configured channel refuses, at its path."""
        errors = [
            {
                "loc": [
                    "body",
                    "steps",
                    index,
                    "template",
                    *([] if problem.field is None else [problem.field]),
                ],
                "msg": problem.message,
                "type": "template",
            }
            for index, step in enumerate(definition.steps)
            if isinstance(step, SendStep) and step.channel in self._channels
            for problem in self._channels[step.channel].check_configured(step.template)
        ]
        if errors:
            count = len(errors)
            raise InvalidInput(
                f"the campaign has {count} problem{'s' if count != 1 else ''}", errors=errors
            )

    async def transition(self, campaign_id: int, action: Action) -> CampaignView:
        """Activate, pause, resume or archive; 409 from a state the action does not leave."""
        campaign = await self._existing(campaign_id, lock=True)
        sources, target = _TRANSITIONS[action]
        if campaign.status not in sources:
            allowed = sorted(
                a for a, (froms, _) in _TRANSITIONS.items() if campaign.status in froms
            )
            article = "an" if campaign.status[0] in "aeiou" else "a"
            raise Conflict(
                f"{article} {campaign.status} campaign cannot {action}; "
                f"it can {', '.join(allowed) if allowed else 'do nothing more'}"
            )
        if action == "activate":  # the policy may have dropped the topic since
            view = await self.get(campaign_id)
            definition = CampaignDefinition.model_validate(view.definition)
            await self._check_topic(definition, location=("definition",))
        now = self._clock.now()
        if action == "pause":
            await self._enrollments.set_campaign_state(campaign_id, "active", "paused", now)
        elif action == "resume":
            await self._enrollments.set_campaign_state(campaign_id, "paused", "active", now)
            await notify_dispatchers(self._session)
        elif action == "archive":
            await self._enrollments.finish_campaign(campaign_id, "archived", now)
            await self._touches.cancel_open("campaign_id", [campaign_id], "campaign archived", now)
        campaign.status, campaign.updated_at = target, now
        self._campaigns.add(campaign)
        await self._campaigns.flush()
        return await self.get(campaign_id)

    async def _check_topic(
        self, definition: CampaignDefinition, location: tuple[str, ...] = ("body",)
    ) -> None:
        """422 at `topic` unless the policy in force lists the campaign's topic."""
        if definition.topic is not None:
            topics = (await policy_in_force(self._session)).policy.topics
            check_topic(definition, topics, location=location)

    async def _existing(self, campaign_id: int, *, lock: bool = False) -> Campaign:
        campaign = await self._campaigns.get(campaign_id, lock=lock)
        if campaign is None:
            raise NotFound(f"campaign {campaign_id} does not exist")
        return campaign
