"""One contract, every registered channel adapter."""

from __future__ import annotations

import pytest

from channels.base import Channel, ContactSnapshot, Delivery, PermanentError, TemplateFields
from channels.registry import channel_class, channel_names
from tests.engine import CHANNELS

CONTACT = ContactSnapshot(
    id=1,
    external_id="c-1",
    email="sato@example.jp",
    phone="+819012345678",
    address={"postal_code": "150-0001", "country": "JP", "locality": "渋谷区", "line1": "1-2-3"},
    social={"x": "@sato"},
    timezone="Asia/Tokyo",
    locale="ja-JP",
    attributes={},
)
NOBODY = ContactSnapshot(2, None, None, None, None, {}, "Asia/Tokyo", None, {})

SAMPLE_CONTENT = {
    "email": {"subject": "s", "text": "t"},
    "phone": {"script": "s"},
    "dm": {"letter": "l"},
    "sns": {"network": "x", "message": "m"},
}


@pytest.fixture(params=sorted(channel_names()))
def name(request) -> str:
    return str(request.param)


def test_the_registry_names_each_adapter_as_it_names_itself(name):
    adapter = channel_class(name)
    assert adapter.name == name
    assert isinstance(adapter.template_fields, TemplateFields)
    assert isinstance(adapter.outcomes, frozenset)
    assert isinstance(CHANNELS[name], Channel)


def test_a_sample_template_fits_the_channel(name):
    fields = channel_class(name).template_fields
    sample = SAMPLE_CONTENT[name]
    assert fields.required <= sample.keys() <= fields.known
    assert channel_class(name).check_template(sample) == []


def test_an_address_is_found_for_a_full_contact_and_none_for_an_empty_one(name):
    adapter = CHANNELS[name]
    assert adapter.address(CONTACT, SAMPLE_CONTENT[name])
    assert adapter.address(NOBODY, SAMPLE_CONTENT[name]) is None


@pytest.mark.parametrize("name", sorted(n for n, c in CHANNELS.items() if c.mode == "task"))
async def test_task_adapters_leave_the_work_to_workers(name):
    adapter = CHANNELS[name]
    delivery = Delivery(1, "1:1:0", name, "marketing", CONTACT, SAMPLE_CONTENT[name])
    with pytest.raises(PermanentError):
        await adapter.deliver(delivery)
