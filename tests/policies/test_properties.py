"""Properties of `evaluate` over random histories, policies, zones and clocks.

The checks here read the rules the plain way (count the touches in the window, read the
contact's clock), independently of how `policies` finds its answers.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import holidays
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

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
from policies.rules import CapRule, MinGapRule, QuietHoursRule

CHANNELS = ("email", "phone", "dm", "sns")
ZONES = ("Asia/Tokyo", "America/New_York", "Europe/Berlin", "UTC")
# Near the DST changes of 2026 (US: Mar 8, Nov 1; EU: Mar 29, Oct 25) and Japan's holidays.
ANCHORS = [
    datetime(2026, 3, 8, 6, 0, tzinfo=UTC),
    datetime(2026, 3, 29, 0, 0, tzinfo=UTC),
    datetime(2026, 10, 25, 0, 0, tzinfo=UTC),
    datetime(2026, 11, 1, 5, 0, tzinfo=UTC),
    datetime(2026, 11, 22, 12, 0, tzinfo=UTC),
    datetime(2026, 4, 28, 12, 0, tzinfo=UTC),
]
JAPAN = holidays.country_holidays("JP")

durations = st.sampled_from(["PT1H", "PT6H", "PT24H", "P2D", "P7D", "P14D"])
channel_sets = st.one_of(
    st.just(["*"]), st.lists(st.sampled_from(CHANNELS), min_size=1, max_size=3, unique=True)
)
clock_times = st.sampled_from(
    ["00:00", "01:30", "02:00", "02:30", "03:00", "08:00", "09:00", "12:00", "19:00", "21:00",
     "22:30", "24:00"]
)  # fmt: skip
windows = st.builds(
    lambda days, start, end: {"days": days, "from": start, "to": end},
    st.one_of(
        st.just(["*"]),
        st.lists(
            st.sampled_from(["mon", "tue", "wed", "thu", "fri", "sat", "sun"]),
            min_size=1,
            unique=True,
        ),
    ),
    clock_times,
    clock_times,
).filter(lambda w: w["from"] != w["to"])


@st.composite
def rules(draw):
    kind = draw(st.sampled_from(["cap", "min_gap", "quiet_hours"]))
    name = f"r{draw(st.integers(0, 10**6))}"
    if kind == "cap":
        return {"type": "cap", "name": name, "max": draw(st.integers(1, 6)),
                "window": draw(durations), "channels": draw(channel_sets),
                "unit": draw(st.sampled_from(["touches", "weight"]))}  # fmt: skip
    if kind == "min_gap":
        return {"type": "min_gap", "name": name, "gap": draw(durations),
                "channels": draw(channel_sets)}  # fmt: skip
    return {"type": "quiet_hours", "name": name, "channels": draw(channel_sets),
            "allow": draw(st.lists(windows, min_size=1, max_size=2)),
            "holidays": draw(st.sampled_from([None, "JP"]))}  # fmt: skip


@st.composite
def policies(draw):
    found = draw(st.lists(rules(), max_size=5, unique_by=lambda rule: rule["name"]))
    weights = {c: draw(st.integers(1, 3)) for c in CHANNELS}
    return Policy.model_validate({"weights": weights, "rules": found, "consent": {}})


@st.composite
def situations(draw):
    policy = draw(policies())
    now = draw(st.sampled_from(ANCHORS)) + timedelta(minutes=draw(st.integers(-3000, 3000)))
    ages = draw(st.lists(st.integers(1, 20 * 24 * 60), max_size=25))
    touches = [
        CountedTouch(ch := draw(st.sampled_from(CHANNELS)), now - timedelta(minutes=a),
                  policy.weight(ch))
        for a in ages
    ]  # fmt: skip
    channel = draw(st.sampled_from(CHANNELS))
    zone = draw(st.sampled_from(ZONES))
    return policy, touches, channel, zone, now


def decide(policy, touches, channel, zone, now, category="marketing"):
    candidate = Candidate(channel, category, "address")
    return evaluate(candidate, History(touches), policy, ContactFacts(zone), now)


def cap_holds(rule: CapRule, touches, channel, cost, now) -> bool:
    counted = [t for t in touches if now - rule.window < t.at <= now and rule.applies_to(t.channel)]
    used = sum(t.weight if rule.unit == "weight" else 1 for t in counted)
    return used + (cost if rule.unit == "weight" else 1) <= rule.max


def gap_holds(rule: MinGapRule, touches, now) -> bool:
    return not any(now - rule.gap < t.at <= now and rule.applies_to(t.channel) for t in touches)


def reads_open(rule: QuietHoursRule, zone: str, now: datetime) -> bool:
    """The contact's clock at `now` is within an allowed window begun on a working day."""
    local = now.astimezone(ZoneInfo(zone))
    clock, today = local.time(), local.date()
    yesterday = today - timedelta(days=1)

    def begun(day, window) -> bool:
        if rule.holidays and day in JAPAN:
            return False
        return "*" in window.days or ("mon tue wed thu fri sat sun".split()[day.weekday()]
                                      in window.days)  # fmt: skip

    for window in rule.allow:
        start, end = window.start, window.end
        if start < end and start <= clock < end and begun(today, window):
            return True
        if start > end and ((clock >= start and begun(today, window)) or
                            (clock < end and begun(yesterday, window))):  # fmt: skip
            return True
    return False


