"""Driving the engine in tests: contacts, campaigns, enrollments and events, on real databases."""

from __future__ import annotations

from typing import Any

from sqlmodel import col, select

from channels.base import Channel
from channels.registry import channel_class, channel_names
from orchestrator.campaign_checks import parse_campaign
from orchestrator.catalog import CampaignCatalog
from orchestrator.dispatcher import Dispatcher
from orchestrator.models import ApiKey, ContactUpsert, Enrollment, Touch
from orchestrator.services.api_keys import ApiKeyService
from orchestrator.services.campaigns import CampaignService
from orchestrator.services.contacts import ConsentChange, ContactService
from orchestrator.services.enrollments import EnrollmentRequest, EnrollmentService
from orchestrator.services.events import EventService
from orchestrator.services.tasks import TaskClaim, TaskCompletion, TaskService

#: Every registered channel, the test plugin too, as an installation with no options has it.
CHANNELS: dict[str, Channel] = {name: channel_class(name)() for name in sorted(channel_names())}

ADDRESS = {"postal_code": "150-0001", "country": "JP", "locality": "渋谷区", "line1": "神宮前1-2-3"}


async def add_contacts(sessions, clock, count: int, *, consent=None, **fields) -> list[int]:
    """`count` contacts with email, phone and address (and `fields`), consent recorded."""
    ids = []
    async with sessions.begin() as session:
        service = ContactService(session, clock, default_timezone="Asia/Tokyo")
        for n in range(count):
            payload = {
                "external_id": f"c-{fields.get('prefix', 'x')}-{n}",
                "email": f"person{n}@example.jp",
                "phone": f"0901{n:07d}",
                "address": ADDRESS,
                **{k: v for k, v in fields.items() if k != "prefix"},
            }
            contact, _ = await service.upsert(ContactUpsert.model_validate(payload))
            assert contact.id is not None
            given = {"email": "opted_in"} if consent is None else consent
            for channel, status in given.items():
                await service.record_consent(
                    contact.id, channel, ConsentChange(status=status, source="test")
                )
            ids.append(contact.id)
    return ids


async def launch(sessions, clock, definition: dict[str, Any]) -> int:
    """Define and activate a campaign; its id."""
    async with sessions.begin() as session:
        service = CampaignService(session, clock)
        view = await service.create(parse_campaign(definition))
        assert view.campaign.id is not None
        await service.transition(view.campaign.id, "activate")
        return view.campaign.id


async def enroll(sessions, clock, campaign_id: int, contact_ids: list[int]):
    async with sessions.begin() as session:
        request = EnrollmentRequest(contact_ids=contact_ids)
        return await EnrollmentService(session, clock, CampaignCatalog()).enroll(
            campaign_id, request
        )


async def post_event(sessions, clock, contact_id: int, type: str, *, key: str, **data):
    async with sessions.begin() as session:
        return await EventService(session, clock, CampaignCatalog()).record(
            contact_id=contact_id,
            type=type,
            data=data,
            dedupe_key=f"test:{key}",
            source="test",
        )


async def worker_key(session, clock) -> ApiKey:
    """The workers' API key of the engine tests, stored on first use."""
    return await ApiKeyService(session, clock).ensure("workers", "kz_engine_tests", ["worker"])


async def claim(sessions, clock, channel: str, limit: int = 100, worker: str = "alice"):
    async with sessions.begin() as session:
        service = TaskService(session, clock, CHANNELS, CampaignCatalog())
        return await service.claim(
            TaskClaim(channel=channel, worker=worker, limit=limit),
            await worker_key(session, clock),
        )


async def complete(sessions, clock, touch_id: int, outcome: str, worker="alice", **more):
    async with sessions.begin() as session:
        completion = TaskCompletion(worker=worker, outcome=outcome, **more)
        return await TaskService(session, clock, CHANNELS, CampaignCatalog()).complete(
            touch_id, completion, await worker_key(session, clock)
        )


def dispatcher(sessions, clock, **options) -> Dispatcher:
    return Dispatcher(sessions, clock, CHANNELS, CampaignCatalog(), **options)


async def touches(sessions, **where) -> list[Touch]:
    async with sessions() as session:
        query = select(Touch).order_by(col(Touch.id))
        for name, value in where.items():
            query = query.where(getattr(Touch, name) == value)
        return list((await session.exec(query)).all())


async def enrollments(sessions, **where) -> list[Enrollment]:
    async with sessions() as session:
        query = select(Enrollment).order_by(col(Enrollment.id))
        for name, value in where.items():
            query = query.where(getattr(Enrollment, name) == value)
        return list((await session.exec(query)).all())
