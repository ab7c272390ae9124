"""The policy's decisions on concrete cases, with the sentences a marketer reads."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from policies import (
    Allow,
    Block,
    Candidate,
    ContactFacts,
    CountedTouch,
    Defer,
    History,
    Hold,
    Policy,
    evaluate,
)

# Tuesday 2026-11-24 10:00 in Tokyo (the day before is a holiday: 勤労感謝の日).
NOW = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)
TOKYO = ContactFacts("Asia/Tokyo", consent={"email": "opted_in"})

PRODUCT_POLICY = Policy.model_validate(
    {
        "weights": {"email": 1, "sns": 1, "dm": 2, "phone": 3},
        "rules": [
            {"type": "cap", "name": "weekly", "max": 4, "window": "P7D", "channels": ["*"],
             "unit": "weight"},
            {"type": "cap", "name": "one-call-a-fortnight", "max": 1, "window": "P14D",
             "channels": ["phone"]},
            {"type": "min_gap", "name": "a-day-apart", "gap": "PT24H", "channels": ["*"]},
            {"type": "quiet_hours", "name": "office-hours-calls", "channels": ["phone"],
             "allow": [{"days": ["mon", "tue", "wed", "thu", "fri"], "from": "09:00",
                        "to": "19:00"}], "holidays": "JP"},
            {"type": "quiet_hours", "name": "no-night-mail", "channels": ["email", "sns"],
             "allow": [{"days": ["*"], "from": "08:00", "to": "21:00"}]},
        ],
        "consent": {"email": "opt_in", "sns": "opt_in", "phone": "opt_out", "dm": "opt_out"},
    }
)  # fmt: skip


def touch(channel: str, days_ago: float, weight: float = 1) -> CountedTouch:
    return CountedTouch(channel, NOW - timedelta(days=days_ago), weight)


def decide(channel: str, history=(), *, policy=PRODUCT_POLICY, contact=TOKYO, now=NOW, **more):
    candidate = Candidate(channel, more.pop("category", "marketing"), "addr", **more)
    return evaluate(candidate, History(history), policy, contact, now)


def test_a_first_touch_in_office_hours_is_allowed():
    assert decide("phone") == Allow()
    assert decide("email") == Allow()


def test_a_full_weekly_cap_defers_to_when_the_oldest_touch_leaves_the_window():
    history = [touch("dm", 6, weight=2), touch("email", 3), touch("email", 2)]
    decision = decide("email", history)
    assert isinstance(decision, Defer)
    assert decision.rule == "weekly"
    assert decision.until == NOW + timedelta(days=1)  # the letter leaves the 7-day window
    assert decision.reason == (
        "weekly: 4 of 4 points used since 2026-11-17 10:00 JST and an email costs 1; "
        "next free 2026-11-25 10:00 JST."
    )
    assert decision.also == ()


def test_a_call_waits_for_the_fortnight_and_then_for_office_hours():
    decision = decide("phone", [touch("phone", 13.9)])
    assert isinstance(decision, Defer)
    assert decision.rule == "one-call-a-fortnight"
    # 13.9 days ago + 14 days = 2026-11-24 12:24 JST: inside office hours already.
    assert decision.until == NOW - timedelta(days=13.9) + timedelta(days=14)


def test_quiet_hours_open_again_after_the_night_and_skip_holidays():
    evening = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)  # 21:00 JST Tuesday
    decision = decide("phone", now=evening)
    assert isinstance(decision, Defer)
    assert decision.until == datetime(2026, 11, 25, 0, 0, tzinfo=UTC)  # Wednesday 09:00 JST
    holiday = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)  # Monday 10:00, 勤労感謝の日
    decision = decide("phone", now=holiday)
    assert isinstance(decision, Defer)
    assert decision.until == datetime(2026, 11, 24, 0, 0, tzinfo=UTC)
    assert "never on JP public holidays" in decision.reason


def test_the_gap_and_the_night_combine_into_one_exact_instant():
    late = datetime(2026, 11, 24, 11, 30, tzinfo=UTC)  # 20:30 JST
    decision = decide("email", [CountedTouch("phone", late - timedelta(hours=23), 3)], now=late)
    assert isinstance(decision, Defer)
    # the gap frees 21:30 JST, when mail is quiet until 08:00 JST the next morning: the
    # night is what frees last, so it binds
    assert decision.until == datetime(2026, 11, 24, 23, 0, tzinfo=UTC)
    assert decision.rule == "no-night-mail"
    assert decision.also == (Hold("a-day-apart", datetime(2026, 11, 24, 12, 30, tzinfo=UTC)),)
    assert decision.reason == (
        "no-night-mail: email goes out only every day 08:00-21:00 (JST); "
        "next free 2026-11-25 08:00 JST. "
        "a-day-apart: the last touch was 2026-11-23 21:30 JST, less than 1 day before; "
        "next free 2026-11-24 21:30 JST."
    )


def test_a_defer_past_the_steps_deadline_is_a_block():
    history = [touch("dm", 6, weight=2), touch("email", 3), touch("email", 2)]
    decision = decide("email", history, deadline=NOW + timedelta(hours=12))
    assert isinstance(decision, Block)
    assert decision.rule == "weekly"
    assert "past the step's last moment" in decision.reason


def test_a_touch_heavier_than_the_cap_can_never_go():
    decision = decide("phone", weight=5)
    assert isinstance(decision, Block)
    assert decision.rule == "weekly"
    assert "costs 5 points, more than the 4 allowed per 7 days" in decision.reason


@pytest.mark.parametrize(
    ("contact", "rule"),
    [
        (ContactFacts("Asia/Tokyo", suppressed=frozenset({"*"})), "suppression"),
        (ContactFacts("Asia/Tokyo", consent={"email": "opted_out"}), "consent"),
        (ContactFacts("Asia/Tokyo"), "consent"),
    ],
)
def test_built_in_checks_come_first(contact, rule):
    decision = decide("email", contact=contact)
    assert isinstance(decision, Block)
    assert decision.rule == rule


def test_a_missing_address_blocks():
    candidate = Candidate("dm", "marketing", None)
    decision = evaluate(candidate, History(), PRODUCT_POLICY, TOKYO, NOW)
    assert isinstance(decision, Block)
    assert decision.rule == "address"


def test_a_paused_contact_is_deferred_until_the_pause_ends_and_the_rules_agree():
    until = datetime(2026, 11, 26, 15, 0, tzinfo=UTC)  # Friday 00:00 JST
    paused = ContactFacts("Asia/Tokyo", consent={"email": "opted_in"}, paused_until=until)
    decision = decide("email", contact=paused)
    assert isinstance(decision, Defer)
    assert decision.until == datetime(2026, 11, 26, 23, 0, tzinfo=UTC)  # then 08:00 JST
    assert decision.rule == "no-night-mail"  # it frees last
    assert decision.also == (Hold("paused", until),)
    assert decision.reason == (
        "no-night-mail: email goes out only every day 08:00-21:00 (JST); "
        "next free 2026-11-27 08:00 JST. "
        "The contact asked not to be disturbed until 2026-11-27 00:00 JST."
    )


def test_transactional_touches_skip_caps_gaps_quiet_hours_and_pauses_only():
    night = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)  # midnight JST
    full = [touch("phone", 1, weight=3), touch("email", 0.1)]
    paused = ContactFacts("Asia/Tokyo", paused_until=night + timedelta(days=3))
    assert decide("phone", full, contact=paused, now=night, category="transactional") == Allow()
    opted_out = ContactFacts("Asia/Tokyo", consent={"phone": "opted_out"})
    blocked = decide("phone", contact=opted_out, category="transactional")
    assert isinstance(blocked, Block)
    assert blocked.rule == "consent"


def test_caps_count_only_their_categories():
    policy = Policy.model_validate(
        {
            "rules": [
                {
                    "type": "cap",
                    "name": "mkt",
                    "max": 1,
                    "window": "P1D",
                    "categories": ["marketing"],
                }
            ]
        }
    )
    receipt = CountedTouch("email", NOW - timedelta(hours=1), 1, category="transactional")
    assert decide("email", [receipt], policy=policy) == Allow()
    offer = CountedTouch("email", NOW - timedelta(hours=1), 1)
    assert isinstance(decide("email", [offer], policy=policy), Defer)


def test_rules_that_never_agree_block():
    policy = Policy.model_validate(
        {
            "rules": [
                {
                    "type": "quiet_hours",
                    "name": "mornings",
                    "allow": [{"days": ["*"], "from": "08:00", "to": "10:00"}],
                },
                {
                    "type": "quiet_hours",
                    "name": "evenings",
                    "allow": [{"days": ["*"], "from": "18:00", "to": "20:00"}],
                },
            ]
        }
    )
    decision = decide("email", policy=policy)
    assert isinstance(decision, Block)
    assert "never all allow" in decision.reason


def test_an_overnight_window_is_open_after_midnight():
    policy = Policy.model_validate(
        {
            "rules": [
                {
                    "type": "quiet_hours",
                    "name": "night-shift",
                    "allow": [{"days": ["mon"], "from": "22:00", "to": "06:00"}],
                }
            ]
        }
    )
    tuesday_2am = datetime(2026, 11, 23, 17, 0, tzinfo=UTC)
    assert decide("email", policy=policy, now=tuesday_2am) == Allow()
    tuesday_7am = datetime(2026, 11, 23, 22, 0, tzinfo=UTC)
    deferred = decide("email", policy=policy, now=tuesday_7am)
    assert isinstance(deferred, Defer)
    assert deferred.until == datetime(2026, 11, 30, 13, 0, tzinfo=UTC)  # next Monday 22:00


ISSUE_POLICY = Policy.model_validate(
    {
        "weights": {"email": 1, "dm": 2, "phone": 3},
        "rules": [
            {"type": "cap", "name": "weekly", "max": 5, "window": "P7D", "unit": "weight"},
            {"type": "cap", "name": "one-call-a-fortnight", "max": 1, "window": "P14D",
             "channels": ["phone"]},
        ],
        "consent": {},
    }
)  # fmt: skip


# 4 of 5 points used this week (two mails, a letter); the last call was 10 days ago.
ISSUE_HISTORY = [
    touch("email", 6),
    touch("email", 5),
    touch("dm", 4, weight=2),
    touch("phone", 10, weight=3),
]


def test_a_call_held_by_two_caps_names_the_one_that_frees_last_and_both_free_times():
    # 4 of 5 points used: a letter 6 days ago, then a call 2 days ago; a call costs 3
    history = ISSUE_HISTORY
    decision = decide("phone", history, policy=ISSUE_POLICY)
    assert isinstance(decision, Defer)
    weekly_frees = NOW + timedelta(days=2)  # both mails leave the window: 2 + 3 <= 5
    fortnight_frees = NOW + timedelta(days=4)  # the call leaves the 14 days
    assert decision.until == fortnight_frees
    assert decision.rule == "one-call-a-fortnight"
    assert decision.also == (Hold("weekly", weekly_frees),)
    assert decision.reason == (
        "one-call-a-fortnight: 1 of 1 calls used since 2026-11-10 10:00 JST; "
        "next free 2026-11-28 10:00 JST. "
        "weekly: 4 of 5 points used since 2026-11-17 10:00 JST and a call costs 3; "
        "next free 2026-11-26 10:00 JST."
    )


def test_the_rule_that_frees_last_binds_whatever_the_policys_order():
    history = ISSUE_HISTORY
    flipped = Policy.model_validate(
        {
            **ISSUE_POLICY.model_dump(by_alias=True),
            "rules": ISSUE_POLICY.model_dump()["rules"][::-1],
        }
    )
    decision = decide("phone", history, policy=flipped)
    assert isinstance(decision, Defer)
    assert decision.rule == "one-call-a-fortnight"
    assert [hold.rule for hold in decision.also] == ["weekly"]


def test_a_cap_that_frees_first_is_named_when_quiet_hours_hold_the_touch_longer():
    friday_evening = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)  # Friday 18:00 JST
    policy = Policy.model_validate(
        {
            "rules": [
                {"type": "cap", "name": "daily", "max": 1, "window": "PT24H"},
                {"type": "quiet_hours", "name": "office", "channels": ["phone"],
                 "allow": [{"days": ["mon", "tue", "wed", "thu", "fri"], "from": "09:00",
                            "to": "19:00"}]},
            ],
            "consent": {},
        }
    )  # fmt: skip
    history = [CountedTouch("email", friday_evening - timedelta(hours=23), 1)]
    decision = decide("phone", history, policy=policy, now=friday_evening)
    assert isinstance(decision, Defer)
    monday_nine = datetime(2026, 11, 30, 0, 0, tzinfo=UTC)
    assert decision.until == monday_nine
    assert decision.rule == "office"  # open now, but closed when the cap frees at 19:00
    assert decision.also == (Hold("daily", friday_evening + timedelta(hours=1)),)
    assert decision.reason.startswith("office: phone goes out only mon/tue/wed/thu/fri")
    assert "next free 2026-11-30 09:00 JST. daily: 1 of 1 touches used" in decision.reason
    assert decision.reason.endswith("next free 2026-11-27 19:00 JST.")


def test_a_block_past_the_deadline_names_every_holding_rule():
    history = ISSUE_HISTORY
    decision = decide("phone", history, policy=ISSUE_POLICY, deadline=NOW + timedelta(days=3))
    assert isinstance(decision, Block)
    assert decision.rule == "one-call-a-fortnight"
    assert decision.also == (Hold("weekly", NOW + timedelta(days=2)),)
    assert "weekly: 4 of 5 points used" in decision.reason
    assert decision.reason.endswith("That is past the step's last moment (2026-11-27 10:00 JST).")


def test_a_rule_that_never_lets_the_touch_through_binds_and_the_others_are_named():
    history = [touch("phone", 2, weight=3)]
    decision = decide("phone", history, policy=ISSUE_POLICY, weight=6)
    assert isinstance(decision, Block)
    assert decision.rule == "weekly"
    assert decision.also == (Hold("one-call-a-fortnight", NOW + timedelta(days=12)),)
    assert decision.reason == (
        "weekly: a call costs 6 points, more than the 5 allowed per 7 days; "
        "it never lets the touch through. "
        "one-call-a-fortnight: 1 of 1 calls used since 2026-11-10 10:00 JST; "
        "next free 2026-12-06 10:00 JST."
    )
