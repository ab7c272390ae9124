"""`kizuna demo`: a small, realistic data set to try the API on; running it twice is harmless."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from orchestrator.clock import Clock
from orchestrator.models import ContactUpsert
from orchestrator.services.contacts import ConsentChange, ContactService

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


async def load_demo(
    sessions: async_sessionmaker[AsyncSession], clock: Clock, default_timezone: str
) -> int:
    """Upsert the demo contacts and their consent; the number of contacts."""
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
    return len(_CONTACTS)
