"""The contact's own preferences as a rule: caps per channel, channels switched off,
topics, and the property that no admitted touch breaks them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from policies import (
    Allow,
    Block,
    Candidate,
    ContactFacts,
    CountedTouch,
    Defer,
    History,
    Policy,
    evaluate,
)
from policies.preferences import PERIODS, Preferences
from policies.rules import PreferenceRule
from tests.policies.test_properties import CHANNELS, ZONES
from tests.policies.test_properties import policies as operator_policies

NOW = datetime(2026, 12, 5, 1, 0, tzinfo=UTC)  # 10:00 in Tokyo
EVERYTHING = dict.fromkeys(CHANNELS, "opted_in")
POLICY = Policy(topics=["新製品", "セミナー", "事例"]).with_preference_rule()


def facts(preferences: dict | None, *, zone: str = "Asia/Tokyo") -> ContactFacts:
    chosen = None if preferences is None else Preferences.model_validate(preferences)
    return ContactFacts(zone, consent=EVERYTHING, preferences=chosen)


def mail(topic: str | None = None, category: str = "marketing") -> Candidate:
    return Candidate("email", category, "sato@example.jp", topic=topic)  # type: ignore[arg-type]


def emails(*days_ago: float, category: str = "marketing") -> History:
    return History(
        CountedTouch("email", NOW - timedelta(days=d), 1, category)  # type: ignore[arg-type]
        for d in days_ago
    )


TWO_A_MONTH = {"channels": {"email": {"max": 2, "per": "month"}}}


def test_a_cap_a_month_defers_until_the_oldest_counted_mail_is_30_days_old():
    decision = evaluate(mail(), emails(29, 3), POLICY, facts(TWO_A_MONTH), NOW)
    assert isinstance(decision, Defer)
    assert decision.until == NOW + timedelta(days=1)
    assert decision.rule == "preference"
    assert decision.reason == (
        "preference: the customer asked for at most 2 emails a month; 2 used since "
        "2026-11-05 10:00 JST; next free 2026-12-06 10:00 JST."
    )


def test_a_cap_counts_only_marketing_touches_on_its_channel():
    history = emails(1, 2, category="transactional")
    history.add(CountedTouch("phone", NOW - timedelta(days=1), 3))
    assert evaluate(mail(), history, POLICY, facts(TWO_A_MONTH), NOW) == Allow()


def test_a_week_is_the_last_seven_days():
    one_a_week = {"channels": {"email": {"max": 1, "per": "week"}}}
    assert evaluate(mail(), emails(7), POLICY, facts(one_a_week), NOW) == Allow()
    held = evaluate(mail(), emails(6), POLICY, facts(one_a_week), NOW)
    assert isinstance(held, Defer)
    assert held.until == NOW + timedelta(days=1)
    assert "at most 1 email a week; 1 used since 2026-11-28 10:00 JST" in held.reason


def test_a_channel_switched_off_blocks_marketing_and_transactional_touches_alike():
    off = facts({"channels": {"email": {"allowed": False}}})
    for category in ("marketing", "transactional"):
        decision = evaluate(mail(category=category), History(), POLICY, off, NOW)
        assert decision == Block(
            "preference", "preference: the customer asked for nothing on email."
        )


def test_a_topic_the_contact_did_not_choose_blocks_marketing_of_that_topic_only():
    only_products = facts({"topics": ["新製品"]})
    blocked = evaluate(mail("セミナー"), History(), POLICY, only_products, NOW)
    assert isinstance(blocked, Block)
    assert blocked.rule == "preference"
    assert blocked.reason.startswith(
        "preference: the customer did not choose the topic セミナー (chose: 新製品)"
    )
    assert evaluate(mail("新製品"), History(), POLICY, only_products, NOW) == Allow()
    assert evaluate(mail(None), History(), POLICY, only_products, NOW) == Allow()
    news = mail("セミナー", category="transactional")
    assert evaluate(news, History(), POLICY, only_products, NOW) == Allow()


def test_no_topics_chosen_blocks_every_campaign_with_a_topic():
    nothing = facts({"topics": []})
    assert isinstance(evaluate(mail("事例"), History(), POLICY, nothing, NOW), Block)
    assert evaluate(mail(), History(), POLICY, nothing, NOW) == Allow()


def test_transactional_touches_skip_the_contacts_caps():
    decision = evaluate(
        mail(category="transactional"), emails(1, 2, 3), POLICY, facts(TWO_A_MONTH), NOW
    )
    assert decision == Allow()


def test_the_preference_and_a_policy_cap_are_named_together_the_later_binding():
    policy = Policy.model_validate(
        {"rules": [{"type": "cap", "name": "weekly", "max": 1, "window": "P7D"}]}
    ).with_preference_rule()
    decision = evaluate(mail(), emails(29, 2), policy, facts(TWO_A_MONTH), NOW)
    assert isinstance(decision, Defer)
    assert decision.rule == "weekly"  # frees in 5 days, the preference in 1
    assert decision.until == NOW + timedelta(days=5)
    assert [hold.rule for hold in decision.also] == ["preference"]


def test_the_pressure_reading_shows_each_capped_channel():
    rule = PreferenceRule(type="preference")
    chosen = Preferences.model_validate(
        {"channels": {"email": {"max": 2, "per": "month"}, "phone": {"allowed": False}}}
    )
    readings = rule.readings(emails(29, 3), chosen, NOW)
    assert list(readings) == ["email"]
    assert readings["email"] == (2, 2, NOW + timedelta(days=1))


def test_the_completed_policy_always_ends_with_the_preference_rule_once():
    policy = Policy.model_validate({"rules": [{"type": "min_gap", "name": "apart", "gap": "P1D"}]})
    completed = policy.with_preference_rule()
    assert [rule.type for rule in completed.rules] == ["min_gap", "preference"]
    assert completed.longest_window == timedelta(days=30)
    assert completed.with_preference_rule() == completed
    placed = Policy.model_validate({"rules": [{"type": "preference"}]}).with_preference_rule()
    assert [rule.type for rule in placed.rules] == ["preference"]


@pytest.mark.parametrize(
    ("document", "where"),
    [
        ({"rules": [{"type": "preference", "channels": ["email"]}]}, ("rules", 0, "preference")),
        (
            {"rules": [{"type": "min_gap", "name": "preference", "gap": "P1D"}]},
            ("rules", 0, "name"),
        ),
        ({"topics": ["事例", "事例"]}, ("topics", 1)),
    ],
)
def test_a_policy_can_neither_narrow_the_preference_rule_nor_take_its_name(document, where):
    with pytest.raises(ValidationError) as raised:
        Policy.model_validate(document)
    assert [tuple(error["loc"]) for error in raised.value.errors()] == [where]


@pytest.mark.parametrize(
    "shape",
    [
        {"channels": {"email": {"max": 2}}},
        {"channels": {"email": {"per": "week"}}},
        {"channels": {"email": {"max": 0, "per": "week"}}},
        {"channels": {"email": {"max": 2, "per": "year"}}},
        {"topics": ["事例", "事例"]},
        {"paused": True},
    ],
)
def test_preferences_of_a_wrong_shape_are_refused(shape):
    with pytest.raises(ValidationError):
        Preferences.model_validate(shape)


# The property: whatever the operator's policy, however many campaigns ask on however many
# channels, no touch the policy admits breaks the contact's preferences, and a preference
# never lets through what the policy alone holds back.

TOPICS = ["新製品", "セミナー", "事例"]


def channel_choice(drawn: dict[str, Any]) -> dict[str, Any]:
    """`{"allowed": ..., "max": ..., "per": ...}` with what was drawn of them."""
    choice = {"allowed": drawn["allowed"]} if "allowed" in drawn else {}
    if "cap" in drawn:
        choice["max"], choice["per"] = drawn["cap"]
    return choice


channel_choices = st.fixed_dictionaries(
    {},
    optional={
        "allowed": st.booleans(),
        "cap": st.tuples(st.integers(1, 4), st.sampled_from(sorted(PERIODS))),
    },
).map(channel_choice)
preference_documents = st.fixed_dictionaries(
    {
        "channels": st.dictionaries(st.sampled_from(CHANNELS), channel_choices, max_size=4),
        "topics": st.one_of(st.none(), st.lists(st.sampled_from(TOPICS), unique=True, max_size=3)),
    }
)
asks = st.lists(
    st.tuples(
        st.integers(1, 3 * 24 * 60),  # minutes after the one before
        st.sampled_from(CHANNELS),
        st.sampled_from([None, *TOPICS]),
        st.sampled_from(["marketing", "marketing", "transactional"]),
    ),
    min_size=1,
    max_size=60,
)
PROPERTY = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def admitted_touches(policy, preferences, zone, requests):
    """Every touch the policy admits as campaigns ask one after the other."""
    contact = ContactFacts(zone, consent=EVERYTHING, preferences=preferences)
    history, admitted, now = History(), [], NOW
    for minutes, channel, topic, category in requests:
        now += timedelta(minutes=minutes)
        candidate = Candidate(channel, category, "address", topic=topic)
        if isinstance(evaluate(candidate, history, policy, contact, now), Allow):
            touch = CountedTouch(channel, now, policy.weight(channel), category)
            history.add(touch)
            admitted.append((touch, topic))
    return admitted


@PROPERTY
@given(operator_policies(), preference_documents, st.sampled_from(ZONES), asks)
def test_no_admitted_touch_breaks_a_preference(operator, document, zone, requests):
    preferences = Preferences.model_validate(document)
    admitted = admitted_touches(operator.with_preference_rule(), preferences, zone, requests)
    for touch, topic in admitted:
        chosen = preferences.channels.get(touch.channel)
        assert chosen is None or chosen.allowed
        if touch.category != "marketing":
            continue
        assert topic is None or preferences.topics is None or topic in preferences.topics
        if chosen is not None and chosen.window is not None:
            window, most = chosen.window, chosen.max or 0
            within = [
                other
                for other, _ in admitted
                if other.channel == touch.channel
                and other.category == "marketing"
                and touch.at - window < other.at <= touch.at
            ]
            assert len(within) <= most


@PROPERTY
@given(operator_policies(), preference_documents, st.sampled_from(ZONES), asks)
def test_a_preference_only_tightens_the_policy(operator, document, zone, requests):
    with_preferences = operator.with_preference_rule()
    preferences = Preferences.model_validate(document)
    contact = ContactFacts(zone, consent=EVERYTHING, preferences=preferences)
    without = ContactFacts(zone, consent=EVERYTHING)
    history, now = History(), NOW
    for minutes, channel, topic, category in requests:
        now += timedelta(minutes=minutes)
        candidate = Candidate(channel, category, "address", topic=topic)
        theirs = evaluate(candidate, history, with_preferences, contact, now)
        operators = evaluate(candidate, history, operator, without, now)
        if isinstance(theirs, Allow):
            assert isinstance(operators, Allow)
        if isinstance(operators, Block):
            assert isinstance(theirs, Block)
        if isinstance(theirs, Defer) and isinstance(operators, Defer):
            assert theirs.until >= operators.until
        if isinstance(operators, Allow):  # the history both share: the operator's admissions
            history.add(CountedTouch(channel, now, operator.weight(channel), category))
