"""Message templates: Jinja2 in its sandbox, compiled once per campaign version."""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any

from jinja2 import TemplateError as JinjaError
from jinja2 import TemplateSyntaxError, nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.sandbox import ImmutableSandboxedEnvironment

__all__ = [
    "MAX_OUTPUT_BYTES",
    "MAX_SOURCE_BYTES",
    "OverLimit",
    "TemplateError",
    "check_template",
    "render",
    "renders_in_linear_time",
]

#: The largest template field accepted, in UTF-8 bytes.
MAX_SOURCE_BYTES = 64 * 1024
#: The largest rendered field, in UTF-8 bytes.
MAX_OUTPUT_BYTES = 1024 * 1024
#: The largest constants a template may compute: text, and an integer Python still prints.
_MOST_CHARACTERS = 64 * 1024
_MOST_BITS = 14_000
#: How much of an expression an error message quotes.
_SHOWN = 80


class TemplateError(ValueError):
    """A template that does not compile or cannot be rendered."""


class OverLimit(TemplateError):
    """A render that went over a bound: its time, or the size of a field."""


class _RuntimeOnly(CodeGenerator):
    """Jinja2 computes constant expressions while it compiles, so `{{ 'a' * 10**9 }}` would
    take seconds and a gigabyte before anything is stored. Here only literal text is written
    out at compile time; every expression is computed when a touch is rendered, under the
    bounds rendering has."""

    def _output_child_to_const(self, node: nodes.Expr, frame: Frame, finalize: Any) -> str:
        if not isinstance(node, nodes.TemplateData):
            raise nodes.Impossible()
        return super()._output_child_to_const(node, frame, finalize)


class _Environment(ImmutableSandboxedEnvironment):
    code_generator_class = _RuntimeOnly


# Campaign authors are trusted less than code: the sandbox keeps templates from reaching
# Python internals, and nothing a template does can change the data it is given. The
# optimizer, which folds constants too, is off.
_text = _Environment(autoescape=False, optimized=False)
_html = _Environment(autoescape=True, optimized=False)


#: Every Jinja2 tag, expression and comment begins with it: text without it is the output.
_MARKUP = "{"

#: Compiled templates kept for rendering; a campaign's fields are a handful.
_CACHED = 256


def _environment(field: str) -> ImmutableSandboxedEnvironment:
    return _html if field == "html" else _text


@lru_cache(maxsize=_CACHED)
def _compiled(field: str, source: str) -> Any:
    return _environment(field).from_string(source)


_ARITHMETIC: dict[type[nodes.BinExpr], Callable[[Any, Any], Any]] = {
    nodes.Add: operator.add,
    nodes.Sub: operator.sub,
    nodes.Mul: operator.mul,
    nodes.Div: operator.truediv,
    nodes.FloorDiv: operator.floordiv,
    nodes.Mod: operator.mod,
    nodes.Pow: operator.pow,
}


class _Unknown:
    """The value of an expression that depends on the contact."""


_UNKNOWN = _Unknown()


def _constant(node: nodes.Node, known: dict[int, Any]) -> Any:
    """The value of a constant arithmetic expression, computed only where the result stays
    small; `_UNKNOWN` for anything else. Raises TemplateError where computing it at render
    time would fail for every contact (`1/0`) or exceed the bounds (`'a' * 10**9`)."""
    if id(node) in known:
        return known[id(node)]
    value: Any = _UNKNOWN
    if isinstance(node, nodes.Const) and isinstance(node.value, int | float | str):
        value = node.value
    elif isinstance(node, nodes.Neg | nodes.Pos):
        operand = _constant(node.node, known)
        if isinstance(operand, int | float) and not isinstance(operand, bool):
            value = -operand if isinstance(node, nodes.Neg) else operand
    elif isinstance(node, nodes.BinExpr) and type(node) in _ARITHMETIC:
        left, right = _constant(node.left, known), _constant(node.right, known)
        if _UNKNOWN not in (left, right):
            value = _bounded(node, left, right)
    known[id(node)] = value
    return value


