"""One contract, every registered channel adapter: the built-in ones and the test plugin."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from importlib.metadata import entry_points

import pytest

from channels.base import (
    Channel,
    ContactSnapshot,
    Delivery,
    DeliveryResult,
    PermanentError,
    TemplateFields,
    TransientError,
)
from channels.registry import ENTRY_POINT_GROUP, channel_class, channel_names

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
#: Someone else, at other addresses of every kind.
OTHER = ContactSnapshot(
    id=3,
    external_id="c-3",
    email="suzuki@example.jp",
    phone="+818023456789",
    address={"postal_code": "530-0001", "country": "JP", "locality": "大阪市", "line1": "4-5"},
    social={"x": "@suzuki"},
    timezone="Asia/Tokyo",
    locale="ja-JP",
    attributes={},
)
NOBODY = ContactSnapshot(2, None, None, None, None, {}, "Asia/Tokyo", None, {})


@pytest.fixture(params=sorted(channel_names()))
def name(request) -> str:
    return str(request.param)


def delivery(name: str) -> Delivery:
    content = channel_class(name).example_template
    return Delivery(1, "1:1:0", name, "marketing", CONTACT, content)


def test_the_test_plugin_is_installed_through_its_entry_point():
    found = {entry.name: entry.value for entry in entry_points(group=ENTRY_POINT_GROUP)}
    assert found["pager"] == "kizuna_pager:PagerChannel"
    assert "pager" in channel_names()


def test_the_processes_tests_start_find_the_test_plugin_too():
    code = "from channels.registry import channel_names; print(sorted(channel_names()))"
    listed = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert "'pager'" in listed.stdout


def test_the_registry_names_each_adapter_as_it_names_itself(name):
    adapter = channel_class(name)
    assert adapter.name == name
    assert isinstance(adapter.template_fields, TemplateFields)
    assert isinstance(adapter.outcomes, frozenset)
    assert adapter.opt_out_outcomes <= adapter.outcomes
    assert adapter.outcome_event
    assert isinstance(adapter.in_memory("accept"), Channel)


def test_the_example_template_fits_the_channel(name):
    adapter = channel_class(name)
    fields, example = adapter.template_fields, adapter.example_template
    assert fields.required <= example.keys() <= fields.known
    assert not fields.one_of or fields.one_of & example.keys()
    assert adapter.check_template(example) == []


def test_the_address_fields_are_fields_of_a_contact(name):
    address_fields = channel_class(name).address_fields
    assert address_fields
    assert set(address_fields) <= {field.name for field in dataclasses.fields(ContactSnapshot)}


def test_an_address_is_found_for_a_full_contact_and_none_for_an_empty_one(name):
    adapter = channel_class(name).in_memory("accept")
    example = adapter.example_template
    assert adapter.address(CONTACT, example)
    assert adapter.address(NOBODY, example) is None


def test_the_suppression_keys_are_the_contacts_own(name):
    adapter = channel_class(name)
    key = adapter.suppression_key(CONTACT, adapter.example_template)
    assert key is not None
    assert key in adapter.suppression_keys(CONTACT)
    assert adapter.suppression_keys(CONTACT).isdisjoint(adapter.suppression_keys(OTHER))
    assert adapter.suppression_key(NOBODY, adapter.example_template) is None
    assert adapter.suppression_keys(NOBODY) == frozenset()


def test_a_rejected_address_suppresses_the_key_of_the_address_the_touch_went_to(name):
    adapter = channel_class(name)
    rejected = PermanentError("no such address", address_rejected=True)
    keys = adapter.rejected_keys(rejected, CONTACT, adapter.example_template)
    assert keys == {adapter.suppression_key(CONTACT, adapter.example_template)}


async def test_an_accepting_far_end_takes_a_send_touch_and_a_task_is_not_delivered(name):
    adapter = channel_class(name).in_memory("accept")
    try:
        if adapter.mode == "send":
            assert isinstance(await adapter.deliver(delivery(name)), DeliveryResult)
        else:
            with pytest.raises(PermanentError):
                await adapter.deliver(delivery(name))
    finally:
        await adapter.close()


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        ("transient", TransientError),
        ("permanent", PermanentError),
        ("dead_address", PermanentError),
    ],
)
async def test_a_failing_far_end_raises_the_error_that_says_whether_to_retry(name, answer, error):
    adapter = channel_class(name).in_memory(answer)
    expected = error if adapter.mode == "send" else PermanentError  # tasks: never delivered
    try:
        with pytest.raises(expected):
            await adapter.deliver(delivery(name))
    finally:
        await adapter.close()
