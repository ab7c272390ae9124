"""`kizuna demo`: a small, realistic data set to try the API on; running it twice is harmless."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from orchestrator.campaign_checks import parse_campaign
from orchestrator.catalog import CampaignCatalog
from orchestrator.clock import Clock
from orchestrator.models import ContactUpsert
from orchestrator.services.campaigns import CampaignService
from orchestrator.services.contacts import ConsentChange, ContactService
from orchestrator.services.enrollments import EnrollmentRequest, EnrollmentService

__all__ = ["load_demo"]

_CONTACTS: list[dict[str, Any]] = [
    {
        "external_id": "demo-0001",
        "email": "sato.hanako@example.jp",
        "phone": "090-1234-5678",
        "locale": "ja-JP",
        "address": {
            "recipient": "佐藤 花子",
            "postal_code": "150-0001",
            "country": "JP",
            "region": "東京都",
            "locality": "渋谷区",
            "line1": "神宮前1-2-3",
        },
        "attributes": {"name": "佐藤 花子", "industry": "retail", "segment": "fan"},
    },
    {
        "external_id": "demo-0002",
        "email": "suzuki.ichiro@example.jp",
        "phone": "080-2345-6789",
        "locale": "ja-JP",
        "social": {"x": "@suzuki_ichiro"},
        "attributes": {"name": "鈴木 一郎", "industry": "manufacturing", "segment": "lead"},
    },
    {
        "external_id": "demo-0003",
        "email": "takahashi.yui@example.jp",
        "locale": "ja-JP",
        "attributes": {"name": "高橋 結衣", "industry": "retail", "segment": "customer"},
    },
    {
        "external_id": "demo-0004",
        "phone": "06-6123-4567",
        "locale": "ja-JP",
        "address": {
            "recipient": "田中 健",
            "postal_code": "530-0001",
            "country": "JP",
            "region": "大阪府",
            "locality": "大阪市北区",
            "line1": "梅田2-4-6",
        },
        "attributes": {"name": "田中 健", "industry": "logistics", "segment": "lead"},
    },
    {
        "external_id": "demo-0005",
        "email": "emma.wilson@example.com",
        "phone": "+1 212 555 0142",
        "locale": "en-US",
        "timezone": "America/New_York",
        "social": {"linkedin": "emma-wilson"},
        "attributes": {"name": "Emma Wilson", "industry": "software", "segment": "opinion_leader"},
    },
]

_CONSENT: dict[str, dict[str, str]] = {
    "demo-0001": {"email": "opted_in", "phone": "opted_in"},
    "demo-0002": {"email": "opted_in"},
    "demo-0003": {"email": "opted_out"},
    "demo-0005": {"email": "opted_in", "sns": "opted_in"},
}


_CALL_FIRST: dict[str, Any] = {
    "name": "Call first, then nurture",
    "priority": 60,
    "category": "marketing",
    "goal": {"event": "meeting_booked"},
    "reentry": "never",
    "steps": [
        {"id": "call", "type": "send", "channel": "phone",
         "template": {"script": "{{ contact.attributes.name }}様、"
                                "先日はお問い合わせありがとうございました。"}},
        {"id": "after_call", "type": "wait_for_event", "timeout": "P3D",
         "cases": [{"when": {"event": "call_outcome", "data": {"outcome": "interested"}},
                    "next": "mail1"}],
         "on_timeout": "letter"},
        {"id": "mail1", "type": "send", "channel": "email",
         "template": {"subject": "{{ contact.attributes.name }}様へ：導入ガイドのご案内",
                      "text": "ガイドはこちら: https://example.com/guide"}},
        {"id": "wait_click", "type": "wait_for_event", "timeout": "P5D",
         "cases": [{"when": {"event": "click", "step": "mail1"}, "next": "call2"}],
         "on_timeout": "letter"},
        {"id": "call2", "type": "send", "channel": "phone",
         "template": {"script": "ガイドはご覧いただけましたか？"}, "next": "end"},
        {"id": "letter", "type": "send", "channel": "dm",
         "template": {"letter": "{{ contact.attributes.name }}様　季節のご挨拶を申し上げます。"}},
        {"id": "end", "type": "exit"},
    ],
}  # fmt: skip


async def load_demo(
    sessions: async_sessionmaker[AsyncSession], clock: Clock, default_timezone: str
) -> int:
    """Upsert the demo contacts and their consent, and start the demo campaign for them
    (once); the number of contacts."""
    async with sessions.begin() as session:
        service = ContactService(session, clock, default_timezone=default_timezone)
        for row in _CONTACTS:
            contact, _ = await service.upsert(ContactUpsert.model_validate(row))
            assert contact.id is not None
            for channel, status in _CONSENT.get(row["external_id"], {}).items():
                if contact.consent.get(channel) != status:
                    change = ConsentChange(
                        status=status,
                        source="demo",
                        evidence={"form": "demo data set"},
                    )
                    await service.record_consent(contact.id, channel, change)
        campaigns = CampaignService(session, clock)
        if not await campaigns.page(status=None, after=None, limit=1):
            view = await campaigns.create(parse_campaign(_CALL_FIRST))
            assert view.campaign.id is not None
            await campaigns.transition(view.campaign.id, "activate")
            everyone = EnrollmentRequest(external_ids=[row["external_id"] for row in _CONTACTS])
            await EnrollmentService(session, clock, CampaignCatalog()).enroll(
                view.campaign.id, everyone
            )
    return len(_CONTACTS)
