"""Campaign validation: every rule, with every problem listed at its JSON path."""

from __future__ import annotations

from datetime import timedelta

import pytest

from channels.registry import channel_names
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
        ("body", "steps", 2, "type"),
        ("body", "steps", 3, "cases", 0, "when"),
        ("body", "steps", 4, "duration"),
        ("body", "steps", 5, "id"),
    }


@pytest.mark.parametrize(
    ("template", "where", "message"),
    [
        ({"subject": "Hi"}, (), "needs one of html, text"),
        ({"text": "x"}, ("subject",), "'subject' is missing"),
        ({"subject": "Hi", "text": "x", "body": "y"}, ("body",), "unknown template field 'body'"),
        ({"subject": "{{ oops", "text": "x"}, ("subject",), "'subject' does not compile"),
        ({"subject": "{% for %}", "text": "x"}, ("subject",), "does not compile"),
    ],
)
def test_templates_must_fit_their_channel_and_compile(template, where, message):
    ((loc, msg),) = problems_of(campaign(mail("m1", template=template)))
    assert loc == ("body", "steps", 0, "template", *where)
    assert message in msg


def test_sns_templates_name_a_known_network():
    step = {"id": "s", "type": "send", "channel": "sns",
            "template": {"network": "myspace", "message": "hi"}}  # fmt: skip
    ((loc, msg),) = problems_of(campaign(step))
    assert loc == ("body", "steps", 0, "template", "network")
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
         ("body", "schedule", "cron")),
        ({"cron": "0 10 * * funday", "audience": {"attribute": "a", "op": "exists"}},
         ("body", "schedule", "cron")),
        ({"cron": "0 10", "audience": {"attribute": "a", "op": "exists"}},
         ("body", "schedule", "cron")),
    ],
)  # fmt: skip
def test_schedules_need_a_valid_cron_and_zone(schedule, where):
    assert where in locations(campaign(mail("m1"), schedule=schedule))


def test_a_bad_cron_is_reported_beside_a_bad_zone_and_audience():
    schedule = {
        "cron": "99 * * * *",
        "timezone": "Mars/Base",
        "audience": {"attribute": "a", "op": "zz"},
    }
    assert locations(campaign(mail("m1"), schedule=schedule)) == {
        ("body", "schedule", "cron"),
        ("body", "schedule", "timezone"),
        ("body", "schedule", "audience", "op"),
    }


def test_a_step_that_cannot_be_read_leaves_reachability_unjudged():
    # The broken first step could have led to `c`: no "no path reaches step 'c'".
    steps = ["oops", {"id": "b", "type": "exit"}, {"id": "c", "type": "exit"}]
    assert locations(campaign(*steps)) == {("body", "steps", 0)}


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
    assert ("body", "throttle", "fax") in found
    assert ("body", "reentry", "cooldown") in found


@pytest.mark.parametrize(
    ("reentry", "where"),
    [({"cooldown": "30 days"}, ("body", "reentry", "cooldown")),
     ("sometimes", ("body", "reentry")),
     (5, ("body", "reentry"))],
)  # fmt: skip
def test_a_bad_reentry_is_one_problem_in_the_words_of_its_form(reentry, where):
    assert locations(campaign(mail("m1"), reentry=reentry)) == {where}


def test_nul_characters_are_refused_at_their_field_before_anything_is_stored():
    assert locations(campaign(mail("m1", template={"subject": "a\u0000", "text": "x"}))) == {
        ("body", "steps", 0, "template", "subject")
    }


def wait(step_id: str, **more) -> dict:
    return {"id": step_id, "type": "wait", "duration": "P1D", **more}


UNKNOWN_TYPE = (
    "unknown step type 'teleport'; known: branch, exit, send, split, wait, wait_for_event"
)
NOT_ISO = "a duration is an ISO 8601 string such as 'PT2H' or 'P3D'"
NO_FAX = f"unknown channel 'fax'; known: {', '.join(sorted(channel_names()))}"

#: A new user's first try: every kind of problem at once.
FIRST_TRY = campaign(
    mail("a", template={"subject": "{{ oops", "text": "x"}),
    {"id": "b", "type": "teleport", "next": "c"},
    wait("w", duration="3 days"),
    {"id": "f", "type": "send", "channel": "fax", "template": {"letter": "Dear {{ name }}"}},
    {"id": "a", "type": "exit"},
    wait("c", next="nowhere"),
    {"id": "d", "type": "branch",
     "cases": [{"when": {"event": "click", "step": "ghost"}, "next": "zzz"}]},
    wait("e", duration="PXYZ"),
)  # fmt: skip
FIRST_TRY_PROBLEMS = [
    (("body", "steps", 0, "template", "subject"),
     "template field 'subject' does not compile: line 1: unexpected end of template, "
     "expected 'end of print statement'."),
    (("body", "steps", 1, "type"), UNKNOWN_TYPE),
    (("body", "steps", 2, "duration"), NOT_ISO),
    (("body", "steps", 3, "channel"), NO_FAX),
    (("body", "steps", 4, "id"), "step id 'a' is used twice"),
    (("body", "steps", 5, "next"), "no step has the id 'nowhere'"),
    (("body", "steps", 6, "cases", 0, "next"), "no step has the id 'zzz'"),
    (("body", "steps", 6, "cases", 0, "when", "step"), "no step has the id 'ghost'"),
    (("body", "steps", 7, "duration"), NOT_ISO),
]  # fmt: skip


