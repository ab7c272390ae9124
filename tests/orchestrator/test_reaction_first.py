"""A journey woken by an event is claimed before enrollments due by time: a click does not
queue behind a newsletter's thousands."""

from __future__ import annotations

from datetime import timedelta

from orchestrator.store.enrollments import EnrollmentStore
from tests.engine import add_contacts, dispatcher, enroll, launch, post_event

WAITING = {
    "name": "Waits for a reply",
    "steps": [
        {"id": "wait", "type": "wait_for_event", "timeout": "P7D",
         "cases": [{"when": {"event": "replied"}, "next": "call"}], "on_timeout": "call"},
        {"id": "call", "type": "send", "channel": "phone", "template": {"script": "..."}},
    ],
}  # fmt: skip
CALLS = {
    "name": "Calls",
    "steps": [{"id": "call", "type": "send", "channel": "phone", "template": {"script": "..."}}],
}  # fmt: skip


async def test_a_woken_journey_is_claimed_before_enrollments_due_earlier(sessions, clock):
    (waiting,) = await add_contacts(sessions, clock, 1, prefix="waiting")
    await enroll(sessions, clock, await launch(sessions, clock, WAITING), [waiting])
    await dispatcher(sessions, clock).run_until_idle()  # it now waits for a reply
    bulk = await add_contacts(sessions, clock, 5, prefix="bulk")
    await enroll(sessions, clock, await launch(sessions, clock, CALLS), bulk)  # due now
    clock.advance(timedelta(minutes=1))
    await post_event(sessions, clock, waiting, "replied", key="r1")  # due now, a minute later

    async with sessions.begin() as session:
        first = await EnrollmentStore(session).claim_due(clock.now(), 1)
        assert [e.contact_id for e in first] == [waiting]
    async with sessions.begin() as session:
        everyone = await EnrollmentStore(session).claim_due(clock.now(), 10)
        assert {e.contact_id for e in everyone} == {waiting, *bulk}
