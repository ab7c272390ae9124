"""The policy document: its problems in one pass, the channels' defaults, and what each rule
type reads of a contact now."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from policies import RULE_TYPES, CountedTouch, History, Policy
from policies.rules import CapRule, MinGapRule, QuietHoursRule, Reading

NOW = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)  # Tuesday 10:00 in Tokyo
GAP = {"type": "min_gap", "gap": "PT1H"}


def problems(error: ValidationError) -> list[tuple[tuple[str | int, ...], str]]:
    return [(e["loc"], e["type"]) for e in error.errors()]


def test_the_rule_types_are_the_tags_of_the_rule_union():
    assert RULE_TYPES == ("cap", "min_gap", "quiet_hours", "preference")


def test_a_policy_built_directly_still_refuses_a_repeated_rule_name():
    with pytest.raises(ValidationError) as raised:
        Policy.model_validate({"rules": [{**GAP, "name": "a"}, {**GAP, "name": "a"}]})
    assert problems(raised.value) == [(("rules", 1, "name"), "value_error")]


def test_channels_are_checked_only_against_the_channels_given():
    document = {"weights": {"fax": 1}, "rules": [{**GAP, "name": "a", "channels": ["fax"]}]}
    assert Policy.model_validate(document).weights == {"fax": 1}
    with pytest.raises(ValidationError) as raised:
        Policy.checked(document, {"email"})
    assert problems(raised.value) == [
        (("weights", "fax"), "value_error"),
        (("rules", 0, "channels", 0), "value_error"),
    ]


def test_a_shape_problem_does_not_hide_a_repeated_name_nor_an_unknown_channel():
    document = {"rules": [{**GAP, "name": "a", "gap": "soon"}, {"name": "a", "channels": ["x"]}]}
    with pytest.raises(ValidationError) as raised:
        Policy.checked(document, {"email"})
    assert [loc for loc, _ in problems(raised.value)] == [
        ("rules", 0, "min_gap", "gap"),
        ("rules", 1, "type"),
        ("rules", 1, "name"),
        ("rules", 1, "channels", 0),
    ]


def test_what_the_document_says_wins_over_the_channels_defaults():
    policy = Policy.model_validate({"weights": {"phone": 5}, "consent": {"email": "opt_out"}})
    assert (policy.weights, policy.consent) == ({"phone": 5}, {"email": "opt_out"})
    completed = policy.with_defaults(
        weights={"email": 1, "phone": 3}, consent={"email": "opt_in", "phone": "opt_out"}
    )
    assert completed.weights == {"email": 1, "phone": 5}
    assert completed.consent == {"email": "opt_out", "phone": "opt_out"}


def test_the_history_a_decision_needs_is_the_longest_cap_window_or_gap():
    policy = Policy.model_validate(
        {"rules": [
            {"type": "cap", "name": "weekly", "max": 4, "window": "P7D"},
            {**GAP, "name": "apart", "gap": "P10D"},
            {"type": "quiet_hours", "name": "days", "allow": [
                {"days": ["*"], "from": "08:00", "to": "21:00"}]},
        ]}
    )  # fmt: skip
    assert policy.longest_window == timedelta(days=10)
    assert Policy().longest_window == timedelta(0)


def test_a_weighted_cap_reads_its_points_and_frees_for_its_lightest_channel():
    cap = CapRule.model_validate(
        {"type": "cap", "name": "weekly", "max": 4, "window": "P7D", "unit": "weight",
         "channels": ["email", "phone"]}
    )  # fmt: skip
    history = History(
        [CountedTouch("phone", NOW - timedelta(days=6), 3), CountedTouch("email", NOW, 1)]
    )
    costs = {"email": 1, "phone": 3, "dm": 0.5}  # dm is not the cap's: it does not count
    assert cap.reading(history, costs, "Asia/Tokyo", NOW) == Reading(4, 4, NOW + timedelta(days=1))


def test_a_gap_reads_one_of_one_until_the_gap_has_passed():
    gap = MinGapRule.model_validate({**GAP, "name": "apart"})
    history = History([CountedTouch("email", NOW - timedelta(minutes=20), 1)])
    assert gap.reading(history, {}, "UTC", NOW) == Reading(1, 1, NOW + timedelta(minutes=40))
    assert gap.reading(History(), {}, "UTC", NOW) == Reading(0, 1, NOW)


def test_quiet_hours_count_nothing_and_read_when_they_open():
    quiet = QuietHoursRule.model_validate(
        {"type": "quiet_hours", "name": "mornings",
         "allow": [{"days": ["*"], "from": "11:00", "to": "12:00"}]}
    )  # fmt: skip
    opens = NOW + timedelta(hours=1)  # 11:00 in Tokyo
    assert quiet.reading(History(), {}, "Asia/Tokyo", NOW) == Reading(None, None, opens)