def _bounded(node: nodes.BinExpr, left: Any, right: Any) -> Any:
    expression = f"line {node.lineno}: `{left!r} {node.operator} {right!r}`"
    if len(expression) > _SHOWN:
        expression = f"line {node.lineno}: `... {node.operator} ...`"
    if isinstance(node, nodes.Mod) and isinstance(left, str):
        return _UNKNOWN  # formatting: its width is the renderer's to bound
    numbers = all(isinstance(side, int) for side in (left, right))
    if numbers and isinstance(node, nodes.Pow) and right > 0 and abs(left) > 1:
        bits = right * abs(left).bit_length()
    elif numbers and isinstance(node, nodes.Mul):
        bits = left.bit_length() + right.bit_length()
    else:
        bits = 0
    if bits > _MOST_BITS:
        raise TemplateError(f"{expression} makes a number too large to print")
    if isinstance(node, nodes.Mul) and isinstance(right, str):
        left, right = right, left
    if isinstance(node, nodes.Mul) and isinstance(left, str) and isinstance(right, int):
        if len(left) * right > _MOST_CHARACTERS:
            raise TemplateError(f"{expression} makes text of {len(left) * right:,} characters")
    try:
        return _ARITHMETIC[type(node)](left, right)
    except (ArithmeticError, TypeError, ValueError) as exc:
        raise TemplateError(f"{expression} fails for every contact: {exc}") from exc


def check_template(field: str, source: str) -> None:
    """Raise TemplateError, with the line, if `source` is too large, does not compile, or
    computes a constant that fails or exceeds the bounds for every contact."""
    size = len(source.encode("utf-8", "surrogatepass"))
    if size > MAX_SOURCE_BYTES:
        raise TemplateError(f"it is {size:,} bytes; the limit is {MAX_SOURCE_BYTES:,}")
    environment = _environment(field)
    try:
        tree = environment.parse(source)
        environment.compile(tree)
    except TemplateSyntaxError as exc:
        raise TemplateError(f"line {exc.lineno}: {exc.message}") from exc
    except RecursionError as exc:
        raise TemplateError("its expressions are nested too deeply") from exc
    known: dict[int, Any] = {}
    for node in tree.find_all((nodes.BinExpr, nodes.UnaryExpr)):
        _constant(node, known)


#: What a template may use and still render in time linear in its source and the contact's
#: data: lookups, conditions, joins and a few filters. No loops, calls, arithmetic, slices
#: or macros.
_LINEAR_NODES = (
    nodes.Output,
    nodes.TemplateData,
    nodes.Const,
    nodes.Name,
    nodes.Getattr,
    nodes.Getitem,
    nodes.If,
    nodes.CondExpr,
    nodes.Compare,
    nodes.Operand,
    nodes.And,
    nodes.Or,
    nodes.Not,
    nodes.Concat,
    nodes.Filter,
    nodes.Test,
)
_LINEAR_FILTERS = frozenset(
    {"capitalize", "d", "default", "e", "escape", "lower", "string", "title", "trim", "upper"}
)
_LINEAR_TESTS = frozenset({"defined", "none", "number", "string", "undefined"})


@lru_cache(maxsize=_CACHED)
def _linear(field: str, source: str) -> bool:
    try:
        tree = _environment(field).parse(source)
    except TemplateSyntaxError:
        return False
    for node in tree.find_all(nodes.Node):
        if not isinstance(node, _LINEAR_NODES):
            return False
        if isinstance(node, nodes.Filter) and node.name not in _LINEAR_FILTERS:
            return False
        if isinstance(node, nodes.Test) and node.name not in _LINEAR_TESTS:
            return False
    return True


def renders_in_linear_time(template: Mapping[str, str]) -> bool:
    """Whether every field is plain text or only looks values up (`Hello {{ contact.name }}`),
    so rendering it costs about as much as reading it; loops, calls and arithmetic do not."""
    return all(
        _MARKUP not in source or _linear(field, source) for field, source in template.items()
    )


def render(
    template: Mapping[str, str], context: Mapping[str, Any], *, most: int = MAX_OUTPUT_BYTES
) -> dict[str, str]:
    """Every field of a step's template rendered for one contact (`html` autoescaped); a
    field over `most` UTF-8 bytes raises OverLimit."""
    try:
        return {
            field: _bounded_output(field, source, context, most) if _MARKUP in source else source
            for field, source in template.items()
        }
    except TemplateError:
        raise
    except MemoryError as exc:
        raise OverLimit("rendering ran out of memory") from exc
    except JinjaError as exc:
        raise TemplateError(str(exc)) from exc
    except Exception as exc:  # any failure of a template's own logic: 1 // 0, "a" + 1
        raise TemplateError(f"{type(exc).__name__}: {exc}") from exc


def _bounded_output(field: str, source: str, context: Mapping[str, Any], most: int) -> str:
    """The field rendered piece by piece, stopped as soon as it is over `most` bytes (a
    character is at least one byte), so a loop cannot build a huge text first."""
    pieces: list[str] = []
    characters = 0
    for piece in _compiled(field, source).generate(context):
        characters += len(piece)
        if characters > most:
            break
        pieces.append(piece)
    output = "".join(pieces)
    if characters > most or len(output.encode("utf-8", "surrogatepass")) > most:
        raise OverLimit(f"field {field!r} renders to more than {most:,} bytes")
    return output