def all_rules_hold(policy: Policy, touches, channel, zone, now) -> bool:
    cost = policy.weight(channel)
    for rule in policy.rules:
        if not rule.applies_to(channel):
            continue
        if isinstance(rule, CapRule) and not cap_holds(rule, touches, channel, cost, now):
            return False
        if isinstance(rule, MinGapRule) and not gap_holds(rule, touches, now):
            return False
        if isinstance(rule, QuietHoursRule) and not reads_open(rule, zone, now):
            return False
    return True


SETTINGS = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(situations())
def test_an_allowed_touch_breaks_no_rule(situation):
    policy, touches, channel, zone, now = situation
    if isinstance(decide(*situation), Allow):
        assert all_rules_hold(policy, touches, channel, zone, now)


@SETTINGS
@given(situations())
def test_a_touch_every_rule_allows_is_allowed(situation):
    policy, touches, channel, zone, now = situation
    if all_rules_hold(policy, touches, channel, zone, now):
        assert decide(*situation) == Allow()


@SETTINGS
@given(situations())
def test_a_deferred_touch_goes_at_until_and_not_a_second_before(situation):
    policy, touches, channel, zone, now = situation
    decision = decide(*situation)
    assume(isinstance(decision, Defer))
    assert decision.until > now
    assert decide(policy, touches, channel, zone, decision.until) == Allow()
    assert all_rules_hold(policy, touches, channel, zone, decision.until)
    just_before = decision.until - timedelta(seconds=1)
    assert not isinstance(decide(policy, touches, channel, zone, just_before), Allow)
    assert not all_rules_hold(policy, touches, channel, zone, just_before)


@SETTINGS
@given(situations())
def test_transactional_touches_skip_exactly_caps_gaps_and_quiet_hours(situation):
    policy, touches, channel, zone, now = situation
    assert decide(policy, touches, channel, zone, now, category="transactional") == Allow()
    opted_out = ContactFacts(zone, consent={channel: "opted_out"})
    blocked = evaluate(
        Candidate(channel, "transactional", "address"), History(touches), policy, opted_out, now
    )
    assert isinstance(blocked, Block)
    assert blocked.rule == "consent"


def test_office_hours_hold_through_the_night_the_clocks_go_back():
    policy = Policy.model_validate({"consent": {}, "rules": [
        {"type": "quiet_hours", "name": "late", "allow": [
            {"days": ["*"], "from": "01:45", "to": "03:00"}]}]})  # fmt: skip
    # 2026-11-01 in New York: 01:00-02:00 happens twice (EDT, then EST).
    repeated_early = datetime(2026, 11, 1, 6, 10, tzinfo=UTC)  # 01:10 EST, the second time
    decision = decide(policy, [], "email", "America/New_York", repeated_early)
    assert isinstance(decision, Defer)
    assert decision.until == datetime(2026, 11, 1, 6, 45, tzinfo=UTC)  # 01:45 EST
    (rule,) = policy.rules
    assert isinstance(rule, QuietHoursRule)
    assert reads_open(rule, "America/New_York", decision.until)
    assert time(1, 45) == decision.until.astimezone(ZoneInfo("America/New_York")).time()


@SETTINGS
@given(situations())
def test_a_defer_binds_the_rule_that_frees_last_and_names_every_rule_holding_the_touch(situation):
    policy, touches, channel, zone, now = situation
    decision = decide(*situation)
    assume(isinstance(decision, Defer))
    names = [decision.rule, *(hold.rule for hold in decision.also)]
    assert len(set(names)) == len(names)
    for hold in decision.also:
        assert hold.free_at is not None
        assert now < hold.free_at <= decision.until
        assert f"{hold.rule}: " in decision.reason
    assert decision.reason.startswith(f"{decision.rule}: ")
    # every rule that does not allow the touch now is named
    for rule in policy.rules:
        if rule.applies_to(channel) and not all_rules_hold(
            policy.model_copy(update={"rules": [rule]}), touches, channel, zone, now
        ):
            assert rule.name in names
