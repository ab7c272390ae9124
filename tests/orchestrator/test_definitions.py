"""Campaign validation: every rule, with every problem listed at its JSON path."""

from __future__ import annotations

from datetime import timedelta

import pytest

from orchestrator.campaign_checks import parse_campaign
from orchestrator.errors import InvalidInput


def mail(step_id: str, **more) -> dict:
    return {
        "id": step_id,
        "type": "send",
        "channel": "email",
        "template": {"subject": "Hi", "text": "Hello {{ contact.attributes.name }}"},
        **more,
    }


def campaign(*steps, **more) -> dict:
    return {"name": "Test", "steps": list(steps), **more}


def problems_of(definition: dict) -> list[tuple[tuple, str]]:
    with pytest.raises(InvalidInput) as caught:
        parse_campaign(definition)
    return [(tuple(p["loc"]), p["msg"]) for p in caught.value.errors]


def locations(definition: dict) -> set[tuple]:
    return {loc for loc, _ in problems_of(definition)}


def test_a_valid_campaign_parses_with_its_defaults():
    parsed = parse_campaign(campaign(mail("m1"), {"id": "w", "type": "wait", "duration": "P1W"}))
    assert parsed.priority == 50
    assert parsed.category == "marketing"
    assert parsed.reentry == "never"
    assert parsed.steps[0].max_delay == timedelta(days=7)
    assert parsed.steps[1].duration == timedelta(days=7)
    assert parsed.following("m1") == "w"
    assert parsed.following("w") is None


def test_structural_problems_are_listed_together_with_paths_as_sent():
    found = locations(
        campaign(
            {"id": "x", "type": "send", "channel": "fax", "template": {}},
            {"id": "y", "type": "wait"},
            {"id": "z", "type": "teleport"},
            {"id": "b", "type": "branch", "cases": [{"when": {"wat": 1}, "next": "x"}]},
            {"id": "w", "type": "wait", "duration": "PT0S"},
            {"id": "bad id!", "type": "exit"},
            priority=101,
        )
    )
    assert found == {
        ("body", "priority"),
        ("body", "steps", 0, "channel"),
        ("body", "steps", 1),
        ("body", "steps", 2),
        ("body", "steps", 3, "cases", 0, "when"),
        ("body", "steps", 4, "duration"),
        ("body", "steps", 5, "id"),
    }


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ({"subject": "Hi"}, "needs one of html, text"),
        ({"text": "x"}, "'subject' is missing"),
        ({"subject": "Hi", "text": "x", "body": "y"}, "unknown template field 'body'"),
        ({"subject": "{{ oops", "text": "x"}, "'subject' does not compile"),
        ({"subject": "{% for %}", "text": "x"}, "does not compile"),
    ],
)
def test_templates_must_fit_their_channel_and_compile(template, message):
    ((loc, msg),) = problems_of(campaign(mail("m1", template=template)))
    assert loc == ("body", "steps", 0)
    assert message in msg


def test_sns_templates_name_a_known_network():
    step = {"id": "s", "type": "send", "channel": "sns",
            "template": {"network": "myspace", "message": "hi"}}  # fmt: skip
    ((_, msg),) = problems_of(campaign(step))
    assert "network must be one of facebook, instagram, linkedin, x" in msg


@pytest.mark.parametrize("duration", ["3 days", "P", "-P1D", "PT0S", 86400])
def test_durations_are_positive_iso_8601(duration):
    found = locations(campaign({"id": "w", "type": "wait", "duration": duration}))
    assert found == {("body", "steps", 0, "duration")}


def test_a_wait_until_reads_a_time_of_day_and_weekdays():
    good = {"id": "w", "type": "wait", "until": {"time": "10:00", "days": ["mon", "fri"]}}
    assert parse_campaign(campaign(good)).steps[0].until.weekdays == {0, 4}
    bad = {"id": "w", "type": "wait", "until": {"time": "25:00", "days": ["someday"]}}
    assert locations(campaign(bad)) == {
        ("body", "steps", 0, "until", "time"),
        ("body", "steps", 0, "until", "days", 0),
    }


def test_duplicate_ids_and_missing_targets_are_named():
    found = problems_of(
        campaign(
            mail("m1", next="nowhere"),
            mail("m1"),
            {
                "id": "b",
                "type": "branch",
                "cases": [{"when": {"attribute": "x", "op": "eq", "value": 1}, "next": "gone"}],
                "default": "m1",
            },
        )
    )
    assert (("body", "steps", 1, "id"), "step id 'm1' is used twice") in found
    assert (("body", "steps", 0, "next"), "no step has the id 'nowhere'") in found
    assert (("body", "steps", 2, "cases", 0, "next"), "no step has the id 'gone'") in found


