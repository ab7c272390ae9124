"""The contact as plain data: adapters, templates and conditions read the model family's fields."""

from __future__ import annotations

import dataclasses

from channels.base import ContactSnapshot
from orchestrator.models import Contact
from orchestrator.models.contact import ContactProfile
from orchestrator.snapshots import contact_fields, snapshot, template_context


def contact(**fields) -> Contact:
    values = {
        "id": 7,
        "external_id": "c-7",
        "email": "sato@example.jp",
        "phone": "+819012345678",
        "social": {"x": "@sato"},
        "timezone": "Asia/Tokyo",
        "locale": "ja-JP",
        "attributes": {"plan": "gold"},
    }
    return Contact(**{**values, **fields})


def test_the_channels_snapshot_has_the_id_and_exactly_the_profile_fields():
    # `channels` may not import the models: this keeps its plain-data copy in step.
    names = [field.name for field in dataclasses.fields(ContactSnapshot)]
    assert sorted(names) == sorted(["id", *ContactProfile.model_fields])


def test_a_snapshot_carries_every_profile_field():
    seen = snapshot(contact())
    assert seen == ContactSnapshot(
        id=7,
        external_id="c-7",
        email="sato@example.jp",
        phone="+819012345678",
        address=None,
        social={"x": "@sato"},
        timezone="Asia/Tokyo",
        locale="ja-JP",
        attributes={"plan": "gold"},
    )


def test_conditions_read_the_profile_and_templates_the_id_too():
    row = contact()
    assert contact_fields(row) == {name: getattr(row, name) for name in ContactProfile.model_fields}
    context = template_context(snapshot(row), {"id": 1, "name": "welcome"})
    assert context["contact"] == {"id": 7, **contact_fields(row), "address": {}}
    assert context["campaign"] == {"id": 1, "name": "welcome"}
