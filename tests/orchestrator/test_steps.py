"""Each step type, moved through in memory with a fake clock."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from orchestrator.campaign_checks import parse_campaign
from orchestrator.conditions import EventFact, Facts
from orchestrator.definitions import SplitStep
from orchestrator.steps import EnrollmentContext, Position, advance, apply_decision, split_choice
from policies import Allow, Block, Defer

NOW = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)  # Monday 10:00 in Tokyo


def context(steps, *, events=(), attributes=None, consent=None, timezone="Asia/Tokyo", **more):
    definition = parse_campaign({"name": "t", "steps": steps, **more})
    facts = Facts(
        contact={"attributes": attributes or {}, "locale": "ja-JP"},
        consent=consent or {},
        events=tuple(events),
    )
    return EnrollmentContext(1, definition, 7, timezone, NOW - timedelta(days=1), facts)


def start(j: EnrollmentContext, at: datetime = NOW) -> Position:
    return Position(step_id=j.campaign.steps[0].id, entered_at=at, seq=1, attempt=0)


MAIL = {"id": "mail", "type": "send", "channel": "email", "template": {"subject": "s", "text": "t"}}


def test_a_wait_holds_the_enrollment_until_its_duration_has_passed():
    j = context([{"id": "w", "type": "wait", "duration": "PT2H"}, MAIL])
    position = start(j)
    assert advance(position, j, NOW + timedelta(hours=1)) is None
    assert position.next_action_at == NOW + timedelta(hours=2)
    step = advance(position, j, NOW + timedelta(hours=2))
    assert step is not None
    assert (step.id, position.seq) == ("mail", 2)


def test_wait_until_a_time_of_day_reads_the_contacts_clock():
    until = {"id": "w", "type": "wait", "until": {"time": "09:00", "days": ["mon", "tue"]}}
    tokyo = context([until, MAIL])
    position = start(tokyo)  # Monday 10:00 in Tokyo: next is Tuesday 09:00 JST
    advance(position, tokyo, NOW)
    assert position.next_action_at == datetime(2026, 11, 24, 0, 0, tzinfo=UTC)
    new_york = context([until, MAIL], timezone="America/New_York")
    position = start(new_york)  # Sunday 20:00 in New York: next is Monday 09:00 EST
    advance(position, new_york, NOW)
    assert position.next_action_at == datetime(2026, 11, 23, 14, 0, tzinfo=UTC)


def test_wait_until_moves_on_across_a_dst_change():
    until = {"id": "w", "type": "wait", "until": {"time": "02:30", "days": ["sun"]}}
    j = context([until, MAIL], timezone="America/New_York")
    entered = datetime(2026, 3, 7, 12, 0, tzinfo=UTC)  # the clocks skip 02:00-03:00 next day
    position = start(j, entered)
    advance(position, j, entered)
    assert position.next_action_at == datetime(2026, 3, 8, 7, 0, tzinfo=UTC)  # 03:00 EDT


WAIT_FOR_CLICK = {
    "id": "wait",
    "type": "wait_for_event",
    "timeout": "P3D",
    "cases": [
        {"when": {"event": "click", "step": "mail"}, "next": "clicked"},
        {"when": {"event": "purchased", "data": {"plan": "pro"}}, "next": "bought"},
    ],
    "on_timeout": "nothing",
}
AFTER_WAIT = [
    {"id": "clicked", "type": "exit"},
    {"id": "bought", "type": "exit"},
    {"id": "nothing", "type": "exit"},
]


def advance_through_wait(events, at):
    j = context([MAIL, WAIT_FOR_CLICK, *AFTER_WAIT], events=events)
    position = Position(step_id="wait", entered_at=NOW, seq=2, attempt=0)
    advance(position, j, at)
    return position


def test_wait_for_event_waits_and_asks_to_be_woken():
    position = advance_through_wait([], NOW + timedelta(hours=1))
    assert (position.step_id, position.awaiting_event) == ("wait", True)
    assert position.next_action_at == NOW + timedelta(days=3)


def test_wait_for_event_takes_the_first_matching_case_in_case_order():
    later = NOW + timedelta(minutes=5)
    events = [
        EventFact("purchased", {"plan": "pro", "amount": 3}, later),
        EventFact("click", {}, later, step_id="mail"),
    ]
    position = advance_through_wait(events, later)
    assert (position.step_id, position.seq, position.state) == ("clicked", 3, "exited")
    only_purchase = advance_through_wait(events[:1], later)
    assert only_purchase.step_id == "bought"


def test_wait_for_event_ignores_events_from_before_it_began_or_about_other_steps():
    events = [
        EventFact("click", {}, NOW - timedelta(seconds=1), step_id="mail"),
        EventFact("click", {}, NOW + timedelta(seconds=1), step_id=None),
        EventFact("purchased", {"plan": "basic"}, NOW + timedelta(seconds=1)),
    ]
    position = advance_through_wait(events, NOW + timedelta(hours=1))
    assert (position.step_id, position.awaiting_event) == ("wait", True)


def test_wait_for_event_times_out_to_its_on_timeout_step():
    position = advance_through_wait([], NOW + timedelta(days=3))
    assert (position.state, position.seq) == ("exited", 3)


@pytest.mark.parametrize(
    ("attributes", "consent", "expected"),
    [
        ({"tier": "gold"}, {}, "gold"),
        ({"tier": "silver", "score": 80}, {}, "warm"),
        ({"tier": "silver", "score": 20}, {"email": "opted_in"}, "mailable"),
        ({}, {}, "fallback"),
    ],
)
def test_a_branch_takes_the_first_case_that_holds(attributes, consent, expected):
    branch = {"id": "b", "type": "branch", "default": "fallback", "cases": [
        {"when": {"attribute": "tier", "op": "eq", "value": "gold"}, "next": "gold"},
        {"when": {"all": [{"attribute": "score", "op": "gt", "value": 50},
                          {"not": {"attribute": "tier", "op": "in", "value": ["gold"]}}]},
         "next": "warm"},
        {"when": {"consent": "email", "is": "opted_in"}, "next": "mailable"}]}  # fmt: skip
    targets = [{"id": name, "type": "wait", "duration": "P1D"} for name in
               ("gold", "warm", "mailable", "fallback")]  # fmt: skip
    j = context([branch, *targets], attributes=attributes, consent=consent)
    position = start(j)
    advance(position, j, NOW)
    assert position.step_id == expected


def test_a_branch_sees_events_of_the_whole_enrollment():
    branch = {"id": "b", "type": "branch", "cases": [
        {"when": {"event": "replied"}, "next": "warm"}]}  # fmt: skip
    rest = [{"id": "cold", "type": "wait", "duration": "P1D"},
            {"id": "warm", "type": "wait", "duration": "P1D"}]  # fmt: skip
    events = [EventFact("replied", {}, NOW - timedelta(hours=3))]
    j = context([branch, *rest], events=events)
    position = start(j)
    advance(position, j, NOW)
    assert position.step_id == "warm"


def test_a_split_is_stable_and_near_its_weights():
    split = parse_campaign(
        {
            "name": "s",
            "steps": [
                {
                    "id": "ab",
                    "type": "split",
                    "variants": [
                        {"name": "A", "weight": 3, "next": "a"},
                        {"name": "B", "weight": 1, "next": "b"},
                    ],
                },
                {"id": "a", "type": "exit"},
                {"id": "b", "type": "exit"},
            ],
        }
    ).steps[0]
    assert isinstance(split, SplitStep)
    choices = Counter(split_choice(split, 42, contact) for contact in range(4000))
    assert 2800 <= choices["a"] <= 3200
    here = [split_choice(split, 42, c) for c in range(50)]
    assert here == _choices_in_another_process(split, 42, range(50))
    other_campaign = [split_choice(split, 43, c) for c in range(50)]
    assert other_campaign != [split_choice(split, 42, c) for c in range(50)]


def test_a_send_step_stops_the_advance_and_the_decision_moves_it_on():
    j = context([MAIL, {"id": "after", "type": "wait", "duration": "P1D"}])
    position = start(j)
    step = advance(position, j, NOW)
    assert step is not None
    assert step.id == "mail"
    apply_decision(position, step, Allow(), j.campaign, NOW)
    assert (position.step_id, position.attempt) == ("after", 0)


def test_a_deferred_send_waits_on_its_step_with_a_new_attempt():
    j = context([MAIL])
    position = start(j)
    step = advance(position, j, NOW)
    assert step is not None
    until = NOW + timedelta(hours=5)
    apply_decision(position, step, Defer(until, "cap", "full"), j.campaign, NOW)
    assert (position.step_id, position.attempt, position.next_action_at) == ("mail", 1, until)


@pytest.mark.parametrize(("on_blocked", "state"), [("skip", "completed"), ("exit", "exited")])
def test_a_blocked_send_skips_or_exits(on_blocked, state):
    j = context([{**MAIL, "on_blocked": on_blocked}])
    position = start(j)
    step = advance(position, j, NOW)
    assert step is not None
    apply_decision(position, step, Block("consent", "no opt-in"), j.campaign, NOW)
    assert position.state == state
    assert position.next_action_at is None


@pytest.mark.parametrize(
    ("first", "reads"),
    [
        ({"id": "w", "type": "wait", "duration": "P1D"}, False),
        ({"id": "w", "type": "wait_for_event", "timeout": "P1D",
          "cases": [{"when": {"event": "x"}, "next": "mail"}]}, True),
        ({"id": "b", "type": "branch", "cases": [{"when": {"event": "x"}, "next": "mail"}]}, True),
    ],
)  # fmt: skip
def test_only_campaigns_with_steps_that_read_events_load_them(first, reads):
    assert context([first, MAIL]).campaign.reads_events is reads


def test_after_the_last_step_the_enrollment_completes():
    j = context([{"id": "w", "type": "wait", "duration": "PT1S"}])
    position = start(j)
    advance(position, j, NOW + timedelta(seconds=1))
    assert (position.state, position.exit_reason, position.finished_at) == (
        "completed",
        None,
        NOW + timedelta(seconds=1),
    )


def _choices_in_another_process(split: SplitStep, campaign_id: int, contacts: range) -> list:
    """The same choices made by a fresh interpreter with its own string-hash seed, as
    another dispatcher process would make them."""
    program = (
        "import json, sys\n"
        "from orchestrator.definitions import SplitStep\n"
        "from orchestrator.steps import split_choice\n"
        "split = SplitStep.model_validate_json(sys.argv[1])\n"
        f"print(json.dumps([split_choice(split, {campaign_id}, c) for c in {list(contacts)}]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", program, split.model_dump_json(by_alias=True)],
        capture_output=True,
        check=True,
        text=True,
        env={**os.environ, "PYTHONHASHSEED": "random"},
    )
    return json.loads(done.stdout)