def test_steps_no_path_reaches_are_named():
    found = problems_of(
        campaign(mail("m1", next="end"), mail("lost"), {"id": "end", "type": "exit"})
    )
    assert found == [(("body", "steps", 1), "no path reaches step 'lost'")]


def test_a_loop_without_a_wait_is_refused_and_one_with_a_wait_is_fine():
    looping = campaign(
        mail("m1"),
        {"id": "b", "type": "branch", "cases": [
            {"when": {"event": "click", "step": "m1"}, "next": "end"}], "default": "m1"},
        {"id": "end", "type": "exit"},
    )  # fmt: skip
    ((loc, msg),) = problems_of(looping)
    assert loc == ("body", "steps", 0)
    assert "m1 → b → m1" in msg
    waiting = campaign(
        mail("m1"),
        {"id": "w", "type": "wait", "duration": "P7D"},
        {"id": "b", "type": "branch", "cases": [
            {"when": {"event": "click", "step": "m1"}, "next": "end"}], "default": "m1"},
        {"id": "end", "type": "exit"},
    )  # fmt: skip
    assert parse_campaign(waiting).steps[2].id == "b"


def test_event_conditions_must_name_a_send_step():
    found = problems_of(
        campaign(
            mail("m1"),
            {
                "id": "w",
                "type": "wait_for_event",
                "timeout": "P1D",
                "cases": [
                    {"when": {"event": "click", "step": "w"}, "next": "m2"},
                    {"when": {"event": "click", "step": "ghost"}, "next": "m2"},
                ],
            },
            mail("m2"),
        )
    )
    assert (
        ("body", "steps", 1, "cases", 0, "when", "step"),
        "step 'w' is not a send step",
    ) in found
    assert (("body", "steps", 1, "cases", 1, "when", "step"), "no step has the id 'ghost'") in found


def test_conditions_nest_and_are_checked_inside():
    branch = {"id": "b", "type": "branch", "default": "m1", "cases": [{"next": "m1", "when": {
        "all": [{"consent": "email", "is": "opted_in"},
                {"not": {"attribute": "tier", "op": "in", "value": "gold"}},
                {"any": [{"field": "locale", "op": "eq", "value": "ja-JP"}]}]}}]}  # fmt: skip
    found = problems_of(campaign(branch, mail("m1")))
    assert [loc for loc, _ in found] == [("body", "steps", 0, "cases", 0, "when", "all", 1, "not")]


@pytest.mark.parametrize(
    ("schedule", "where"),
    [
        ({"cron": "0 10 * * mon", "timezone": "Mars/Base", "audience": {"attribute": "a"}},
         ("body", "schedule", "timezone")),
        ({"cron": "61 10 * * *", "audience": {"attribute": "a", "op": "exists"}},
         ("body", "schedule")),
        ({"cron": "0 10 * * funday", "audience": {"attribute": "a", "op": "exists"}},
         ("body", "schedule")),
        ({"cron": "0 10", "audience": {"attribute": "a", "op": "exists"}},
         ("body", "schedule", "cron")),
    ],
)  # fmt: skip
def test_schedules_need_a_valid_cron_and_zone(schedule, where):
    assert where in locations(campaign(mail("m1"), schedule=schedule))


def test_cron_weekday_numbers_mean_what_cron_means():
    parsed = parse_campaign(
        campaign(mail("m1"), schedule={"cron": "0 10 * * 1-5", "audience": {"attribute": "a"}})
    )
    from orchestrator.definitions import cron_trigger

    trigger = cron_trigger(parsed.schedule.cron, parsed.schedule.timezone)
    assert "mon-fri" in str(trigger)


def test_throttles_and_reentry_are_checked():
    found = locations(
        campaign(
            mail("m1"),
            throttle={"email": {"max": 0, "per": "P1D"}, "fax": {"max": 1, "per": "P1D"}},
            reentry={"cooldown": "soon"},
        )
    )
    assert ("body", "throttle", "email", "max") in found
    assert ("body", "throttle", "fax", "[key]") in found
    assert any(loc[:2] == ("body", "reentry") for loc in found)


def test_nul_characters_are_refused_before_anything_is_stored():
    assert locations(campaign(mail("m1", template={"subject": "a\u0000", "text": "x"}))) == {
        ("body",)
    }
