"""Templates are checked without computing what they would render: a constant that fails
or exceeds the bounds for every contact is refused, and nothing large is built to find out."""

from __future__ import annotations

import tracemalloc

import pytest

from orchestrator import templates
from orchestrator.templates import MAX_SOURCE_BYTES, TemplateError, check_template, render


def test_constant_expressions_are_left_to_rendering_not_folded_while_compiling():
    code = templates._environment("text").compile("{{ 'ab' * 3 }} {{ 6 * 7 }}", raw=True)
    assert "ababab" not in code
    assert "42" not in code
    assert render({"text": "{{ 'ab' * 3 }} {{ 6 * 7 }}"}, {}) == {"text": "ababab 42"}


def test_a_huge_repeat_is_refused_without_building_it():
    tracemalloc.start()
    try:
        with pytest.raises(TemplateError, match="makes text of 1,000,000,000 characters"):
            check_template("text", "{{ 'a' * 10**9 }}")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 10 * 2**20


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("{{ 1/0 }}", "line 1: `1 / 0` fails for every contact: division by zero"),
        ("a\n{{ 7 // (2 - 2) }}", "line 2: `7 // 0` fails for every contact"),
        ("{{ -1 % 0 }}", "fails for every contact"),
        ("{{ 'a' + 1 }}", "fails for every contact"),
        ("{{ 2 ** 100000 }}", "makes a number too large to print"),
        ("{{ (10 ** 4000) * (10 ** 4000) }}", "makes a number too large to print"),
    ],
)
def test_a_constant_that_fails_for_every_contact_is_refused(source, message):
    with pytest.raises(TemplateError, match=message.replace("(", r"\(").replace(")", r"\)")):
        check_template("text", source)


@pytest.mark.parametrize(
    "source",
    ["{{ 1 / contact.score }}", "{{ '%05d' % 3 }}", "{{ 2 ** 10 }} {{ 'ab' * 100 }}"],
)
def test_expressions_that_may_render_pass(source):
    check_template("text", source)


def test_a_source_over_the_limit_is_refused_with_its_size():
    check_template("text", "x" * MAX_SOURCE_BYTES)
    with pytest.raises(TemplateError, match="it is 65,537 bytes; the limit is 65,536"):
        check_template("text", "x" * (MAX_SOURCE_BYTES + 1))


def test_expressions_nested_too_deeply_are_refused_not_crashing():
    with pytest.raises(TemplateError, match="nested too deeply"):
        check_template("text", "{{ " + "(" * 5000 + "1" + ")" * 5000 + " }}")


def test_checking_keeps_no_compiled_template_and_the_cache_is_bounded():
    before = templates._compiled.cache_info()
    for n in range(50):
        check_template("text", f"{{{{ contact.n{n} }}}}")
    assert templates._compiled.cache_info().currsize == before.currsize
    assert before.maxsize is not None
    assert before.maxsize <= 256