@pytest.mark.parametrize(
    ("definition", "expected"),
    [
        pytest.param(FIRST_TRY, FIRST_TRY_PROBLEMS, id="a first try"),
        pytest.param(
            campaign(mail("a"), wait("b"), mail("a"), mail("c")),
            [(("body", "steps", 2, "id"), "step id 'a' is used twice")],
            id="a duplicate id leaves the steps after it reachable",
        ),
        pytest.param(
            campaign(mail("a", next="bb"), mail("b"), mail("c", next="a", channel="fax")),
            [
                (("body", "steps", 0, "next"), "no step has the id 'bb'"),
                (("body", "steps", 2, "channel"), NO_FAX),
            ],
            id="a misspelt target leaves reachability and loops alone",
        ),
        pytest.param(
            campaign(
                wait("w", duration="soon", next="gone"),
                {"id": "t", "type": "teleport"},
                {"type": "wait", "duration": "P1D", "next": "w"},
                {
                    "id": "b",
                    "type": "branch",
                    "cases": [{"when": {"event": "click", "step": "w"}, "next": 5}],
                },
                {"id": "m", "type": "send", "channel": "fax", "template": {"x": "{{ y"}},
            ),
            [
                (("body", "steps", 0, "duration"), NOT_ISO),
                (("body", "steps", 0, "next"), "no step has the id 'gone'"),
                (("body", "steps", 1, "type"), UNKNOWN_TYPE),
                (("body", "steps", 2, "id"), "Field required"),
                (("body", "steps", 3, "cases", 0, "next"), "Input should be a valid string"),
                (("body", "steps", 3, "cases", 0, "when", "step"), "step 'w' is not a send step"),
                (("body", "steps", 4, "channel"), NO_FAX),
                (
                    ("body", "steps", 4, "template", "x"),
                    "template field 'x' does not compile: line 1: unexpected end of template, "
                    "expected 'end of print statement'.",
                ),
            ],
            id="broken steps still take part by their ids and targets",
        ),
        pytest.param(
            campaign(
                mail("m1"),
                {
                    "id": "b",
                    "type": "branch",
                    "default": "m1",
                    "cases": [{"when": {"attribute": "x", "op": "in", "value": 1}, "next": "end"}],
                },
                {"id": "end", "type": "exit"},
                {"id": "t", "type": "teleport", "next": "u"},
                {"id": "u", "type": "branch", "cases": [{"when": {"attribute": "x"}, "next": "t"}]},
                {
                    "id": "s",
                    "type": "split",
                    "variants": [
                        {"name": "A", "weight": 1, "next": "end"},
                        {"name": "A", "weight": 1, "next": "m1"},
                    ],
                },
            ),
            [
                (("body", "steps", 0), "the loop m1 → b → m1 has no wait or wait_for_event"),
                (("body", "steps", 1, "cases", 0, "when"), "`in` compares with a list of values"),
                (("body", "steps", 3, "type"), UNKNOWN_TYPE),
                (("body", "steps", 3), "no path reaches step 't'"),
                (("body", "steps", 4), "no path reaches step 'u'"),
                (("body", "steps", 5, "variants", 1, "name"), "variant name 'A' is used twice"),
                (("body", "steps", 5), "no path reaches step 's'"),
            ],
            id="loops through a step of unknown type are left until it is fixed",
        ),
        pytest.param(
            campaign(
                {"id": "x", "next": "y"},
                {"id": "y", "type": "send", "channel": "email", "template": {"html": "<p>"}},
                priority=-1,
                schedule={"cron": "0 10 * * *", "timezone": "Mars/Base", "audience": {}},
            ),
            [
                (("body", "priority"), "Input should be greater than or equal to 0"),
                (
                    ("body", "schedule", "timezone"),
                    "'Mars/Base' is not an IANA time zone (for example 'Asia/Tokyo')",
                ),
                (
                    ("body", "schedule", "audience"),
                    "a condition has one of the keys "
                    "all, any, not, consent, event, attribute, field",
                ),
                (("body", "steps", 0, "type"), "Field required"),
                (
                    ("body", "steps", 1, "template", "subject"),
                    "template field 'subject' is missing",
                ),
            ],
            id="campaign fields and steps together",
        ),
        pytest.param(
            campaign(
                mail("m"),
                {
                    "id": "w",
                    "type": "wait_for_event",
                    "timeout": "P1D",
                    "cases": [{"when": {"event": "", "step": "m"}, "next": "m"}],
                },
                {
                    "id": "b",
                    "type": "branch",
                    "cases": [{"when": {"not": {"event": "", "step": "w"}}, "next": "m"}],
                },
            ),
            [
                (
                    ("body", "steps", 1, "cases", 0, "when", "event"),
                    "String should have at least 1 character",
                ),
                (
                    ("body", "steps", 2, "cases", 0, "when", "not", "event"),
                    "String should have at least 1 character",
                ),
                (
                    ("body", "steps", 2, "cases", 0, "when", "not", "step"),
                    "step 'w' is not a send step",
                ),
            ],
            id="fields of event conditions, plain or in a branch",
        ),
    ],
)
def test_every_problem_is_listed_at_once_at_its_field(definition, expected):
    assert problems_of(definition) == expected
