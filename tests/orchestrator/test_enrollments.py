"""Re-entry: `never`, `after_exit` and a cooldown, judged against each contact's history."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.engine import add_contacts, dispatcher, enroll, launch

pytestmark = pytest.mark.rolled_back

QUICK = [{"id": "w", "type": "wait", "duration": "PT1M"}]


@pytest.mark.parametrize(
    ("reentry", "right_after", "after_a_day"),
    [
        ("never", "already_enrolled", "already_enrolled"),
        ("after_exit", None, None),
        ({"cooldown": "PT12H"}, "cooldown", None),
    ],
)
async def test_reentry_rules_hold_after_a_enrollment_ends(
    sessions, clock, reentry, right_after, after_a_day
):
    (contact,) = await add_contacts(sessions, clock, 1)
    campaign_id = await launch(sessions, clock, {"name": "r", "reentry": reentry, "steps": QUICK})
    first = await enroll(sessions, clock, campaign_id, [contact])
    assert first.enrolled == 1
    running = await enroll(sessions, clock, campaign_id, [contact])
    assert [s.reason for s in running.skipped] == ["already_enrolled"]

    clock.advance(timedelta(minutes=1))
    await dispatcher(sessions, clock).run_until_idle()  # the enrollment completes
    again = await enroll(sessions, clock, campaign_id, [contact])
    assert [s.reason for s in again.skipped] == ([right_after] if right_after else [])
    if again.enrolled:
        clock.advance(timedelta(minutes=1))
        await dispatcher(sessions, clock).run_until_idle()

    clock.advance(timedelta(days=1))
    later = await enroll(sessions, clock, campaign_id, [contact])
    assert [s.reason for s in later.skipped] == ([after_a_day] if after_a_day else [])


async def test_a_contact_listed_twice_is_enrolled_once(sessions, clock):
    (contact,) = await add_contacts(sessions, clock, 1)
    campaign_id = await launch(sessions, clock, {"name": "twice", "steps": QUICK})
    result = await enroll(sessions, clock, campaign_id, [contact, contact])
    assert (result.enrolled, result.skipped) == (1, [])
